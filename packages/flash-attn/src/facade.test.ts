import { encodeFromFloat, type FaErrorCode, isFaError, referenceAttnForward } from '@fa/core';
import { describe, expect, it } from 'vitest';
import {
  flashAttn,
  flashAttnBackward,
  flashAttnVarlen,
  flashAttnVarlenBackward,
  flashAttnVarlenKVPacked,
  flashAttnVarlenKVPackedBackward,
  flashAttnVarlenQKVPacked,
  flashAttnVarlenQKVPackedBackward,
  listBackends,
  registerBackend,
  type Tensor,
  tensor,
} from './index.js';

function randomData(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.random() * 2 - 1 + 1e-3);
}

async function rejection(promise: Promise<unknown>): Promise<{ code: FaErrorCode; argument?: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isFaError(error)) throw new Error(`expected an FaError, received ${String(error)}`);
  return { code: error.code, argument: error.argument };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return a.length === b.length ? max : Number.POSITIVE_INFINITY;
}

const cuSeqlens = Int32Array.of(0, 5, 5, 12);

describe('backends', () => {
  it('lists the built-in cpu backend without starting it', () => {
    expect(listBackends().map((b) => b.name)).toContain('cpu');
  });

  it('runs on the cpu backend by default and keeps results there', async () => {
    const q = tensor(randomData(12 * 2 * 8), [12, 2, 8]);
    const { out, lse } = await flashAttnVarlen(q, q, q, { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens });
    expect(out.backend).toBe('cpu');
    expect(lse.shape).toEqual([2, 12]);
    expect(lse.dtype).toBe('f32');
  });

  it('names an unknown backend', async () => {
    const q = { data: randomData(12 * 2 * 8), shape: [12, 2, 8] };
    expect(
      await rejection(flashAttnVarlen(q, q, q, { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens, backend: 'tpu' })),
    ).toEqual({
      code: 'E_BACKEND_UNAVAILABLE',
      argument: 'backend',
    });
  });

  it('refuses a tensor that lives on another backend instead of copying it silently', async () => {
    registerBackend(
      'echo',
      async () => {
        const { createCpuBackend } = await import('./cpu/index.js');
        return { ...createCpuBackend(), name: 'echo' };
      },
      { priority: -1 },
    );
    const q = tensor(randomData(12 * 2 * 8), [12, 2, 8]);
    const { out } = await flashAttnVarlen(q, q, q, { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens, backend: 'cpu' });
    expect(
      await rejection(flashAttnVarlen(out, q, q, { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens, backend: 'echo' })),
    ).toEqual({
      code: 'E_BACKEND_MISMATCH',
      argument: 'q',
    });
  });
});

describe('backend of a call', () => {
  it('is the backend object its tensors live on, whatever name it was registered under', async () => {
    const { createCpuBackend } = await import('./cpu/index.js');
    const aliased = createCpuBackend({ threads: 1 });
    registerBackend('cpu-under-another-name', () => aliased, { priority: -1 });
    const q = tensor(randomData(12 * 2 * 8), [12, 2, 8]);
    const options = { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens };
    const { out, lse } = await flashAttnVarlen(q, q, q, { ...options, backend: 'cpu-under-another-name' });
    expect(aliased.stats().liveHandles).toBe(3);
    // No backend named: the call follows out and lse (their backend calls itself "cpu"), not the registry's "cpu";
    // q is already there and not uploaded again.
    const dout = { data: randomData(12 * 2 * 8), shape: [12, 2, 8] };
    const grads = await flashAttnVarlenBackward(dout, q, q, q, out, lse, options);
    expect(aliased.stats().liveHandles).toBe(6);
    for (const t of [q, out, lse, grads.dq, grads.dk, grads.dv]) t.dispose();
    expect(aliased.stats().liveHandles).toBe(0);
  });
});

describe('tensors', () => {
  it('decodes f16 and bf16 to float32 in toArray', async () => {
    const values = [0.5, -1.25, 3];
    for (const dtype of ['f16', 'bf16'] as const) {
      expect([...(await tensor(encodeFromFloat(values, dtype), [3], dtype).toArray())]).toEqual(values);
    }
  });

  it('is harmless to dispose twice and an error to use after dispose', async () => {
    const t = tensor(randomData(6), [2, 3]);
    const view = t.reshape([3, 2]);
    t.dispose();
    t.dispose();
    expect(view.disposed).toBe(true);
    expect(await rejection(view.toArray())).toEqual({ code: 'E_DISPOSED', argument: 'tensor' });
    const q = tensor(randomData(12 * 2 * 8), [12, 2, 8]);
    q.dispose();
    expect(await rejection(flashAttnVarlen(q, q, q, { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens }))).toEqual({
      code: 'E_DISPOSED',
      argument: 'q',
    });
  });

  it('rejects data that does not match its shape or dtype, naming the argument', async () => {
    expect(() => tensor(randomData(5), [2, 3])).toThrow(/Expected 6 elements for `data`/);
    const q = { data: randomData(12 * 2 * 8), shape: [12, 2, 8] };
    const bad = { data: new Uint16Array(12 * 2 * 8), shape: [12, 2, 8] };
    expect(await rejection(flashAttnVarlen(q, bad, q, { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens }))).toEqual({
      code: 'E_DTYPE',
      argument: 'k',
    });
  });
});

