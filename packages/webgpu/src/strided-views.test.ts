import { type FloatDType, registerBackend, resolveAttnProblem, unregisterBackend } from '@fa/core';
import {
  flashAttn,
  flashAttnBackward,
  flashAttnVarlen,
  flashAttnVarlenBackward,
  flashAttnVarlenKVPacked,
  flashAttnVarlenKVPackedBackward,
  flashAttnVarlenQKVPacked,
  flashAttnVarlenQKVPackedBackward,
  type Tensor,
  tensor,
  type VarlenOptions,
} from '@fa/flash-attn';
import {
  countingBackend,
  randomStorage as drawStorage,
  type FloatStorage,
  firstDifferentElement,
  gatherLayout,
  packedPartLayout,
  Random,
  storageBits,
  unpackParts,
} from '@fa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from './index.js';
import { chooseTileConfig } from './plan/config.js';

/**
 * The kernels read q, k and v through `problem.layouts`, so the parts of a packed qkv or kv (and any other view)
 * reach them as the caller's buffer itself. Whatever the layout, they must compute exactly what they compute on
 * the same values as separate dense tensors: the same bits, forward and backward, on the same backend. And with
 * `interleave`, the packed gradients and the padded lse never leave the device either: the same bits as the
 * façade's host-memory path, with no transfer at all.
 */

type Storage = FloatStorage;
/** The options of a call besides cu_seqlens and the backend: the same for the packed and the dense call. */
type Options = Omit<VarlenOptions, 'cuSeqlensQ' | 'cuSeqlensK' | 'backend'>;

interface Counted {
  readonly name: string;
  readonly inner: WebGpuBackend;
  readonly counts: { uploads: number; downloads: number };
}

const registered: string[] = [];
const created: WebGpuBackend[] = [];
afterAll(() => {
  for (const name of registered) unregisterBackend(name);
  for (const inner of created) inner.destroy();
});

interface Wrapping {
  /** The backend to wrap (default: a new one with `options`). */
  readonly inner?: WebGpuBackend;
  /** Whether the wrapper passes `interleave` on (default true); without it the façade interleaves in host memory. */
  readonly interleave?: boolean;
}

/** A webgpu backend registered as `name`, with every transfer through it counted. */
async function countedBackend(
  name: string,
  options: WebGpuBackendOptions = {},
  { inner: given, interleave = true }: Wrapping = {},
): Promise<Counted> {
  const inner = given ?? (await createWebGpuBackend(options));
  if (!given) created.push(inner);
  const { backend, counts } = countingBackend(inner, name, interleave);
  registerBackend(name, () => backend, { priority: -100 });
  registered.push(name);
  return { name, inner, counts };
}

const random = new Random(0x2545f491);
/** Values in [-1, 1), never zeros, encoded in `dtype`, from the testkit's generator. */
const randomStorage = (n: number, dtype: FloatDType) => drawStorage(random, n, dtype);
const gather = gatherLayout;
const packedPart = packedPartLayout;
const unpacked = unpackParts;

async function bitsOf(t: Tensor): Promise<Uint32Array | Uint16Array> {
  return storageBits((await t.toHost()).data as Storage);
}

async function expectSameBits(actual: Tensor | Storage, expected: Tensor, what: string): Promise<void> {
  const a = ArrayBuffer.isView(actual) ? storageBits(actual) : await bitsOf(actual);
  expect(firstDifferentElement(a, await bitsOf(expected)), `${what}: first differing element`).toBe(-1);
}

type Results = Record<'out' | 'lse' | 'dq' | 'dk' | 'dv', Tensor>;

/** Forward and backward on these q, k, v: every result. */
async function attention(q: Tensor, k: Tensor, v: Tensor, dout: Tensor, options: VarlenOptions): Promise<Results> {
  const { out, lse } = await flashAttnVarlen(q, k, v, options);
  return { out, lse, ...(await flashAttnVarlenBackward(dout, q, k, v, out, lse, options)) };
}

