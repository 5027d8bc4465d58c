import type { FloatDType } from '@fa/core';
import type { Random } from './random.js';

/**
 * One attention problem, described by its shapes and options: a point of the conformance grid, or a case of a
 * backend's own tests. Lengths are per sequence; cu_seqlens are built from them.
 */
export interface AttnCase {
  readonly name: string;
  readonly lengthsQ: readonly number[];
  readonly lengthsK: readonly number[];
  readonly numHeads: number;
  readonly numHeadsK: number;
  readonly headDim: number;
  readonly headDimV: number;
  readonly dtype: FloatDType;
  readonly causal?: boolean;
  readonly windowSize?: readonly [number, number];
  readonly softcap?: number;
  readonly alibi?: boolean;
  readonly dropoutP?: number;
  readonly softmaxScale?: number;
}

const MIXED = [17, 0, 33, 5, 1];

function base(name: string, overrides: Partial<AttnCase> = {}): AttnCase {
  return {
    name,
    lengthsQ: MIXED,
    lengthsK: MIXED,
    numHeads: 3,
    numHeadsK: 3,
    headDim: 64,
    headDimV: overrides.headDim ?? 64,
    dtype: 'f32',
    ...overrides,
  };
}

/**
 * The conformance grid, which every backend runs: every option, odd sizes on purpose, each dtype. Its names are
 * the suite's test titles and the keys of a backend's `skip`.
 */
export function fixedCases(): AttnCase[] {
  const headDims = [1, 8, 59, 64, 80, 111, 128, 256].map((d) =>
    base(`head_dim ${d}`, { headDim: d, headDimV: d, numHeads: d >= 128 ? 2 : 3, numHeadsK: d >= 128 ? 2 : 3 }),
  );
  const layouts = [
    base('batch of 1', { lengthsQ: [41], lengthsK: [41] }),
    base('zero-length sequences', { lengthsQ: [0, 9, 0, 0, 14, 0], lengthsK: [0, 9, 0, 0, 14, 0] }),
    base('empty key sequences (rows with no key)', { lengthsQ: [6, 4, 3], lengthsK: [0, 7, 0] }),
    base('Lq > Lk', { lengthsQ: [19, 8, 30], lengthsK: [7, 3, 12] }),
    base('Lq < Lk', { lengthsQ: [4, 1, 9], lengthsK: [21, 16, 30] }),
    base('long sequence over several tiles', { lengthsQ: [150, 3], lengthsK: [150, 3], numHeads: 2, numHeadsK: 2 }),
    base('head_dim_v differs from head_dim', { headDim: 48, headDimV: 24 }),
    base('GQA', { numHeads: 6, numHeadsK: 2 }),
    base('MQA', { numHeads: 4, numHeadsK: 1 }),
  ];
  const masks = [
    base('causal', { causal: true }),
    base('causal, Lq > Lk', { causal: true, lengthsQ: [19, 8, 30], lengthsK: [7, 3, 12] }),
    base('causal, Lq < Lk', { causal: true, lengthsQ: [4, 1, 9], lengthsK: [21, 16, 30] }),
    base('window (4, 2)', { windowSize: [4, 2] }),
    base('window (0, 0)', { windowSize: [0, 0] }),
    base('window (-1, 3)', { windowSize: [-1, 3] }),
    base('window (5, -1)', { windowSize: [5, -1] }),
    base('causal with window (6, -1)', { causal: true, windowSize: [6, -1] }),
    base('window, Lq > Lk', { windowSize: [2, 1], lengthsQ: [19, 8, 30], lengthsK: [7, 3, 12] }),
  ];
  const scores = [
    base('softcap', { softcap: 2.5, softmaxScale: 0.6 }),
    base('ALiBi', { alibi: true }),
    base('ALiBi, causal, Lq < Lk', { alibi: true, causal: true, lengthsQ: [4, 1, 9], lengthsK: [21, 16, 30] }),
    base('custom scale', { softmaxScale: 0.37 }),
    base('dropout', { dropoutP: 0.17 }),
    base('dropout, causal, GQA', { dropoutP: 0.3, causal: true, numHeads: 4, numHeadsK: 2 }),
  ];
  const everything = base('everything at once', {
    causal: true,
    windowSize: [7, 0],
    softcap: 3,
    alibi: true,
    dropoutP: 0.1,
    numHeads: 4,
    numHeadsK: 2,
    headDim: 40,
    headDimV: 24,
    softmaxScale: 0.5,
    lengthsQ: [13, 0, 26, 5],
    lengthsK: [20, 3, 26, 2],
  });
  const lowPrecision = (['f16', 'bf16'] as const).flatMap((dtype) => [
    base(`${dtype}: mixed lengths`, { dtype }),
    base(`${dtype}: head_dim 111`, { dtype, headDim: 111, headDimV: 111 }),
    base(`${dtype}: causal GQA`, { dtype, causal: true, numHeads: 4, numHeadsK: 2 }),
    base(`${dtype}: window, softcap, ALiBi`, { dtype, windowSize: [5, 3], softcap: 4, alibi: true }),
    base(`${dtype}: dropout`, { dtype, dropoutP: 0.2 }),
  ]);
  // The tensor-core kernels' multi-tile paths (128-row query tiles, 64-key tiles, partial tiles at both ends,
  // tiles a mask boundary crosses next to tiles it does not), at the head dims the benchmarks run.
  const multiTile = (['f16', 'bf16'] as const).flatMap((dtype) => [
    base(`${dtype}: D 128, several query and key tiles`, {
      dtype,
      headDim: 128,
      headDimV: 128,
      numHeads: 2,
      numHeadsK: 1,
      lengthsQ: [300, 65, 0, 129],
      lengthsK: [300, 65, 0, 129],
    }),
    base(`${dtype}: D 128, causal, Lq < Lk, several tiles`, {
      dtype,
      causal: true,
      headDim: 128,
      headDimV: 128,
      numHeads: 2,
      numHeadsK: 2,
      lengthsQ: [130, 40],
      lengthsK: [330, 200],
    }),
    base(`${dtype}: D 64, window (70, 30), several tiles`, {
      dtype,
      windowSize: [70, 30],
      headDim: 64,
      headDimV: 64,
      numHeads: 2,
      numHeadsK: 1,
      lengthsQ: [260, 100],
      lengthsK: [260, 100],
    }),
    base(`${dtype}: D 128, large scores (scale 3) over several key tiles`, {
      dtype,
      softmaxScale: 3,
      headDim: 128,
      headDimV: 128,
      numHeads: 1,
      numHeadsK: 1,
      lengthsQ: [140],
      lengthsK: [330],
    }),
    base(`${dtype}: D 96, causal, dropout, softcap, several tiles`, {
      dtype,
      causal: true,
      dropoutP: 0.15,
      softcap: 5,
      headDim: 96,
      headDimV: 96,
      numHeads: 2,
      numHeadsK: 1,
      lengthsQ: [200, 7],
      lengthsK: [200, 7],
    }),
  ]);
  return [...headDims, ...layouts, ...masks, ...scores, everything, ...lowPrecision, ...multiTile];
}

