import { afterAll, describe, expect, it } from 'vitest';
import { type CpuBackend, createCpuBackendTuned } from './backend.js';
import { type Case, checkAgainstReference, compare, freshSeed, Random } from './test-fixtures.js';

/**
 * Every option of the reference, alone and combined, against @fa/core's float64 reference, on each way the
 * backend can run: WebAssembly SIMD on the calling thread, the same on two worker threads, and pure JavaScript.
 */

const MIXED = [17, 0, 33, 5, 1];

const cases: Case[] = [
  { name: 'head_dim 1', lengthsQ: MIXED, headDim: 1, numHeads: 3 },
  { name: 'head_dim 8', lengthsQ: MIXED, headDim: 8 },
  { name: 'head_dim 59, causal', lengthsQ: MIXED, headDim: 59, causal: true },
  { name: 'head_dim 64 over several tiles', lengthsQ: [150, 3, 70], headDim: 64 },
  { name: 'head_dim 80, head_dim_v 24', lengthsQ: MIXED, headDim: 80, headDimV: 24 },
  { name: 'head_dim 111', lengthsQ: [40, 29], headDim: 111 },
  { name: 'head_dim 128, GQA', lengthsQ: MIXED, headDim: 128, numHeads: 4, numHeadsK: 2 },
  { name: 'head_dim 256, head_dim_v 17', lengthsQ: [70, 9], headDim: 256, headDimV: 17 },
  { name: 'head_dim 7, head_dim_v 130', lengthsQ: [21, 66], headDim: 7, headDimV: 130 },
  { name: 'batch of 1', lengthsQ: [97] },
  { name: 'no sequences at all', lengthsQ: [] },
  { name: 'only empty sequences', lengthsQ: [0, 0] },
  { name: 'zero-length sequences', lengthsQ: [0, 9, 0, 0, 14, 0] },
  { name: 'empty key sequences (rows with no key)', lengthsQ: [6, 4, 3], lengthsK: [0, 7, 0] },
  { name: 'empty query sequences', lengthsQ: [0, 5, 0], lengthsK: [8, 7, 3] },
  { name: 'Lq > Lk', lengthsQ: [19, 8, 30], lengthsK: [7, 3, 12] },
  { name: 'Lq < Lk', lengthsQ: [4, 1, 9], lengthsK: [21, 16, 130] },
  { name: 'causal, Lq > Lk', lengthsQ: [79, 8, 30], lengthsK: [7, 3, 12], causal: true },
  { name: 'causal, Lq < Lk', lengthsQ: [4, 1, 9, 66], lengthsK: [21, 16, 130, 70], causal: true },
  { name: 'MQA', lengthsQ: MIXED, numHeads: 4, numHeadsK: 1 },
  { name: 'window (4, 2)', lengthsQ: [100, 20], windowSize: [4, 2] },
  { name: 'window (0, 0)', lengthsQ: MIXED, windowSize: [0, 0] },
  { name: 'window (-1, 3)', lengthsQ: [90, 7], windowSize: [-1, 3] },
  { name: 'window (70, -1)', lengthsQ: [150], windowSize: [70, -1] },
  { name: 'causal with window (6, -1)', lengthsQ: MIXED, causal: true, windowSize: [6, -1] },
  { name: 'window, Lq > Lk', lengthsQ: [19, 8, 30], lengthsK: [7, 3, 12], windowSize: [2, 1] },
  { name: 'softcap', lengthsQ: [70, 13], softcap: 2.5, softmaxScale: 0.6 },
  { name: 'ALiBi', lengthsQ: MIXED, alibi: true },
  { name: 'ALiBi, causal, Lq < Lk', lengthsQ: [4, 1, 9], lengthsK: [21, 16, 80], alibi: true, causal: true },
  { name: 'custom scale', lengthsQ: MIXED, softmaxScale: 0.37 },
  { name: 'dropout', lengthsQ: [70, 33, 0, 5], dropoutP: 0.17 },
  { name: 'dropout, causal, GQA', lengthsQ: [41, 9], dropoutP: 0.3, causal: true, numHeads: 4, numHeadsK: 2 },
  {
    name: 'everything at once',
    lengthsQ: [13, 0, 86, 5],
    lengthsK: [20, 3, 96, 2],
    causal: true,
    windowSize: [37, 0],
    softcap: 3,
    alibi: true,
    dropoutP: 0.1,
    numHeads: 4,
    numHeadsK: 2,
    headDim: 40,
    headDimV: 24,
    softmaxScale: 0.5,
  },
  ...(['f16', 'bf16'] as const).flatMap((dtype): Case[] => [
    { name: `${dtype}: mixed lengths`, lengthsQ: MIXED, dtype },
    {
      name: `${dtype}: head_dim 111, causal GQA`,
      lengthsQ: [40, 9],
      headDim: 111,
      numHeads: 4,
      numHeadsK: 2,
      causal: true,
      dtype,
    },
    {
      name: `${dtype}: window, softcap, ALiBi, dropout`,
      lengthsQ: MIXED,
      windowSize: [5, 3],
      softcap: 4,
      alibi: true,
      dropoutP: 0.2,
      dtype,
    },
  ]),
];

/** Shapes and options drawn anew each run, to reach what the fixed list does not. */
function randomCases(random: Random, count: number): Case[] {
  return Array.from({ length: count }, (_, index) => {
    const batch = random.int(1, 4);
    const lengthsQ = Array.from({ length: batch }, () => (random.next() < 0.15 ? 0 : random.int(1, 90)));
    const lengthsK = random.next() < 0.5 ? lengthsQ : lengthsQ.map(() => (random.next() < 0.1 ? 0 : random.int(1, 90)));
    const numHeadsK = random.int(1, 2);
    const headDim = random.int(1, 140);
    const pick = <T>(items: readonly T[]) => items[random.int(0, items.length - 1)] as T;
    const left = pick([-1, -1, 0, 3, 40]);
    const right = pick([-1, -1, 0, 2, 9]);
    return {
      name: `random #${index}`,
      lengthsQ,
      lengthsK,
      numHeads: numHeadsK * random.int(1, 3),
      numHeadsK,
      headDim,
      headDimV: random.next() < 0.7 ? headDim : random.int(1, 96),
      dtype: pick(['f32', 'f32', 'f16', 'bf16'] as const),
      causal: random.next() < 0.4,
      windowSize: left === -1 && right === -1 ? undefined : [left, right],
      softcap: random.next() < 0.25 ? 1 + random.next() * 4 : undefined,
      alibi: random.next() < 0.25,
      dropoutP: random.next() < 0.25 ? random.next() * 0.5 : undefined,
      softmaxScale: random.next() < 0.3 ? 0.1 + random.next() : undefined,
    };
  });
}

const runSeed = freshSeed();
const random = new Random(runSeed);
// A handful per run keeps the file fast; FA_RANDOM_CASES=500 turns it into a fuzzing session.
const allCases = [...cases, ...randomCases(random, Number(process.env.FA_RANDOM_CASES ?? 6))];

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
