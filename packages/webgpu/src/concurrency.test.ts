import { describeDeterminism } from '@fa/conformance';
import { registerBackend, unregisterBackend } from '@fa/core';
import * as fa from '@fa/flash-attn';
import { flashAttnVarlen, flashAttnVarlenBackward, type Tensor, type TensorInput, tensor } from '@fa/flash-attn';
import { freshSeed, Random } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import {
  compareWithReference,
  firstBitDifference,
  type Problem,
  type Results,
  smallProblem,
} from '../test/problems.js';
import { createWebGpuBackend, type WebGpuBackend } from './index.js';

/**
 * Many calls in flight on one device, and determinism: each call gives the bits it gives alone, those bits are
 * the reference's values within the conformance tolerances, and `deterministic: true` gives the same bits on
 * every run, concurrent runs and a second device included.
 */

const MIN_TILES = { workgroupStorageBytes: 16384, invocations: 64 };
const backends: WebGpuBackend[] = [];
function register(name: string, tilingLimits?: typeof MIN_TILES): void {
  registerBackend(
    name,
    async () => {
      const backend = await createWebGpuBackend(tilingLimits ? { tilingLimits } : {});
      backends.push(backend);
      return backend;
    },
    { priority: -10 },
  );
}
afterAll(() => {
  for (const backend of backends) backend.destroy();
  for (const name of ['webgpu-concurrency', 'webgpu-determinism', 'webgpu-determinism-again']) unregisterBackend(name);
});

const QUANTITIES = ['out', 'lse', 'dq', 'dk', 'dv'] as const;
type Quantity = (typeof QUANTITIES)[number];

/** Forward and backward on `args` (tensors or host data): every result's raw bits and values, all disposed. */
async function run(problem: Problem, args: { q: TensorInput; k: TensorInput; v: TensorInput }) {
  const options = { ...problem.options, backend: 'webgpu-concurrency', deterministic: true };
  const { out, lse } = await flashAttnVarlen(args.q, args.k, args.v, options);
  const grads = await flashAttnVarlenBackward(problem.dout, args.q, args.k, args.v, out, lse, options);
  const tensors: Record<Quantity, Tensor> = { out, lse, ...grads };
  const bits = {} as Record<Quantity, ArrayBufferView>;
  const values = {} as Record<Quantity, Float32Array>;
  for (const quantity of QUANTITIES) {
    bits[quantity] = (await tensors[quantity].toHost()).data;
    values[quantity] = await tensors[quantity].toArray();
    tensors[quantity].dispose();
  }
  return { bits, values: values as Results };
}

describe('concurrent calls on the webgpu backend', () => {
  it('64 calls in flight, forward and backward, each give the bits they give alone and the reference values', async () => {
    register('webgpu-concurrency', MIN_TILES);
    const seed = freshSeed();
    const random = new Random(seed);
    const problems = Array.from({ length: 56 }, () => smallProblem(random));

    const alone: Awaited<ReturnType<typeof run>>[] = [];
    for (const p of problems) alone.push(await run(p, p));
    for (const [i, p] of problems.entries()) {
      for (const c of compareWithReference(p, (alone[i] as (typeof alone)[number]).values)) {
        expect(c.pass, `problem ${i} ${c.quantity}: ${c.maxError} > ${c.tolerance} (${c.rule}), seed ${seed}`).toBe(
          true,
        );
      }
    }

    // 48 calls on host data, and 16 more in pairs sharing the same tensors (uploaded once, used twice).
    const shared = problems.slice(48).map((p) => ({ q: tensor(p.q), k: tensor(p.k), v: tensor(p.v) }));
    const calls = [
      ...problems.slice(0, 48).map((p, i) => ({ index: i, result: run(p, p) })),
      ...shared.flatMap((t, j) => [0, 1].map(() => ({ index: 48 + j, result: run(problems[48 + j] as Problem, t) }))),
    ];
    expect(calls.length).toBe(64);
    const together = await Promise.all(calls.map((c) => c.result));
    for (const [n, c] of calls.entries()) {
      for (const quantity of QUANTITIES) {
        const expected = (alone[c.index] as (typeof alone)[number]).bits[quantity];
        const actual = (together[n] as (typeof together)[number]).bits[quantity];
        expect(firstBitDifference(actual, expected), `call ${n} ${quantity}, seed ${seed}`).toBe(-1);
      }
    }

    const backend = backends[0] as WebGpuBackend;
    expect(backend.stats().liveBuffers).toBe(3 * shared.length);
    for (const t of shared) for (const x of [t.q, t.k, t.v]) x.dispose();
    expect(backend.stats()).toMatchObject({ liveBuffers: 0, liveBytes: 0 });
  }, 60_000);
});

// The default tiling of this adapter, and a second device with the same: the same kernels give the same bits.
register('webgpu-determinism');
register('webgpu-determinism-again');
describeDeterminism({ facade: fa, backend: 'webgpu-determinism', sameBitsAs: ['webgpu-determinism-again'] });