/** `actual` (tensors, or gradients unpacked from a packed one) has the bits of `expected`, result by result. */
async function expectSameResults(actual: Record<keyof Results, Tensor | Storage>, expected: Results): Promise<void> {
  for (const what of ['out', 'lse', 'dq', 'dk', 'dv'] as const)
    await expectSameBits(actual[what], expected[what], what);
}

function disposeAll(tensors: readonly (Tensor | Storage)[]): void {
  for (const t of tensors) if (!ArrayBuffer.isView(t)) t.dispose();
}

// Tokens with an empty sequence and lengths that leave partial tiles.
const CU = [0, 5, 5, 14, 17];
const T = 17;
const CU_K = [0, 7, 9, 16, 19];
const TK = 19;

/**
 * Self-attention on a resident `qkv: (T, 3, H, D)` through the packed entry points, against the same values as
 * three dense tensors on the same backend: out, lse and every gradient bit for bit. Nothing is moved: the kernels
 * read views of qkv, and the backend stacks the gradients into dqkv itself (`interleave`).
 */
async function checkQkvPacked(on: Counted, dtype: FloatDType, D: number, options: Options) {
  const { name, counts } = on;
  const H = 3;
  const qkvData = randomStorage(T * 3 * H * D, dtype);
  const qkv = await tensor(qkvData, [T, 3, H, D], dtype).to(name);
  const dout = await tensor(randomStorage(T * H * D, dtype), [T, H, D], dtype).to(name);
  counts.uploads = counts.downloads = 0;
  const { out, lse } = await flashAttnVarlenQKVPacked(qkv, { cuSeqlens: CU, ...options });
  expect(counts).toEqual({ uploads: 0, downloads: 0 });
  const { dqkv } = await flashAttnVarlenQKVPackedBackward(dout, qkv, out, lse, { cuSeqlens: CU, ...options });
  expect(counts).toEqual({ uploads: 0, downloads: 0 });
  expect(dqkv.backend).toBe(name);
  const [dq, dk, dv] = unpacked((await dqkv.toHost()).data as Storage, 3, [T, H, D]) as [Storage, Storage, Storage];

  const [q, k, v] = unpacked(qkvData, 3, [T, H, D]).map((part) => tensor(part, [T, H, D], dtype)) as [
    Tensor,
    Tensor,
    Tensor,
  ];
  const dense = await attention(q, k, v, dout, { cuSeqlensQ: CU, cuSeqlensK: CU, backend: name, ...options });
  await expectSameResults({ out, lse, dq, dk, dv }, dense);
  disposeAll([qkv, dout, out, lse, dqkv, q, k, v, ...Object.values(dense)]);
}

/** Cross-attention with GQA on a resident `kv: (Tk, 2, Hk, D)`, against dense k and v, bit for bit; no transfer. */
async function checkKvPacked(on: Counted, dtype: FloatDType, D: number, options: Options) {
  const { name, counts } = on;
  const [H, Hk] = [4, 2];
  const kvData = randomStorage(TK * 2 * Hk * D, dtype);
  const q = await tensor(randomStorage(T * H * D, dtype), [T, H, D], dtype).to(name);
  const kv = await tensor(kvData, [TK, 2, Hk, D], dtype).to(name);
  const dout = await tensor(randomStorage(T * H * D, dtype), [T, H, D], dtype).to(name);
  const varlen = { cuSeqlensQ: CU, cuSeqlensK: CU_K, ...options };
  counts.uploads = counts.downloads = 0;
  const { out, lse } = await flashAttnVarlenKVPacked(q, kv, varlen);
  expect(counts).toEqual({ uploads: 0, downloads: 0 });
  const { dq, dkv } = await flashAttnVarlenKVPackedBackward(dout, q, kv, out, lse, varlen);
  expect(counts).toEqual({ uploads: 0, downloads: 0 });
  expect(dkv.backend).toBe(name);
  const [dk, dv] = unpacked((await dkv.toHost()).data as Storage, 2, [TK, Hk, D]) as [Storage, Storage];

  const [k, v] = unpacked(kvData, 2, [TK, Hk, D]).map((part) => tensor(part, [TK, Hk, D], dtype)) as [Tensor, Tensor];
  const dense = await attention(q, k, v, dout, { ...varlen, backend: name });
  await expectSameResults({ out, lse, dq, dk, dv }, dense);
  disposeAll([q, kv, dout, out, lse, dq, dkv, k, v, ...Object.values(dense)]);
}