/**
 * Cases whose shapes and options are drawn anew each run, to reach what the fixed grid does not. Sequences are at
 * most `maxLength` tokens long (40 in the conformance suite, whose draws stay what they were for a given seed).
 */
export function randomCase(random: Random, index: number, { maxLength = 40 } = {}): AttnCase {
  const batch = random.int(1, 5);
  const lengthsQ = Array.from({ length: batch }, () => (random.next() < 0.15 ? 0 : random.int(1, maxLength)));
  const sameLengths = random.next() < 0.5;
  const lengthsK = sameLengths ? lengthsQ : lengthsQ.map(() => (random.next() < 0.1 ? 0 : random.int(1, maxLength)));
  const numHeadsK = random.int(1, 3);
  const numHeads = numHeadsK * random.int(1, 3);
  const headDim = random.int(1, 140);
  const dtypes: FloatDType[] = ['f32', 'f16', 'bf16'];
  const left = random.pick([-1, -1, 0, 3, 11]);
  const right = random.pick([-1, -1, 0, 2, 9]);
  return {
    name: `random #${index}`,
    lengthsQ,
    lengthsK,
    numHeads,
    numHeadsK,
    headDim,
    headDimV: random.next() < 0.7 ? headDim : random.int(1, 96),
    dtype: random.pick(dtypes),
    causal: random.next() < 0.4,
    windowSize: left === -1 && right === -1 ? undefined : [left, right],
    softcap: random.next() < 0.25 ? 1 + random.next() * 4 : undefined,
    alibi: random.next() < 0.25,
    dropoutP: random.next() < 0.25 ? random.next() * 0.5 : undefined,
    softmaxScale: random.next() < 0.3 ? 0.1 + random.next() : undefined,
  };
}

/**
 * A case with its defaults left out: `lengthsK` is `lengthsQ`, 2 heads, `numHeadsK` is `numHeads`, head dim 32,
 * `headDimV` is `headDim`, f32.
 */
export type CaseSpec = Pick<AttnCase, 'name' | 'lengthsQ'> & Partial<Omit<AttnCase, 'name' | 'lengthsQ'>>;

/** `spec` with every default written out. */
export function fullCase(spec: CaseSpec): AttnCase {
  const numHeads = spec.numHeads ?? 2;
  const headDim = spec.headDim ?? 32;
  return {
    ...spec,
    lengthsK: spec.lengthsK ?? spec.lengthsQ,
    numHeads,
    numHeadsK: spec.numHeadsK ?? numHeads,
    headDim,
    headDimV: spec.headDimV ?? headDim,
    dtype: spec.dtype ?? 'f32',
  };
}

/**
 * A small random problem: odd sizes, batches of one to four sequences of at most 9 tokens (empty ones included),
 * self- or cross-attention, GQA, every dtype, and each option now and then. Small enough to run thousands of times.
 */
export function smallCase(random: Random, name = 'small'): CaseSpec {
  const lengthsQ = Array.from({ length: random.int(1, 4) }, () => random.int(0, 9));
  const numHeadsK = random.int(1, 2);
  const pick = (p: number) => random.next() < p;
  return {
    name,
    lengthsQ,
    lengthsK: pick(0.3) ? lengthsQ.map(() => random.int(0, 9)) : undefined,
    numHeads: numHeadsK * random.int(1, 2),
    numHeadsK,
    headDim: random.int(1, 13),
    headDimV: pick(0.3) ? random.int(1, 13) : undefined,
    dtype: random.pick(['f32', 'f16', 'bf16'] as const),
    causal: pick(0.3),
    windowSize: pick(0.2) ? [random.int(0, 3), random.int(-1, 3)] : undefined,
    softcap: pick(0.2) ? 3 : undefined,
    alibi: pick(0.2),
    dropoutP: pick(0.2) ? 0.25 : undefined,
  };
}
