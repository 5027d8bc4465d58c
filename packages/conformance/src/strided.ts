import type { FloatHostTensor, HostTensor, TensorLayout } from '@fa/core';
import { type AttnCase, attnInputs, type CaseSpec, freshSeed, fullCase, Random } from '@fa/testkit';
import { describe, expect, it } from 'vitest';
import type { FacadeTensor, Target } from './facade.js';

/** A façade tensor that can make strided views of its storage (the internal `Tensor.strided`). */
interface ViewableTensor extends FacadeTensor {
  strided(shape: readonly [number, number, number], layout: TensorLayout): FacadeTensor;
}

/**
 * Cases for views: each dtype, head dims that leave rows unaligned, GQA with keys longer than queries, every option.
 * Shapes stay small; the dense conformance grid covers the numerics, this covers the addressing.
 */
const STRIDED_CASES: readonly CaseSpec[] = [
  { name: 'f32, causal', lengthsQ: [9, 0, 21], headDim: 24, causal: true },
  {
    name: 'f16, GQA 4/2, Lq < Lk, window',
    lengthsQ: [7, 12],
    lengthsK: [19, 30],
    numHeads: 4,
    numHeadsK: 2,
    headDim: 40,
    dtype: 'f16',
    windowSize: [5, 2],
  },
  {
    name: 'bf16, head_dim_v differs, softcap, ALiBi',
    lengthsQ: [13, 4],
    headDim: 20,
    headDimV: 12,
    dtype: 'bf16',
    softcap: 3,
    alibi: true,
  },
  { name: 'f32, dropout, odd head dim', lengthsQ: [11, 6], headDim: 17, dropoutP: 0.2 },
  {
    name: 'f16, MQA, several tiles',
    lengthsQ: [70, 5],
    numHeads: 3,
    numHeadsK: 1,
    headDim: 32,
    dtype: 'f16',
    causal: true,
  },
];

/**
 * Tensors of `(tokens, heads, dim)` placed inside one storage with gaps everywhere: an offset before the first
 * element, padding after each head row and after each token, the parts of a token side by side (as the parts of a
 * packed qkv, but never aligned). Returns the storage and each part's layout.
 */
function placeTogether(
  random: Random,
  parts: readonly FloatHostTensor[],
): { storage: HostTensor; layouts: TensorLayout[] } {
  const headPad = random.int(1, 3);
  const tokenPad = random.int(0, 5);
  const offset = random.int(1, 7);
  const widths = parts.map((p) => (p.shape[1] as number) * ((p.shape[2] as number) + headPad));
  const tokenStride = widths.reduce((a, b) => a + b, 0) + tokenPad;
  const tokens = parts[0]?.shape[0] as number;
  const first = parts[0] as FloatHostTensor;
  const Storage = first.data.constructor as new (n: number) => FloatHostTensor['data'];
  const data = new Storage(offset + Math.max(1, tokens) * tokenStride);
  // Fill the gaps with NaN (in each dtype's bits): a kernel that read one would poison its results.
  data.fill(first.dtype === 'f32' ? Number.NaN : first.dtype === 'f16' ? 0x7e00 : 0x7fc0);
  let start = offset;
  const layouts = parts.map((part, p) => {
    const [, heads, dim] = part.shape as [number, number, number];
    const layout = { offset: start, tokenStride, headStride: dim + headPad };
    for (let t = 0; t < tokens; t++) {
      for (let h = 0; h < heads; h++) {
        const from = (t * heads + h) * dim;
        data.set(
          part.data.subarray(from, from + dim) as never,
          layout.offset + t * tokenStride + h * layout.headStride,
        );
      }
    }
    start += widths[p] as number;
    return layout;
  });
  return { storage: { data, shape: [data.length], dtype: first.dtype } as HostTensor, layouts };
}

function bits(host: HostTensor): Uint32Array | Uint16Array {
  return host.data instanceof Float32Array ? new Uint32Array(host.data.buffer.slice(0)) : (host.data as Uint16Array);
}

/**
 * Views must read exactly what dense tensors hold: for each case, q alone and k with v side by side are placed in
 * storages with gaps (filled with NaN), and the forward and backward on those views must give the same bits as on
 * the dense tensors, on the same backend, with `deterministic: true`. Gaps that leaked into a kernel would turn
 * results into NaN. Backends without `stridedInputs` receive gathered copies, so this checks the façade's gather.
 */
export function describeStridedInputs({ facade, backend }: Target): void {
  const random = new Random(freshSeed());
  describe(`strided inputs: ${backend}`, () => {
    for (const spec of STRIDED_CASES) {
      it(spec.name, async () => {
        const seed = random.int(0, 2 ** 32 - 1);
        const c: AttnCase = fullCase(spec);
        const { q, k, v, dout, options } = attnInputs(spec, seed);
        const callOptions = { ...options, backend, deterministic: true };
        const place = new Random(seed ^ 0x5bd1e995);
        const qPlaced = placeTogether(place, [q]);
        const kvPlaced = placeTogether(place, [k, v]);
        const qStorage = facade.tensor(qPlaced.storage) as ViewableTensor;
        const kvStorage = facade.tensor(kvPlaced.storage) as ViewableTensor;
        const [totalQ, totalK] = [q.shape[0] as number, k.shape[0] as number];
        const views = [
          qStorage.strided([totalQ, c.numHeads, c.headDim], qPlaced.layouts[0] as TensorLayout),
          kvStorage.strided([totalK, c.numHeadsK, c.headDim], kvPlaced.layouts[0] as TensorLayout),
          kvStorage.strided([totalK, c.numHeadsK, c.headDimV], kvPlaced.layouts[1] as TensorLayout),
        ];
        const owned: FacadeTensor[] = [qStorage, kvStorage];
        try {
          const dense = await facade.flashAttnVarlen(q, k, v, callOptions);
          const strided = await facade.flashAttnVarlen(views[0], views[1], views[2], callOptions);
          owned.push(dense.out, dense.lse, strided.out, strided.lse);
          const denseGrads = await facade.flashAttnVarlenBackward(dout, q, k, v, dense.out, dense.lse, callOptions);
          const stridedGrads = await facade.flashAttnVarlenBackward(
            dout,
            views[0],
            views[1],
            views[2],
            strided.out,
            strided.lse,
            callOptions,
          );
          owned.push(denseGrads.dq, denseGrads.dk, denseGrads.dv, stridedGrads.dq, stridedGrads.dk, stridedGrads.dv);
          const pairs = [
            ['out', dense.out, strided.out],
            ['lse', dense.lse, strided.lse],
            ['dq', denseGrads.dq, stridedGrads.dq],
            ['dk', denseGrads.dk, stridedGrads.dk],
            ['dv', denseGrads.dv, stridedGrads.dv],
          ] as const;
          for (const [name, a, b] of pairs) {
            const [expected, actual] = [bits(await a.toHost()), bits(await b.toHost())];
            expect(expected.length, name).toBeGreaterThan(0);
            expect(actual, `${name} (case ${JSON.stringify(spec)}, seed ${seed})`).toEqual(expected);
          }
          expect((await stridedGrads.dq.toArray()).some(Number.isNaN), 'a gap was read as data').toBe(false);
        } finally {
          for (const t of owned) t.dispose();
        }
      });
    }
  });
}