/**
 * Views no packed tensor makes: q with padded head rows (`[T, H, D + 3]`) at an odd offset; k and v interleaved
 * in one storage at odd offsets, with an odd token stride and a head stride past D. GQA, causal.
 */
async function checkPaddedViews({ name }: Counted, dtype: FloatDType, D: number): Promise<void> {
  const [H, Hk] = [4, 2];
  const qLayout = { offset: 5, tokenStride: H * (D + 3), headStride: D + 3 };
  const kvRow = 2 * Hk * (D + 1) + 3;
  const kLayout = { offset: 1, tokenStride: kvRow, headStride: D + 1 };
  const vLayout = { offset: 1 + Hk * (D + 1), tokenStride: kvRow, headStride: D + 1 };
  const qStorage = randomStorage(qLayout.offset + T * qLayout.tokenStride + 2, dtype);
  const kvStorage = randomStorage(vLayout.offset + (T - 1) * kvRow + (Hk - 1) * (D + 1) + D + 1, dtype);
  const qOwner = tensor(qStorage, [qStorage.length], dtype);
  const kvOwner = tensor(kvStorage, [kvStorage.length], dtype);
  const q = qOwner.strided([T, H, D], qLayout);
  const k = kvOwner.strided([T, Hk, D], kLayout);
  const v = kvOwner.strided([T, Hk, D], vLayout);
  const dout = tensor(randomStorage(T * H * D, dtype), [T, H, D], dtype);
  const options = { cuSeqlensQ: CU, cuSeqlensK: CU, causal: true, backend: name };
  const viewed = await attention(q, k, v, dout, options);

  const denseQ = tensor(gather(qStorage, [T, H, D], qLayout), [T, H, D], dtype);
  const denseK = tensor(gather(kvStorage, [T, Hk, D], kLayout), [T, Hk, D], dtype);
  const denseV = tensor(gather(kvStorage, [T, Hk, D], vLayout), [T, Hk, D], dtype);
  const dense = await attention(denseQ, denseK, denseV, dout, options);
  await expectSameResults(viewed, dense);
  disposeAll([qOwner, kvOwner, dout, denseQ, denseK, denseV, ...Object.values(viewed), ...Object.values(dense)]);
}

const DTYPES: readonly FloatDType[] = ['f32', 'f16', 'bf16'];
// Head dims that are not multiples of the 32-wide padding, so rows end inside a chunk.
const HEAD_DIMS = [24, 40];

