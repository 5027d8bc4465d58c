import { type AttentionBackend, type HostTensor, isFaError, registerBackend, unregisterBackend } from '@fa/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createCpuBackend } from './cpu/index.js';
import {
  flashAttn,
  flashAttnBackward,
  flashAttnVarlen,
  flashAttnVarlenBackward,
  flashAttnVarlenKVPacked,
  flashAttnVarlenQKVPacked,
  flashAttnVarlenQKVPackedBackward,
  type Tensor,
  tensor,
} from './index.js';

/** The cpu backend with every transfer counted, its kernels reading views (or not, for the fallback). */
function countingBackend(name: string, stridedInputs: boolean) {
  const inner = createCpuBackend({ threads: 1 });
  const counts = { uploads: 0, downloads: 0 };
  const backend: AttentionBackend<HostTensor> = {
    ...inner,
    name,
    capabilities: { ...inner.capabilities, stridedInputs },
    upload: (t) => {
      counts.uploads++;
      return inner.upload(t);
    },
    download: (handle, shape, dtype) => {
      counts.downloads++;
      return inner.download(handle, shape, dtype);
    },
  };
  registerBackend(name, () => backend, { priority: -100 });
  return { backend, counts, stats: () => inner.stats() };
}

const viewing = countingBackend('cpu-counting-views', true);
const copying = countingBackend('cpu-counting-copies', false);
afterAll(() => {
  unregisterBackend('cpu-counting-views');
  unregisterBackend('cpu-counting-copies');
});

const [total, heads, dim] = [11, 3, 8];
const cuSeqlens = [0, 4, 4, 11];
const random = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const qkvData = random(total * 3 * heads * dim);
const doutData = random(total * heads * dim);

/** The three parts of the packed data as separate dense arrays, as a caller without packing would hold them. */
function parts(): Float32Array[] {
  return [0, 1, 2].map((p) => {
    const out = new Float32Array(total * heads * dim);
    for (let t = 0; t < total; t++) {
      out.set(qkvData.subarray((t * 3 + p) * heads * dim, (t * 3 + p + 1) * heads * dim), t * heads * dim);
    }
    return out;
  });
}

async function onBackend(name: string, data: Float32Array, shape: number[]): Promise<Tensor> {
  const host = tensor(data, shape);
  try {
    return await host.to(name);
  } finally {
    host.dispose();
  }
}