describe('validation at the edge', () => {
  const q = { data: randomData(12 * 4 * 16), shape: [12, 4, 16] };
  const kv = { data: randomData(12 * 2 * 16), shape: [12, 2, 16] };
  const base = { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens };
  it.each<[string, () => Promise<unknown>, FaErrorCode, string]>([
    [
      'non-monotonic cu_seqlens',
      () => flashAttnVarlen(q, kv, kv, { ...base, cuSeqlensQ: Int32Array.of(0, 7, 5, 12) }),
      'E_CU_SEQLENS',
      'cuSeqlensQ',
    ],
    [
      'cu_seqlens as a plain array with a fractional entry',
      () => flashAttnVarlen(q, kv, kv, { ...base, cuSeqlensK: [0, 5, 5.5, 12] }),
      'E_CU_SEQLENS',
      'cuSeqlensK',
    ],
    [
      'H % Hk != 0',
      () =>
        flashAttnVarlen(
          q,
          { data: randomData(12 * 3 * 16), shape: [12, 3, 16] },
          { data: randomData(12 * 3 * 16), shape: [12, 3, 16] },
          base,
        ),
      'E_SHAPE',
      'k',
    ],
    [
      'head dim over 256',
      () =>
        flashAttnVarlen(
          { data: randomData(12 * 257), shape: [12, 1, 257] },
          { data: randomData(12 * 257), shape: [12, 1, 257] },
          { data: randomData(12 * 257), shape: [12, 1, 257] },
          base,
        ),
      'E_UNSUPPORTED',
      'q',
    ],
    ['negative window', () => flashAttnVarlen(q, kv, kv, { ...base, windowSize: [-3, 2] }), 'E_VALUE', 'windowSize'],
    [
      'backward without the dropout seed',
      () =>
        flashAttnVarlenBackward(q, q, kv, kv, q, { data: randomData(48), shape: [4, 12] }, { ...base, dropoutP: 0.2 }),
      'E_VALUE',
      'seed',
    ],
    [
      'backward with lse of the wrong shape',
      () => flashAttnVarlenBackward(q, q, kv, kv, q, { data: randomData(12), shape: [1, 12] }, base),
      'E_SHAPE',
      'lse',
    ],
    ['missing options', () => flashAttnVarlen(q, kv, kv, undefined as never), 'E_VALUE', 'options'],
    ['a q that is not a tensor', () => flashAttnVarlen([1, 2, 3] as never, kv, kv, base), 'E_VALUE', 'q'],
  ])('%s', async (_, call, code, argument) => {
    expect(await rejection(call())).toEqual({ code, argument });
  });
});

describe('a misspelt option is an error, never a silent default', () => {
  const q = { data: randomData(12 * 4 * 16), shape: [12, 4, 16] };
  const kv = { data: randomData(12 * 2 * 16), shape: [12, 2, 16] };
  const qkv = { data: randomData(12 * 3 * 4 * 16), shape: [12, 3, 4, 16] };
  const kvPacked = { data: randomData(12 * 2 * 2 * 16), shape: [12, 2, 2, 16] };
  const lse = { data: randomData(4 * 12), shape: [4, 12] };
  const padded = { data: randomData(2 * 6 * 4 * 16), shape: [2, 6, 4, 16] };
  const base = { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens };

  async function message(promise: Promise<unknown>): Promise<string> {
    return promise.then(
      () => 'accepted',
      (e: unknown) => (isFaError(e) ? e.message : String(e)),
    );
  }

  it.each<[string, () => Promise<unknown>, string, string]>([
    ['varlen', () => flashAttnVarlen(q, kv, kv, { ...base, casual: true } as never), 'options.casual', 'causal'],
    [
      'varlen backward',
      () => flashAttnVarlenBackward(q, q, kv, kv, q, lse, { ...base, casual: true } as never),
      'options.casual',
      'causal',
    ],
    [
      'varlen backend',
      () => flashAttnVarlen(q, kv, kv, { ...base, backnd: 'cpu' } as never),
      'options.backnd',
      'backend',
    ],
    [
      'kv-packed',
      () => flashAttnVarlenKVPacked(q, kvPacked, { ...base, softCap: 5 } as never),
      'options.softCap',
      'softcap',
    ],
    [
      'qkv-packed given the varlen name of its offsets',
      () => flashAttnVarlenQKVPacked(qkv, { cuSeqlens, cuSeqlensQ: cuSeqlens } as never),
      'options.cuSeqlensQ',
      'cuSeqlens',
    ],
    [
      'qkv-packed backward',
      () => flashAttnVarlenQKVPackedBackward(q, qkv, q, lse, { cuSeqlens, maxSeqlenn: 7 } as never),
      'options.maxSeqlenn',
      'maxSeqlen',
    ],
    ['padded', () => flashAttn(padded, padded, padded, { casual: true } as never), 'options.casual', 'causal'],
  ])('%s', async (_, call, argument, suggestion) => {
    expect(await rejection(call())).toEqual({ code: 'E_VALUE', argument });
    expect(await message(call())).toContain(`did you mean \`${suggestion}\`?`);
  });

  it('a padded call given offsets it derives from the shape', async () => {
    const call = () => flashAttn(padded, padded, padded, { cuSeqlensQ: cuSeqlens } as never);
    expect(await rejection(call())).toEqual({ code: 'E_VALUE', argument: 'options.cuSeqlensQ' });
    expect(await message(call())).toMatch(/^Unknown key `options.cuSeqlensQ`: expected one of `softmaxScale`, /);
  });
});

