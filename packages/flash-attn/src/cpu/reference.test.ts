import { type AttnCase, type CaseSpec, fixedCases, freshSeed, Random, randomCase } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { type CpuBackend, createCpuBackendTuned } from './backend.js';
import { checkAgainstReference, compare } from './test-fixtures.js';

/**
 * Every option of the reference, alone and combined, against @fa/core's float64 reference, on each way the
 * backend can run: WebAssembly SIMD on the calling thread, the same on two worker threads, and pure JavaScript.
 *
 * The cases: the conformance grid, as every backend runs it; the same grid with every sequence three times as
 * long, so that masks, windows, dropout and empty rows fall across the kernels' 64-row and 64-key tiles (the grid's
 * sequences mostly fit in one); what the grid leaves out and this backend runs; and cases drawn anew each run.
 */

/** `c` with every sequence three times as long (empty ones stay empty): several tiles per sequence. */
function longer(c: AttnCase): AttnCase {
  const stretch = (lengths: readonly number[]) => lengths.map((l) => 3 * l);
  return { ...c, name: `${c.name} (3× longer)`, lengthsQ: stretch(c.lengthsQ), lengthsK: stretch(c.lengthsK) };
}

const beyondTheGrid: CaseSpec[] = [
  { name: 'no sequences at all', lengthsQ: [] },
  { name: 'only empty sequences', lengthsQ: [0, 0] },
  { name: 'empty query sequences', lengthsQ: [0, 5, 0], lengthsK: [8, 7, 3] },
  { name: 'head_dim 256, head_dim_v 17', lengthsQ: [70, 9], headDim: 256, headDimV: 17 },
  { name: 'head_dim 7, head_dim_v 130', lengthsQ: [21, 66], headDim: 7, headDimV: 130 },
  { name: 'window (70, -1), wider than a tile', lengthsQ: [150], windowSize: [70, -1] },
];

const runSeed = freshSeed();
const random = new Random(runSeed);
// A handful per run keeps the file fast; FA_RANDOM_CASES=500 turns it into a fuzzing session.
const drawn = Array.from({ length: Number(process.env.FA_RANDOM_CASES ?? 6) }, (_, i) =>
  randomCase(random, i, { maxLength: 90 }),
);
const allCases: CaseSpec[] = [...fixedCases(), ...fixedCases().map(longer), ...beyondTheGrid, ...drawn];

const engines: { label: string; backend: CpuBackend; kernels: 'wasm-simd' | 'js' }[] = [
  { label: 'wasm SIMD, 1 thread', backend: createCpuBackendTuned({ threads: 1 }, {}), kernels: 'wasm-simd' },
  // Every job goes to the workers, however small, so that the threaded path sees every case.
  {
    label: 'wasm SIMD, 2 threads',
    backend: createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0 }),
    kernels: 'wasm-simd',
  },
  { label: 'pure JS', backend: createCpuBackendTuned({ simd: false }, {}), kernels: 'js' },
];

afterAll(async () => {
  for (const { backend } of engines) await backend.destroy?.();
});

describe.each(engines)('cpu backend, $label', ({ backend, kernels }) => {
  it('runs the kernels it says it runs', () => {
    expect(backend.kernels).toBe(kernels);
  });

  it.each(allCases)('matches the reference: $name', async (c) => {
    const seed = random.int(0, 2 ** 32 - 1);
    const mismatches = await checkAgainstReference(backend, c, seed);
    expect(mismatches, `case ${JSON.stringify(c)}, input seed ${seed}, run seed ${runSeed}`).toEqual([]);
  });
});

describe('the comparison itself', () => {
  it('fails on NaN and on mismatched infinities, and passes matching infinities', () => {
    expect(compare('out', [1, Number.NaN], [1, 2], 1e-5)).not.toBeNull();
    expect(compare('out', [Number.NaN], [1], 1e-5, { values: [Number.NaN], factor: 2, floor: 0 })).not.toBeNull();
    expect(compare('lse', [Number.POSITIVE_INFINITY], [3], 1e-5)).not.toBeNull();
    expect(compare('lse', [Number.POSITIVE_INFINITY, 1], [Number.POSITIVE_INFINITY, 1], 1e-5)).toBeNull();
    expect(compare('out', [1.5], [1], 1e-5)).not.toBeNull();
  });
});
