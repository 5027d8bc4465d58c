import { describe, expect, it } from 'vitest';
import { lowerProblem } from './kernel-plan.js';
import { resolveAttnProblem } from './options.js';
import { dropoutThreshold, splitSeed } from './philox.js';

const q = { shape: [9, 4, 24], dtype: 'bf16' as const };
const k = { shape: [7, 2, 24], dtype: 'bf16' as const };
const v = { shape: [7, 2, 40], dtype: 'bf16' as const };

describe('lowerProblem', () => {
  it('lowers every derived scalar once, as core defines them', () => {
    const problem = resolveAttnProblem(q, k, v, {
      cuSeqlensQ: [0, 4, 9],
      cuSeqlensK: [0, 3, 7],
      causal: true,
      softcap: 30,
      alibiSlopes: Float32Array.of(0.5, 0.25, 0.125, 0.0625),
      dropoutP: 0.125,
      seed: 2 ** 40 + 7,
    });
    const plan = lowerProblem(problem);
    const seed = splitSeed(2 ** 40 + 7);
    expect(plan).toMatchObject({
      dtype: 'bf16',
      batch: 2,
      numHeads: 4,
      numHeadsK: 2,
      groupSize: 2,
      headDim: 24,
      headDimV: 40,
      maxSeqlenQ: 5,
      maxSeqlenK: 4,
      scores: { softmaxScale: 1 / Math.sqrt(24), causal: true, windowLeft: -1, windowRight: 0, softcap: 30 },
      dropout: {
        enabled: true,
        threshold: dropoutThreshold(0.125),
        keepScale: 1 / (1 - 0.125),
        seedLo: seed.lo,
        seedHi: seed.hi,
      },
    });
    expect(plan.scores.scaleLog2).toBe(plan.scores.softmaxScale * Math.LOG2E);
    expect(plan.scores.alibiSlopes).toBe(problem.alibiSlopes);
  });

  it('gives the element strides of packed (tokens, heads, dim) tensors and of lse (heads, total_q)', () => {
    const plan = lowerProblem(resolveAttnProblem(q, k, v, { cuSeqlensQ: [0, 9], cuSeqlensK: [0, 7] }));
    expect(plan.layouts).toEqual({
      q: { offset: 0, tokenStride: 96, headStride: 24 },
      k: { offset: 0, tokenStride: 48, headStride: 24 },
      v: { offset: 0, tokenStride: 80, headStride: 40 },
      out: { offset: 0, tokenStride: 160, headStride: 40 },
      lse: { offset: 0, tokenStride: 1, headStride: 9 },
    });
  });

  it('turns dropout off to threshold 0 and keep-scale 1, and is a plain serialisable object', () => {
    const plan = lowerProblem(resolveAttnProblem(q, k, v, { cuSeqlensQ: [0, 9], cuSeqlensK: [0, 7] }));
    expect(plan.dropout).toMatchObject({ enabled: false, threshold: 0, keepScale: 1 });
    expect(structuredClone(plan)).toEqual(plan);
  });

  it('refuses what resolveAttnProblem did not make', () => {
    expect(() => lowerProblem({} as never)).toThrow(/problem/);
  });
});