describe('packed and padded entry points agree with varlen', () => {
  const [total, heads, dim] = [12, 2, 8];
  const qData = randomData(total * heads * dim);
  const kData = randomData(total * heads * dim);
  const vData = randomData(total * heads * dim);
  const doutData = randomData(total * heads * dim);
  const interleave = (parts: Float32Array[]) => {
    const inner = heads * dim;
    const out = new Float32Array(total * parts.length * inner);
    for (let i = 0; i < total; i++)
      parts.forEach((p, j) => out.set(p.subarray(i * inner, (i + 1) * inner), (i * parts.length + j) * inner));
    return out;
  };
  const options = { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens, causal: true };

  async function varlen() {
    const q = tensor(qData, [total, heads, dim]);
    const k = tensor(kData, [total, heads, dim]);
    const v = tensor(vData, [total, heads, dim]);
    const fwd = await flashAttnVarlen(q, k, v, options);
    const grads = await flashAttnVarlenBackward(
      tensor(doutData, [total, heads, dim]),
      q,
      k,
      v,
      fwd.out,
      fwd.lse,
      options,
    );
    return { fwd, grads };
  }

  it('qkv-packed', async () => {
    const expected = await varlen();
    const qkv = tensor(interleave([qData, kData, vData]), [total, 3, heads, dim]);
    const packedOptions = { cuSeqlens, causal: true };
    const fwd = await flashAttnVarlenQKVPacked(qkv, packedOptions);
    expect(maxDiff(await fwd.out.toArray(), await expected.fwd.out.toArray())).toBe(0);
    const { dqkv } = await flashAttnVarlenQKVPackedBackward(
      tensor(doutData, [total, heads, dim]),
      qkv,
      fwd.out,
      fwd.lse,
      packedOptions,
    );
    const g = expected.grads;
    expect(
      maxDiff(await dqkv.toArray(), interleave([await g.dq.toArray(), await g.dk.toArray(), await g.dv.toArray()])),
    ).toBe(0);
  });

  it('kv-packed', async () => {
    const expected = await varlen();
    const q = tensor(qData, [total, heads, dim]);
    const kv = tensor(interleave([kData, vData]), [total, 2, heads, dim]);
    const fwd = await flashAttnVarlenKVPacked(q, kv, options);
    expect(maxDiff(await fwd.lse.toArray(), await expected.fwd.lse.toArray())).toBe(0);
    const { dq, dkv } = await flashAttnVarlenKVPackedBackward(
      tensor(doutData, [total, heads, dim]),
      q,
      kv,
      fwd.out,
      fwd.lse,
      options,
    );
    expect(maxDiff(await dq.toArray(), await expected.grads.dq.toArray())).toBe(0);
    expect(
      maxDiff(await dkv.toArray(), interleave([await expected.grads.dk.toArray(), await expected.grads.dv.toArray()])),
    ).toBe(0);
  });

  it('padded (batch, seqlen, nheads, head_dim), with lse as (batch, nheads, seqlen)', async () => {
    const [batch, seqlen] = [3, 4];
    const uniform = Int32Array.of(0, 4, 8, 12);
    const q = tensor(qData, [batch, seqlen, heads, dim]);
    const k = tensor(kData, [batch, seqlen, heads, dim]);
    const v = tensor(vData, [batch, seqlen, heads, dim]);
    const padded = await flashAttn(q, k, v, { causal: true });
    expect(padded.out.shape).toEqual([batch, seqlen, heads, dim]);
    expect(padded.lse.shape).toEqual([batch, heads, seqlen]);
    const exact = referenceAttnForward(
      { data: qData, shape: [total, heads, dim], dtype: 'f32' },
      { data: kData, shape: [total, heads, dim], dtype: 'f32' },
      { data: vData, shape: [total, heads, dim], dtype: 'f32' },
      { cuSeqlensQ: uniform, cuSeqlensK: uniform, causal: true },
    );
    expect(maxDiff(await padded.out.toArray(), exact.out)).toBeLessThan(1e-5);
    const lse = await padded.lse.toArray();
    for (let b = 0; b < batch; b++)
      for (let h = 0; h < heads; h++)
        for (let s = 0; s < seqlen; s++)
          expect(lse[(b * heads + h) * seqlen + s]).toBeCloseTo(exact.lse[h * total + b * seqlen + s]!, 5);
    const dout = tensor(doutData, [batch, seqlen, heads, dim]);
    const grads = await flashAttnBackward(dout, q, k, v, padded.out, padded.lse, { causal: true });
    const varlenGrads = await flashAttnVarlenBackward(
      tensor(doutData, [total, heads, dim]),
      tensor(qData, [total, heads, dim]),
      tensor(kData, [total, heads, dim]),
      tensor(vData, [total, heads, dim]),
      tensor(await padded.out.toArray(), [total, heads, dim]),
      tensor(Float32Array.from(exact.lse), [heads, total]),
      { cuSeqlensQ: uniform, cuSeqlensK: uniform, causal: true },
    );
    expect(grads.dq.shape).toEqual([batch, seqlen, heads, dim]);
    expect(maxDiff(await grads.dk.toArray(), await varlenGrads.dk.toArray())).toBeLessThan(1e-5);
  });
});

