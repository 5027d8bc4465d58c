import { type AttentionBackend, type HostTensor, isFaError, registerBackend, unregisterBackend } from '@fa/core';
import { getBackend } from '@fa/flash-attn';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng, randomParam } from '../test/helpers.js';
import {
  type AttentionOptions,
  attention,
  attentionKVPacked,
  attentionQKVPacked,
  withReferenceAttention,
} from './attention.js';
import { gradcheck } from './gradcheck.js';
import { noGrad, type Variable, variable } from './variable.js';

// Three sequences, one of them empty: attention must never cross from one to another.
const cu = Int32Array.of(0, 3, 3, 8);
// Float32 gradients measured against float64 finite differences: errors are ~1e-6 here.
const F32 = { atol: 1e-5, rtol: 1e-4 };

function qkv(seed: number, heads = 4, headsK = 2, dim = 8, dimV = 6, totalQ = 8, totalK = 8) {
  const rng = new Rng(seed);
  return [
    randomParam(rng, [totalQ, heads, dim]),
    randomParam(rng, [totalK, headsK, dim]),
    randomParam(rng, [totalK, headsK, dimV]),
  ] as [Variable, Variable, Variable];
}

const cases: Array<[string, Omit<AttentionOptions, 'cuSeqlensQ' | 'cuSeqlensK'>]> = [
  ['full attention', {}],
  ['causal', { causal: true }],
  ['a sliding window', { windowSize: [2, 1] }],
  ['a causal sliding window with a custom scale', { causal: true, windowSize: [1, 5], softmaxScale: 0.2 }],
  ['softcap', { softcap: 1.5 }],
  ['ALiBi', { alibiSlopes: Float32Array.of(0.5, 0.25, 0.125, 0.0625), causal: true }],
  ['dropout with a fixed seed', { dropoutP: 0.3, seed: 1234 }],
  [
    'everything at once',
    { causal: true, softcap: 2, alibiSlopes: Float32Array.of(0.3, 0.2, 0.1, 0), dropoutP: 0.2, seed: 7 },
  ],
];

