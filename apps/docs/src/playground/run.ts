import { encodeFromFloat, type FloatDType, referenceAttnBackward } from '@fa/core';
import {
  flashAttn,
  flashAttnBackward,
  flashAttnVarlen,
  flashAttnVarlenBackward,
  getBackend,
  type Tensor,
  tensor,
} from '@fa/flash-attn';
import { type Layout, type PlaygroundInput, randomValues, SEEDS, sampleSequences } from './model.js';

export interface RunResult {
  readonly backend: string;
  readonly forwardMs: number;
  readonly backwardMs: number;
  /** How many leading sequences were checked against the reference. */
  readonly sampled: number;
  readonly sampledTokens: number;
  /** Max |backend − reference| over out, dq, dk and dv of the sampled sequences. */
  readonly maxError: number;
  /** The same batch padded to its longest sequence and run through `flashAttn`; null when it was too large. */
  readonly padded: PaddedTimes | null;
}

export interface PaddedTimes {
  readonly batch: number;
  readonly seqlen: number;
  readonly forwardMs: number;
  readonly backwardMs: number;
}

/** The padded comparison is skipped above this many forward FLOPs, so a skewed batch cannot stall the page. */
export const PADDED_FLOPS_LIMIT = 2e10;

function maxAbsDiff(got: Float32Array, want: Float64Array): number {
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs((got[i] as number) - (want[i] as number)));
  return max;
}

/**
 * Runs forward then backward on the backend, timing each up to the moment its results are back on the host, and
 * checks a prefix of the batch against @fa/core's float64 reference fed the same (dtype-rounded) inputs.
 */
export async function runOnBackend(layout: Layout, input: PlaygroundInput, backend: string): Promise<RunResult> {
  await getBackend(backend); // start it outside the timed region (WebGPU adapter, WebAssembly compile)
  // A backend's first call with a new kind of problem compiles its kernels (WebGPU pipelines take seconds on
  // SwiftShader). Timings should show the steady state, so that call runs once untimed on a tiny batch.
  const kind = [backend, input.dtype, input.heads, input.headDim, input.causal, input.windowLeft, input.windowRight];
  const key = kind.concat(input.softcap > 0).join('|');
  if (!warmed.has(key)) {
    await timedRun({ ...layout, cuSeqlens: Int32Array.of(0, 1), lengths: [1] }, input, backend, false);
    warmed.add(key);
  }
  const result = await timedRun(layout, input, backend, true);
  const padded = layout.paddedFlops <= PADDED_FLOPS_LIMIT ? await timedPaddedRun(layout, input, backend) : null;
  return { ...result, padded };
}

const warmed = new Set<string>();

async function timedRun(layout: Layout, input: PlaygroundInput, backend: string, check: boolean): Promise<RunResult> {
  const total = layout.cuSeqlens[layout.cuSeqlens.length - 1] as number;
  const shape = [total, input.heads, input.headDim];
  const size = total * input.heads * input.headDim;
  const dtype: FloatDType = input.dtype;
  const [qData, kData, vData, doutData] = [SEEDS.q, SEEDS.k, SEEDS.v, SEEDS.dout].map((seed) =>
    encodeFromFloat(randomValues(size, seed), dtype),
  );
  const owned: Tensor[] = [];
  const make = (data: Float32Array | Uint16Array) => {
    const t = tensor(data, shape, dtype);
    owned.push(t);
    return t;
  };
  try {
    const [q, k, v, dout] = [qData, kData, vData, doutData].map((d) => make(d!)) as [Tensor, Tensor, Tensor, Tensor];
    const options = { ...layout.options, cuSeqlensQ: layout.cuSeqlens, cuSeqlensK: layout.cuSeqlens, backend };
    let start = performance.now();
    const { out, lse } = await flashAttnVarlen(q, k, v, options);
    owned.push(out, lse);
    const outValues = await out.toArray();
    const forwardMs = performance.now() - start;
    start = performance.now();
    const grads = await flashAttnVarlenBackward(dout, q, k, v, out, lse, options);
    owned.push(grads.dq, grads.dk, grads.dv);
    const [dq, dk, dv] = await Promise.all([grads.dq.toArray(), grads.dk.toArray(), grads.dv.toArray()]);
    const backwardMs = performance.now() - start;

    if (!check) return { backend, forwardMs, backwardMs, sampled: 0, sampledTokens: 0, maxError: 0, padded: null };
    const sampled = sampleSequences(layout.lengths);
    const rows = layout.cuSeqlens[sampled] as number;
    const n = rows * input.heads * input.headDim;
    const part = (data: Float32Array | Uint16Array) => ({
      data: data.subarray(0, n),
      shape: [rows, input.heads, input.headDim],
      dtype,
    });
    const cu = layout.cuSeqlens.slice(0, sampled + 1);
    const ref = referenceAttnBackward(part(doutData!), part(qData!), part(kData!), part(vData!), {
      ...layout.options,
      cuSeqlensQ: cu,
      cuSeqlensK: cu,
    });
    const maxError = Math.max(
      maxAbsDiff(outValues, ref.out),
      maxAbsDiff(dq, ref.dq),
      maxAbsDiff(dk, ref.dk),
      maxAbsDiff(dv, ref.dv),
    );
    return { backend, forwardMs, backwardMs, sampled, sampledTokens: rows, maxError, padded: null };
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * The padded equivalent of the packed batch: every sequence zero-padded to the longest, `(batch, seqlen, H, D)`,
 * run through `flashAttn` / `flashAttnBackward` with the same options, timed the same way as the packed run.
 */
async function timedPaddedRun(layout: Layout, input: PlaygroundInput, backend: string): Promise<PaddedTimes> {
  const batch = layout.lengths.length;
  const seqlen = Math.max(1, ...layout.lengths);
  const row = input.heads * input.headDim;
  const total = layout.cuSeqlens[layout.cuSeqlens.length - 1] as number;
  const shape = [batch, seqlen, input.heads, input.headDim];
  const pad = (packed: Float32Array | Uint16Array) => {
    const out =
      packed instanceof Float32Array ? new Float32Array(batch * seqlen * row) : new Uint16Array(batch * seqlen * row);
    for (let b = 0; b < batch; b++) {
      const start = layout.cuSeqlens[b] as number;
      const end = layout.cuSeqlens[b + 1] as number;
      out.set(packed.subarray(start * row, end * row), b * seqlen * row);
    }
    return out;
  };
  const owned: Tensor[] = [];
  const make = (seed: number) => {
    const t = tensor(pad(encodeFromFloat(randomValues(total * row, seed), input.dtype)), shape, input.dtype);
    owned.push(t);
    return t;
  };
  try {
    const [q, k, v, dout] = [SEEDS.q, SEEDS.k, SEEDS.v, SEEDS.dout].map(make) as [Tensor, Tensor, Tensor, Tensor];
    const { cuSeqlensQ: _q, cuSeqlensK: _k, ...rest } = layout.options;
    const options = { ...rest, backend };
    let start = performance.now();
    const { out, lse } = await flashAttn(q, k, v, options);
    owned.push(out, lse);
    await out.toArray();
    const forwardMs = performance.now() - start;
    start = performance.now();
    const grads = await flashAttnBackward(dout, q, k, v, out, lse, options);
    owned.push(grads.dq, grads.dk, grads.dv);
    await Promise.all([grads.dq.toArray(), grads.dk.toArray(), grads.dv.toArray()]);
    const backwardMs = performance.now() - start;
    return { batch, seqlen, forwardMs, backwardMs };
  } finally {
    for (const t of owned) t.dispose();
  }
}