describe('cu_seqlens as plain arrays', () => {
  const [total, heads, dim] = [12, 2, 8];
  const data = [randomData(total * heads * dim), randomData(total * heads * dim), randomData(total * heads * dim)];
  const dout = randomData(total * heads * dim);

  async function run(cuSeqlensQ: ArrayLike<number>, cuSeqlensK: ArrayLike<number>) {
    const [q, k, v] = data.map((d) => tensor(d, [total, heads, dim])) as [Tensor, Tensor, Tensor];
    const options = { cuSeqlensQ, cuSeqlensK, causal: true };
    const fwd = await flashAttnVarlen(q, k, v, options);
    const grads = await flashAttnVarlenBackward(tensor(dout, [total, heads, dim]), q, k, v, fwd.out, fwd.lse, options);
    return Promise.all([fwd.out, fwd.lse, grads.dq, grads.dk, grads.dv].map((t) => t.toArray()));
  }

  it('give the bits an Int32Array gives, forward and backward', async () => {
    const expected = await run(cuSeqlens, cuSeqlens);
    expect(await run([0, 5, 5, 12], [0, 5, 5, 12])).toEqual(expected);
    expect(await run(Float64Array.of(0, 5, 5, 12), Uint16Array.of(0, 5, 5, 12))).toEqual(expected);
  });

  it('serve the packed entry points too', async () => {
    const qkv = tensor(new Float32Array(total * 3 * heads * dim).map(Math.random), [total, 3, heads, dim]);
    const viaInt32 = await flashAttnVarlenQKVPacked(qkv, { cuSeqlens });
    const viaArray = await flashAttnVarlenQKVPacked(qkv, { cuSeqlens: [0, 5, 5, 12] });
    expect(await viaArray.out.toArray()).toEqual(await viaInt32.out.toArray());
  });

  it('keep the typed error naming the argument and the index of a bad entry', async () => {
    const [q, k, v] = data.map((d) => tensor(d, [total, heads, dim])) as [Tensor, Tensor, Tensor];
    for (const [bad, index] of [
      [[0, 5.5, 5, 12], 1],
      [[0, 5, Number.NaN, 12], 2],
      [[0, -5, 5, 12], 1],
      [[0, 5, 5, 2 ** 31], 3],
    ] as const) {
      const error = await flashAttnVarlen(q, k, v, { cuSeqlensQ: cuSeqlens, cuSeqlensK: bad }).catch((e) => e);
      expect(isFaError(error, 'E_CU_SEQLENS')).toBe(true);
      expect(error.argument).toBe('cuSeqlensK');
      expect(error.received).toContain(`cuSeqlensK[${index}]`);
    }
    const packed = await flashAttnVarlenQKVPacked(
      tensor(new Float32Array(total * 3 * heads * dim), [total, 3, heads, dim]),
      {
        cuSeqlens: [0, 5, 5.5, 12],
      },
    ).catch((e) => e);
    expect(packed).toMatchObject({ code: 'E_CU_SEQLENS', argument: 'cuSeqlens' });
  });
});