describe('attention op: analytic gradients through the cpu backend (f32) vs the float64 reference', () => {
  it.each(cases)('%s, GQA (4 query heads over 2 key heads), head_dim_v ≠ head_dim', async (_, extra) => {
    const options = { cuSeqlensQ: cu, cuSeqlensK: cu, backend: 'cpu', ...extra };
    const result = await gradcheck((q, k, v) => attention(q, k, v, options), qkv(1), F32);
    expect(result.ok, result.message).toBe(true);
    expect(result.checked).toBe(8 * 4 * 8 + 8 * 2 * 8 + 8 * 2 * 6);
  });

  it('MQA with queries and keys of different lengths; rows that see no key pass no gradient', async () => {
    const options: AttentionOptions = {
      cuSeqlensQ: Int32Array.of(0, 4, 4, 6),
      cuSeqlensK: Int32Array.of(0, 2, 5, 8),
      causal: true,
      backend: 'cpu',
    };
    const [q, k, v] = qkv(2, 2, 1, 4, 4, 6, 8);
    const result = await gradcheck((a, b, c) => attention(a, b, c, options), [q, k, v], F32);
    expect(result.ok, result.message).toBe(true);

    const out = await attention(q, k, v, options);
    await out.backward(new Float64Array(out.size).fill(1));
    // Queries 0 and 1 of sequence 0 (4 queries, 2 keys, bottom-right aligned) sit before key 0.
    expect(Array.from(out.data.subarray(0, 2 * 2 * 4))).toEqual(new Array(16).fill(0));
    expect(Array.from(q.grad!.subarray(0, 2 * 2 * 4))).toEqual(new Array(16).fill(0));
    expect(q.grad!.subarray(16).some((g) => g !== 0)).toBe(true);
  });

  it('fails for a backend whose gradients are 0.1% off', async () => {
    registerBackend('slightly-off', async () => {
      const cpu = (await getBackend('cpu')) as AttentionBackend<HostTensor>;
      const off: AttentionBackend<HostTensor> = {
        ...cpu,
        name: 'slightly-off',
        destroy: undefined,
        backward: async (dout, q, k, v, out, lse, problem) => {
          const grads = await cpu.backward(dout, q, k, v, out, lse, problem);
          const dk = grads.dk.data as Float32Array;
          for (let i = 0; i < dk.length; i++) dk[i]! *= 1.001;
          return grads;
        },
      };
      return off as AttentionBackend;
    });
    try {
      const options = { cuSeqlensQ: cu, cuSeqlensK: cu, backend: 'slightly-off' };
      const result = await gradcheck((q, k, v) => attention(q, k, v, options), qkv(9), F32);
      expect(result.ok).toBe(false);
      expect(result.worst?.input).toBe(1);
    } finally {
      unregisterBackend('slightly-off');
    }
  });

  it('is float64 end to end inside withReferenceAttention (tight tolerances)', async () => {
    const options = { cuSeqlensQ: cu, cuSeqlensK: cu, causal: true, softcap: 3, dropoutP: 0.25, seed: 3 };
    const result = await withReferenceAttention(() => gradcheck((q, k, v) => attention(q, k, v, options), qkv(3)));
    expect(result.ok, result.message).toBe(true);
    expect(result.maxError).toBeLessThan(1e-7);
  });

  it("passes the façade's errors through, naming the argument", async () => {
    const [q, k, v] = qkv(10);
    const bad = { cuSeqlensQ: Int32Array.of(0, 3, 9), cuSeqlensK: cu, backend: 'cpu' };
    await expect(attention(q, k, v, bad)).rejects.toSatisfy(
      (e) => isFaError(e, 'E_CU_SEQLENS') && e.argument === 'cuSeqlensQ',
    );
    await expect(attention(q, k, v, { cuSeqlensQ: cu, cuSeqlensK: cu, backend: 'tpu' })).rejects.toSatisfy((e) =>
      isFaError(e, 'E_BACKEND_UNAVAILABLE'),
    );
  });

  it('wants a fixed seed for dropout on the reference', async () => {
    const [q, k, v] = qkv(4);
    const options = { cuSeqlensQ: cu, cuSeqlensK: cu, dropoutP: 0.5 };
    await expect(withReferenceAttention(() => attention(q, k, v, options))).rejects.toSatisfy((e) =>
      isFaError(e, 'E_VALUE'),
    );
  });
});

describe('packed attention ops', () => {
  it('qkv-packed self-attention: gradcheck, and the values of three separate tensors', async () => {
    const packed = randomParam(new Rng(5), [8, 3, 2, 4]);
    const options = { cuSeqlens: cu, causal: true, backend: 'cpu' };
    const result = await gradcheck((x) => attentionQKVPacked(x, options), [packed], F32);
    expect(result.ok, result.message).toBe(true);

    const [q, k, v] = [0, 1, 2].map((p) => {
      const data = new Float64Array(8 * 2 * 4);
      for (let t = 0; t < 8; t++) data.set(packed.data.subarray((t * 3 + p) * 8, (t * 3 + p + 1) * 8), t * 8);
      return variable(data, [8, 2, 4]);
    }) as [Variable, Variable, Variable];
    const separate = await attention(q, k, v, { cuSeqlensQ: cu, cuSeqlensK: cu, causal: true, backend: 'cpu' });
    const together = await noGrad(() => attentionQKVPacked(packed, options));
    expect(Array.from(together.data)).toEqual(Array.from(separate.data));
  });

  it('kv-packed cross-attention with GQA: gradcheck', async () => {
    const rng = new Rng(6);
    const q = randomParam(rng, [6, 4, 4]);
    const kv = randomParam(rng, [8, 2, 2, 4]);
    const options: AttentionOptions = {
      cuSeqlensQ: Int32Array.of(0, 2, 6),
      cuSeqlensK: Int32Array.of(0, 5, 8),
      causal: true,
      backend: 'cpu',
    };
    const result = await gradcheck((a, b) => attentionKVPacked(a, b, options), [q, kv], F32);
    expect(result.ok, result.message).toBe(true);
  });
});