describe('packed inputs as strided views', () => {
  it('reach kernels that read layouts with no transfer at all: a resident qkv is neither downloaded nor uploaded', async () => {
    const qkv = await onBackend('cpu-counting-views', qkvData, [total, 3, heads, dim]);
    const dout = await onBackend('cpu-counting-views', doutData, [total, heads, dim]);
    viewing.counts.uploads = viewing.counts.downloads = 0;
    const fwd = await flashAttnVarlenQKVPacked(qkv, { cuSeqlens, causal: true });
    expect(viewing.counts).toEqual({ uploads: 0, downloads: 0 });
    expect(fwd.out.backend).toBe('cpu-counting-views');

    const [q, k, v] = parts().map((p) => tensor(p, [total, heads, dim])) as [Tensor, Tensor, Tensor];
    const dense = await flashAttnVarlen(q, k, v, {
      cuSeqlensQ: cuSeqlens,
      cuSeqlensK: cuSeqlens,
      causal: true,
      backend: 'cpu',
    });
    expect(await fwd.out.toArray()).toEqual(await dense.out.toArray());
    expect(await fwd.lse.toArray()).toEqual(await dense.lse.toArray());

    // The backward reads the views too, and the backend stacks the gradients into dqkv itself (`interleave`).
    viewing.counts.uploads = viewing.counts.downloads = 0; // the two toArray() above were downloads
    const { dqkv } = await flashAttnVarlenQKVPackedBackward(dout, qkv, fwd.out, fwd.lse, { cuSeqlens, causal: true });
    expect(viewing.counts).toEqual({ uploads: 0, downloads: 0 });
    expect(dqkv.backend).toBe('cpu-counting-views');
    const grads = await flashAttnVarlenBackward(tensor(doutData, [total, heads, dim]), q, k, v, dense.out, dense.lse, {
      cuSeqlensQ: cuSeqlens,
      cuSeqlensK: cuSeqlens,
      causal: true,
      backend: 'cpu',
    });
    const packed = await dqkv.toArray();
    const expected = [await grads.dq.toArray(), await grads.dk.toArray(), await grads.dv.toArray()];
    for (let t = 0; t < total; t++) {
      for (let p = 0; p < 3; p++) {
        const row = heads * dim;
        expect(packed.subarray((t * 3 + p) * row, (t * 3 + p + 1) * row)).toEqual(
          (expected[p] as Float32Array).subarray(t * row, (t + 1) * row),
        );
      }
    }
    for (const t of [qkv, dout, fwd.out, fwd.lse, dqkv, q, k, v, dense.out, dense.lse, grads.dq, grads.dk, grads.dv]) {
      t.dispose();
    }
    expect(viewing.stats()).toMatchObject({ liveHandles: 0 });
  });

  it('padded calls likewise: resident (batch, seqlen, heads, dim) inputs, lse swapped on the backend both ways', async () => {
    const [batch, seqlen] = [3, 5];
    const shape = [batch, seqlen, heads, dim];
    const [q, k, v, dout] = await Promise.all(
      [0, 1, 2, 3].map(() => onBackend('cpu-counting-views', random(batch * seqlen * heads * dim), shape)),
    );
    viewing.counts.uploads = viewing.counts.downloads = 0;
    const fwd = await flashAttn(q as Tensor, k as Tensor, v as Tensor, { causal: true });
    const grads = await flashAttnBackward(dout as Tensor, q as Tensor, k as Tensor, v as Tensor, fwd.out, fwd.lse, {
      causal: true,
    });
    expect(viewing.counts).toEqual({ uploads: 0, downloads: 0 });
    expect(fwd.lse.shape).toEqual([batch, heads, seqlen]);
    // The same lse, swapped in host memory from the varlen call's (heads, batch·seqlen).
    const flat = (t: Tensor) => t.reshape([batch * seqlen, heads, dim]);
    const cu = [0, seqlen, 2 * seqlen, 3 * seqlen];
    const varlen = await flashAttnVarlen(flat(q as Tensor), flat(k as Tensor), flat(v as Tensor), {
      cuSeqlensQ: cu,
      cuSeqlensK: cu,
      causal: true,
    });
    const byHead = await varlen.lse.toArray();
    const swapped = new Float32Array(byHead.length);
    for (let h = 0; h < heads; h++) {
      for (let b = 0; b < batch; b++) {
        swapped.set(byHead.subarray((h * batch + b) * seqlen, (h * batch + b + 1) * seqlen), (b * heads + h) * seqlen);
      }
    }
    expect(await fwd.lse.toArray()).toEqual(swapped);
    for (const t of [q, k, v, dout, fwd.out, fwd.lse, grads.dq, grads.dk, grads.dv, varlen.out, varlen.lse]) {
      (t as Tensor).dispose();
    }
  });

  it('kv-packed likewise: q and kv resident, no transfer', async () => {
    const q = await onBackend('cpu-counting-views', random(total * heads * dim), [total, heads, dim]);
    const kv = await onBackend('cpu-counting-views', random(total * 2 * heads * dim), [total, 2, heads, dim]);
    viewing.counts.uploads = viewing.counts.downloads = 0;
    const fwd = await flashAttnVarlenKVPacked(q, kv, { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens });
    expect(viewing.counts).toEqual({ uploads: 0, downloads: 0 });
    for (const t of [q, kv, fwd.out, fwd.lse]) t.dispose();
  });

  it('reach any other backend as dense copies, one read of the packed storage for all its parts, same bits', async () => {
    const viaViews = await flashAttnVarlenQKVPacked(tensor(qkvData, [total, 3, heads, dim]), {
      cuSeqlens,
      backend: 'cpu-counting-views',
    });
    const qkv = await onBackend('cpu-counting-copies', qkvData, [total, 3, heads, dim]);
    copying.counts.uploads = copying.counts.downloads = 0;
    const viaCopies = await flashAttnVarlenQKVPacked(qkv, { cuSeqlens });
    expect(copying.counts).toEqual({ uploads: 3, downloads: 1 });
    expect(await viaCopies.out.toArray()).toEqual(await viaViews.out.toArray());
    for (const t of [qkv, viaViews.out, viaViews.lse, viaCopies.out, viaCopies.lse]) t.dispose();
  });

  it('share the packed tensor’s lifetime and refuse to leave its storage', async () => {
    const qkv = tensor(qkvData, [total, 3, heads, dim]);
    const q = qkv.strided([total, heads, dim], { offset: 0, tokenStride: 3 * heads * dim, headStride: dim });
    expect(Array.from(await q.toArray())).toEqual(Array.from(parts()[0] as Float32Array));
    const past = () =>
      qkv.strided([total, heads, dim], { offset: 2 * heads * dim + 1, tokenStride: 3 * heads * dim, headStride: dim });
    expect(past).toThrow(/inside its/);
    const overlapping = () => qkv.strided([total, heads, dim], { offset: 0, tokenStride: dim, headStride: dim });
    expect(overlapping).toThrow(/apart/);
    qkv.dispose();
    const error = await q.toArray().catch((e: unknown) => e);
    expect(isFaError(error, 'E_DISPOSED')).toBe(true);
  });
});
