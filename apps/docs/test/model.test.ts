import { isFaError } from '@fa/core';
import { describe, expect, it } from 'vitest';
import {
  attentionWeights,
  computeLayout,
  type PlaygroundInput,
  parseLengths,
  sampleSequences,
} from '../src/playground/model.js';

const INPUT: PlaygroundInput = {
  lengths: '5, 0, 3',
  heads: 2,
  headDim: 8,
  causal: true,
  windowLeft: -1,
  windowRight: -1,
  softcap: 0,
  dtype: 'f32',
  block: 2,
};

describe('playground model', () => {
  it('computes cu_seqlens and the tile map', () => {
    const layout = computeLayout(INPUT);
    expect(Array.from(layout.cuSeqlens)).toEqual([0, 5, 5, 8]);
    expect(layout.map.counts.visibleScores).toBe(15 + 6);
    expect(layout.paddedFlops).toBeGreaterThan(layout.packedFlops);
  });

  it('reports bad input as FaError, through the library checks', () => {
    for (const lengths of ['', '5, x', '5, -1']) {
      let caught: unknown;
      try {
        computeLayout({ ...INPUT, lengths });
      } catch (error) {
        caught = error;
      }
      expect(isFaError(caught), `${lengths}: ${caught}`).toBe(true);
    }
    expect(() => computeLayout({ ...INPUT, headDim: 300 })).toThrow(/head_dim/);
    expect(parseLengths('1 2,3')).toEqual([1, 2, 3]);
  });

  it('samples a prefix of the batch within the score budget', () => {
    expect(sampleSequences([384, 12, 12])).toBe(1);
    expect(sampleSequences([10, 10, 10], 250)).toBe(2);
  });

  it('attention weights: rows sum to one, causal rows see no later key', () => {
    const { rows, cols, values } = attentionWeights(computeLayout(INPUT), 0, 1);
    expect([rows, cols]).toEqual([5, 5]);
    for (let i = 0; i < rows; i++) {
      const row = Array.from(values.subarray(i * cols, (i + 1) * cols));
      expect(row.slice(i + 1).every(Number.isNaN)).toBe(true);
      expect(row.slice(0, i + 1).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });
});