describe('the backward of a forward run on a backend registered under another name', () => {
  it('runs on that backend', async () => {
    const { createCpuBackend } = await import('@fa/flash-attn/cpu');
    const aliased = createCpuBackend({ threads: 1 });
    registerBackend('cpu-by-another-name', () => aliased);
    try {
      const [q, k, v] = qkv(5).map((x) => variable(Float32Array.from(x.data), x.shape, { requiresGrad: true })) as [
        Variable,
        Variable,
        Variable,
      ];
      const out = await attention(q, k, v, { cuSeqlensQ: cu, cuSeqlensK: cu, backend: 'cpu-by-another-name' });
      await out.backward(new Float32Array(out.size).fill(1));
      expect(q.grad?.some((g) => g !== 0)).toBe(true);
      // Everything the call put on the backend is freed once the graph is released.
      expect(aliased.stats().liveHandles).toBe(0);
    } finally {
      unregisterBackend('cpu-by-another-name');
    }
  });
});

describe('what crosses to the backend', () => {
  const counts = { upload: 0, download: 0, forward: 0, backward: 0, dispose: 0 };
  registerBackend('counting', async () => {
    const cpu = (await getBackend('cpu')) as AttentionBackend;
    return {
      name: 'counting',
      capabilities: cpu.capabilities,
      upload: (t) => {
        counts.upload++;
        return cpu.upload(t);
      },
      download: (h, shape, dtype) => {
        counts.download++;
        return cpu.download(h, shape, dtype);
      },
      dispose: (h) => {
        counts.dispose++;
        cpu.dispose(h);
      },
      forward: (q, k, v, p) => {
        counts.forward++;
        return cpu.forward(q, k, v, p);
      },
      backward: (...args) => {
        counts.backward++;
        return cpu.backward(...args);
      },
    };
  });
  afterAll(() => unregisterBackend('counting'));

  it('forward: one kernel, q k v up, out down; backward: one kernel, dout up, dq dk dv down; all freed', async () => {
    const [q, k, v] = qkv(7).map((x) => variable(Float32Array.from(x.data), x.shape, { requiresGrad: true })) as [
      Variable,
      Variable,
      Variable,
    ];
    const out = await attention(q, k, v, { cuSeqlensQ: cu, cuSeqlensK: cu, backend: 'counting', dropoutP: 0.1 });
    expect(out.dtype).toBe('f32');
    expect(counts).toEqual({ upload: 3, download: 1, forward: 1, backward: 0, dispose: 0 });
    await out.backward(new Float32Array(out.size).fill(1));
    // out and lse stay on the backend for the backward: no recomputation, no second upload of q, k, v.
    expect(counts).toMatchObject({ upload: 4, download: 4, forward: 1, backward: 1 });
    // dout and dq, dk, dv, then q, k, v, out, lse once the graph is released.
    expect(counts.dispose).toBe(4 + 5);
    expect(q.grad?.length).toBe(q.size);
  });

  it('withReferenceAttention holds for its own call chain: a call started while the chain awaits runs on the backend', async () => {
    const options = { cuSeqlensQ: cu, cuSeqlensK: cu, backend: 'counting' };
    const [q, k, v] = qkv(11);
    let resume!: () => void;
    const suspended = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const before = counts.forward;
    const chain = withReferenceAttention(async () => {
      const first = await attention(q, k, v, options);
      await suspended;
      await new Promise((resolve) => setTimeout(resolve, 0));
      return [first, await attention(q, k, v, options)] as const;
    });
    // The chain is suspended now; this unrelated call did not start inside it.
    const unrelated = await attention(q, k, v, options);
    expect(counts.forward - before).toBe(1);
    resume();
    const [first, second] = await chain;
    // Both of the chain's calls ran on the float64 reference, before and after its awaits.
    expect(counts.forward - before).toBe(1);
    const reference = await withReferenceAttention(() => attention(q, k, v, options));
    expect(Array.from(first.data)).toEqual(Array.from(reference.data));
    expect(Array.from(second.data)).toEqual(Array.from(reference.data));
    expect(Array.from(unrelated.data)).not.toEqual(Array.from(reference.data));
    await attention(q, k, v, options);
    expect(counts.forward - before).toBe(2);
  });

  it('saves nothing under noGrad', async () => {
    const before = { ...counts };
    const [q, k, v] = qkv(8);
    await noGrad(() => attention(q, k, v, { cuSeqlensQ: cu, cuSeqlensK: cu, backend: 'counting' }));
    expect(counts.dispose - before.dispose).toBe(5);
  });
});
