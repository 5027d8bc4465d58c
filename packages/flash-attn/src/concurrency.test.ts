import { type HostTensor, resolveAttnProblem } from '@fa/core';
import { type AttnInputs, attnInputs, freshSeed, Random, smallCase } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createCpuBackendTuned } from './cpu/backend.js';
import { type Quantity, referenceMismatches } from './cpu/test-fixtures.js';
import { flashAttnVarlen, flashAttnVarlenBackward, registerBackend, type Tensor, tensor } from './index.js';

/**
 * Many calls at once through the façade, forward and backward: each gives the bits it gives alone, which are
 * the reference's values within the conformance tolerances, and nothing stays held afterwards. Some calls share
 * their input tensors, which the façade must upload once for all of them.
 */

const backend = createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0 });
registerBackend('cpu-concurrency', () => backend, { priority: -10 });
afterAll(async () => {
  await backend.destroy?.();
});

type Results = Record<Quantity, HostTensor>;

/** Forward and backward on `args` (tensors or host data), every result read back and disposed. */
async function run(
  inputs: AttnInputs,
  args: { q: Tensor | AttnInputs['q']; k: Tensor | AttnInputs['k']; v: Tensor | AttnInputs['v'] },
) {
  const options = { ...inputs.options, backend: 'cpu-concurrency', deterministic: true };
  const { out, lse } = await flashAttnVarlen(args.q, args.k, args.v, options);
  const grads = await flashAttnVarlenBackward(inputs.dout, args.q, args.k, args.v, out, lse, options);
  const tensors = { out, lse, ...grads };
  const hosts = await Promise.all(Object.values(tensors).map((t) => t.toHost()));
  for (const t of Object.values(tensors)) t.dispose();
  return Object.fromEntries(Object.keys(tensors).map((key, i) => [key, hosts[i]])) as Results;
}

function sameBits(a: Results, b: Results): string | null {
  for (const quantity of ['out', 'lse', 'dq', 'dk', 'dv'] as const) {
    const [x, y] = [a[quantity].data, b[quantity].data];
    const [bx, by] = [
      new Uint8Array(x.buffer, x.byteOffset, x.byteLength),
      new Uint8Array(y.buffer, y.byteOffset, y.byteLength),
    ];
    if (bx.length !== by.length) return `${quantity}: length`;
    for (let i = 0; i < bx.length; i++) if (bx[i] !== by[i]) return `${quantity}: byte ${i}`;
  }
  return null;
}

describe('concurrent calls on the cpu backend', () => {
  it('64 calls at once, forward and backward, each give the bits they give alone and the reference values', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const inputs = Array.from({ length: 56 }, (_, i) => attnInputs(smallCase(random, `#${i}`), seed + i));

    const alone: Results[] = [];
    for (const x of inputs) alone.push(await run(x, x));
    for (const [i, x] of inputs.entries()) {
      const problem = resolveAttnProblem(x.q, x.k, x.v, x.options);
      expect(referenceMismatches(x, alone[i] as Results, problem), `problem ${i}, seed ${seed}`).toEqual([]);
    }

    // 48 calls on host data, and 16 more in pairs sharing the same tensors (uploaded once, used twice).
    const shared = inputs.slice(48).map((x) => ({ q: tensor(x.q), k: tensor(x.k), v: tensor(x.v) }));
    const calls = [
      ...inputs.slice(0, 48).map((x, i) => ({ index: i, result: run(x, x) })),
      ...shared.flatMap((t, j) => [0, 1].map(() => ({ index: 48 + j, result: run(inputs[48 + j] as AttnInputs, t) }))),
    ];
    expect(calls.length).toBe(64);
    const together = await Promise.all(calls.map((c) => c.result));
    for (const [n, c] of calls.entries()) {
      expect(sameBits(together[n] as Results, alone[c.index] as Results), `call ${n}, seed ${seed}`).toBeNull();
    }

    // The shared tensors hold one handle each (three per pair), nothing else is held.
    expect(backend.stats().liveHandles).toBe(3 * shared.length);
    for (const t of shared) for (const x of [t.q, t.k, t.v]) x.dispose();
    expect(backend.stats()).toMatchObject({ liveHandles: 0, liveBytes: 0 });
  });
});