describe('webgpu kernels reading strided views', () => {
  let on: Counted;
  /** The same backend without `interleave`: the façade's host-memory path, to compare bits with. */
  let hostPath: Counted;
  beforeAll(async () => {
    on = await countedBackend('webgpu-views');
    hostPath = await countedBackend('webgpu-views-host-interleave', {}, { inner: on.inner, interleave: false });
  });

  it('say so in their capabilities', () => {
    expect(on.inner.capabilities.stridedInputs).toBe(true);
  });

  for (const dtype of DTYPES) {
    for (const D of HEAD_DIMS) {
      it(`qkv-packed, causal: the bits of dense q, k, v (${dtype}, D = ${D})`, async () => {
        await checkQkvPacked(on, dtype, D, { causal: true });
      });
      it(`kv-packed, GQA and a window: the bits of dense k, v (${dtype}, D = ${D})`, async () => {
        await checkKvPacked(on, dtype, D, { windowSize: [4, 1] });
      });
    }
    it(`padded head rows and odd offsets via Tensor.strided: the bits of dense tensors (${dtype})`, async () => {
      await checkPaddedViews(on, dtype, 24);
    });
  }

  it('qkv-packed with dropout: the bits of dense q, k, v', async () => {
    await checkQkvPacked(on, 'f32', 40, { causal: true, dropoutP: 0.25, seed: 11 });
  });

  it('a backward through views of a resident qkv moves no data either', async () => {
    const { name, inner, counts } = on;
    const [H, D] = [3, 24];
    const before = inner.stats().liveBuffers;
    const qkv = await tensor(randomStorage(T * 3 * H * D, 'f32'), [T, 3, H, D]).to(name);
    const dout = await tensor(randomStorage(T * H * D, 'f32'), [T, H, D]).to(name);
    const [q, k, v] = [0, 1, 2].map((p) => qkv.strided([T, H, D], packedPart(3, p, H, D))) as [Tensor, Tensor, Tensor];
    const options = { cuSeqlensQ: CU, cuSeqlensK: CU, causal: true };
    counts.uploads = counts.downloads = 0;
    const fwd = await flashAttnVarlen(q, k, v, options);
    const grads = await flashAttnVarlenBackward(dout, q, k, v, fwd.out, fwd.lse, options);
    expect(counts).toEqual({ uploads: 0, downloads: 0 });
    expect(grads.dq.backend).toBe(name);
    disposeAll([qkv, dout, fwd.out, fwd.lse, grads.dq, grads.dk, grads.dv]);
    expect(inner.stats().liveBuffers).toBe(before);
  });

  for (const dtype of DTYPES) {
    it(`qkv-packed forward and backward: no transfer, and dqkv has the bits of the host-memory path (${dtype})`, async () => {
      const [H, D] = [3, 24];
      const qkvData = randomStorage(T * 3 * H * D, dtype);
      const doutData = randomStorage(T * H * D, dtype);
      const options = { cuSeqlens: CU, causal: true };
      const run = async ({ name, counts }: Counted) => {
        const qkv = await tensor(qkvData, [T, 3, H, D], dtype).to(name);
        const dout = await tensor(doutData, [T, H, D], dtype).to(name);
        counts.uploads = counts.downloads = 0;
        const fwd = await flashAttnVarlenQKVPacked(qkv, options);
        const { dqkv } = await flashAttnVarlenQKVPackedBackward(dout, qkv, fwd.out, fwd.lse, options);
        return { moved: { ...counts }, dqkv, all: [qkv, dout, fwd.out, fwd.lse, dqkv] };
      };
      const before = on.inner.stats().liveBuffers;
      const [device, host] = [await run(on), await run(hostPath)];
      expect(device.moved).toEqual({ uploads: 0, downloads: 0 });
      expect(device.dqkv.backend).toBe(on.name);
      expect(host.moved.downloads).toBe(3); // dq, dk and dv, stacked in host memory
      await expectSameBits(device.dqkv, host.dqkv, 'dqkv');
      disposeAll([...device.all, ...host.all]);
      expect(on.inner.stats().liveBuffers).toBe(before);
    });
  }

  it('kv-packed backward: no transfer, and dq, dkv have the bits of the host-memory path (bf16, GQA)', async () => {
    const [H, Hk, D] = [4, 2, 40];
    const data = [T * H * D, TK * 2 * Hk * D, T * H * D].map((n) => randomStorage(n, 'bf16'));
    const options = { cuSeqlensQ: CU, cuSeqlensK: CU_K, windowSize: [4, 1] as [number, number] };
    const run = async ({ name, counts }: Counted) => {
      const [q, kv, dout] = await Promise.all(
        [
          [T, H, D],
          [TK, 2, Hk, D],
          [T, H, D],
        ].map((shape, i) => tensor(data[i] as Storage, shape, 'bf16').to(name)),
      );
      counts.uploads = counts.downloads = 0;
      const fwd = await flashAttnVarlenKVPacked(q as Tensor, kv as Tensor, options);
      const grads = await flashAttnVarlenKVPackedBackward(
        dout as Tensor,
        q as Tensor,
        kv as Tensor,
        fwd.out,
        fwd.lse,
        options,
      );
      return { moved: { ...counts }, ...grads, all: [q, kv, dout, fwd.out, fwd.lse, grads.dq, grads.dkv] as Tensor[] };
    };
    const [device, host] = [await run(on), await run(hostPath)];
    expect(device.moved).toEqual({ uploads: 0, downloads: 0 });
    expect(host.moved.downloads).toBe(2);
    await expectSameBits(device.dq, host.dq, 'dq');
    await expectSameBits(device.dkv, host.dkv, 'dkv');
    disposeAll([...device.all, ...host.all]);
  });

  for (const dtype of ['f32', 'f16'] as const) {
    it(`padded flashAttn and its backward: lse swapped on the device both ways, the bits of the host-memory path (${dtype})`, async () => {
      // Five heads: the forward's swap takes five parts of one lse buffer, the backward's three (one per sequence).
      const [batch, seqlenQ, seqlenK, H, Hk, D] = [3, 5, 7, 5, 1, 24];
      const shapes = [
        [batch, seqlenQ, H, D],
        [batch, seqlenK, Hk, D],
        [batch, seqlenK, Hk, D],
        [batch, seqlenQ, H, D],
      ];
      const data = shapes.map((shape) =>
        randomStorage(
          shape.reduce((a, b) => a * b),
          dtype,
        ),
      );
      const run = async ({ name, counts }: Counted) => {
        const [q, k, v, dout] = (await Promise.all(
          shapes.map((shape, i) => tensor(data[i] as Storage, shape, dtype).to(name)),
        )) as [Tensor, Tensor, Tensor, Tensor];
        counts.uploads = counts.downloads = 0;
        const fwd = await flashAttn(q, k, v, { causal: true });
        const grads = await flashAttnBackward(dout, q, k, v, fwd.out, fwd.lse, { causal: true });
        const results = { out: fwd.out, lse: fwd.lse, ...grads };
        return { moved: { ...counts }, results, all: [q, k, v, dout, ...Object.values(results)] };
      };
      const before = on.inner.stats().liveBuffers;
      const [device, host] = [await run(on), await run(hostPath)];
      expect(device.moved).toEqual({ uploads: 0, downloads: 0 });
      expect(device.results.lse.backend).toBe(on.name);
      expect(device.results.lse.shape).toEqual([batch, H, seqlenQ]);
      // The host path downloads the forward's lse to swap it (a host tensor), and uploads the backward's swap.
      expect(host.moved).toEqual({ uploads: 1, downloads: 1 });
      await expectSameResults(device.results, host.results);
      disposeAll([...device.all, ...host.all]);
      expect(on.inner.stats().liveBuffers).toBe(before);
    });
  }

  it('refuses a layout that reaches past its buffer, before any work', async () => {
    const { inner } = on;
    const [H, D] = [2, 8];
    const buffer = await inner.upload({ data: randomStorage(T * H * D, 'f32'), shape: [T, H, D], dtype: 'f32' });
    const meta = { shape: [T, H, D], dtype: 'f32' as const };
    const problem = resolveAttnProblem(meta, meta, meta, { cuSeqlensQ: CU, cuSeqlensK: CU });
    const shifted = { ...problem, layouts: { ...problem.layouts, k: { ...problem.layouts.k, offset: 1 } } };
    await expect(inner.forward(buffer, buffer, buffer, shifted)).rejects.toMatchObject({
      code: 'E_SHAPE',
      argument: 'k',
    });
    inner.dispose(buffer);
  });
});

describe('vec4 tiles reading strided views', () => {
  let on: Counted;
  beforeAll(async () => {
    on = await countedBackend('webgpu-views-vec4', { tilingLimits: { vec4: true } });
    for (const kind of ['forward', 'dq', 'dkdv'] as const) {
      expect(chooseTileConfig(kind, 24, 24, on.inner.tiling).vec4).toBe(true);
    }
  });

  // Offsets and strides all multiples of 4 (H · D = 72): what a vec4 load of the head dim would need.
  it('an aligned packed qkv: the bits of dense q, k, v', async () => {
    await checkQkvPacked(on, 'f32', 24, { causal: true });
  });

  // Tiles are vec4 in workgroup memory only; global loads stay scalar, so no layout needs alignment.
  it('misaligned views (odd offsets and strides): the bits of dense tensors', async () => {
    await checkPaddedViews(on, 'f16', 24);
    await checkPaddedViews(on, 'f32', 24);
  });
});
