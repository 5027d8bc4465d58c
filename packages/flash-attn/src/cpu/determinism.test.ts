import { type HostTensor, resolveAttnProblem } from '@fa/core';
import { attnInputs, type CaseSpec, freshSeed } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { type CpuBackend, createCpuBackendTuned } from './backend.js';
import type { JobInfo } from './wasm-engine.js';

/**
 * Bit-identical results run to run and whatever the thread count: each output element is written by one work
 * item with a fixed summation order, so scheduling cannot change a bit.
 */

const jobs: JobInfo[] = [];
const single = createCpuBackendTuned({ threads: 1 }, {});
const threaded = createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0, onJob: (job) => jobs.push(job) });
// More threads than this machine may have cores: items are claimed in whatever order the scheduler allows.
const four = createCpuBackendTuned({ threads: 4 }, { parallelMinCost: 0, onJob: (job) => jobs.push(job) });
const js = createCpuBackendTuned({ simd: false }, {});

afterAll(async () => {
  await single.destroy?.();
  await threaded.destroy?.();
  await four.destroy?.();
});

const cases: CaseSpec[] = [
  {
    name: 'GQA with dropout, softcap and ALiBi',
    lengthsQ: [130, 0, 77, 200],
    numHeads: 4,
    numHeadsK: 2,
    headDim: 59,
    dropoutP: 0.2,
    softcap: 5,
    alibi: true,
  },
  {
    name: 'causal windowed MQA, Lq != Lk',
    lengthsQ: [64, 190, 3],
    lengthsK: [100, 150, 40],
    numHeads: 3,
    numHeadsK: 1,
    headDim: 80,
    headDimV: 33,
    causal: true,
    windowSize: [50, 0],
  },
];

function bits(tensor: HostTensor): Uint8Array {
  const data = tensor.data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Index of the first differing byte, or -1 (a plain loop: deep equality on big arrays is slow). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

async function runAll(backend: CpuBackend, c: CaseSpec, seed: number): Promise<Uint8Array[]> {
  const { q, k, v, dout, options } = attnInputs(c, seed);
  const problem = resolveAttnProblem(q, k, v, options);
  const forward = await backend.forward(q, k, v, problem);
  const grads = await backend.backward(dout, q, k, v, forward.out, forward.lse, problem);
  return [forward.out, forward.lse, grads.dq, grads.dk, grads.dv].map(bits);
}

describe.each(cases)('determinism: $name', (c) => {
  const seed = freshSeed();

  it('gives bit-identical results on repeated runs, and on one thread, two and four', async () => {
    const first = await runAll(single, c, seed);
    const again = await runAll(single, c, seed);
    jobs.length = 0;
    const onTwo = await runAll(threaded, c, seed);
    const onTwoAgain = await runAll(threaded, c, seed);
    const onFour = await runAll(four, c, seed);
    expect(jobs.map((j) => j.threads)).toEqual([2, 2, 2, 2, 4, 4]);
    for (let i = 0; i < first.length; i++) {
      const reference = first[i] as Uint8Array;
      for (const [name, run] of Object.entries({ again, onTwo, onTwoAgain, onFour })) {
        expect(firstDifference(run[i] as Uint8Array, reference), `${name}: output ${i}, seed ${seed}`).toBe(-1);
      }
    }
  });

  it('gives bit-identical results on repeated runs of the JavaScript kernels', async () => {
    const first = await runAll(js, c, seed);
    const again = await runAll(js, c, seed);
    for (let i = 0; i < first.length; i++) {
      expect(firstDifference(again[i] as Uint8Array, first[i] as Uint8Array), `output ${i}, seed ${seed}`).toBe(-1);
    }
  });
});
