import { resolveAttnProblem, visibleKeySpan } from '@fa/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backwardWork, forwardWork, ITEM_INTS } from './plan.js';

function problemOf(lengthsQ: number[], lengthsK: number[], numHeads: number, window: [number, number]) {
  const cu = (lengths: number[]) =>
    Int32Array.from([0, ...lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, b) => a + b, 0))]);
  const totalQ = lengthsQ.reduce((a, b) => a + b, 0);
  const totalK = lengthsK.reduce((a, b) => a + b, 0);
  return resolveAttnProblem(
    { shape: [totalQ, numHeads, 8], dtype: 'f32' },
    { shape: [totalK, numHeads, 8], dtype: 'f32' },
    { shape: [totalK, numHeads, 8], dtype: 'f32' },
    { cuSeqlensQ: cu(lengthsQ), cuSeqlensK: cu(lengthsK), windowSize: window },
  );
}

const arbitraryProblem = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 })), { minLength: 1, maxLength: 5 })
  .chain((lengths) =>
    fc.tuple(
      fc.constant(lengths),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: -1, max: 50 }),
      fc.integer({ min: -1, max: 50 }),
    ),
  );

describe('work plans', () => {
  it('cover every query row of every head exactly once, longest items first', () => {
    fc.assert(
      fc.property(arbitraryProblem, fc.constantFrom(16, 64), ([lengths, heads, left, right], blockQ) => {
        const problem = problemOf(
          lengths.map((l) => l[0]),
          lengths.map((l) => l[1]),
          heads,
          [left, right],
        );
        const work = forwardWork(problem, blockQ);
        const seen = new Uint8Array(problem.totalQ * heads);
        let previousCost = Number.POSITIVE_INFINITY;
        for (let i = 0; i < work.count; i++) {
          const [b, h, q0, q1] = work.items.subarray(i * ITEM_INTS, (i + 1) * ITEM_INTS) as unknown as number[];
          const start = problem.cuSeqlensQ[b as number] as number;
          expect((q1 as number) - (q0 as number)).toBeLessThanOrEqual(blockQ);
          for (let row = q0 as number; row < (q1 as number); row++) seen[(start + row) * heads + (h as number)]! += 1;
          const seqlenQ = (problem.cuSeqlensQ[(b as number) + 1] as number) - start;
          const seqlenK =
            (problem.cuSeqlensK[(b as number) + 1] as number) - (problem.cuSeqlensK[b as number] as number);
          const span = visibleKeySpan(q0 as number, q1 as number, seqlenQ, seqlenK, left, right);
          const cost = ((q1 as number) - (q0 as number)) * (Math.max(0, span.end - span.first) + 8);
          expect(cost).toBeLessThanOrEqual(previousCost);
          previousCost = cost;
        }
        expect(seen.every((n) => n === 1)).toBe(true);
      }),
    );
  });

  it('give the backward one item per head of every sequence with queries or keys', () => {
    fc.assert(
      fc.property(arbitraryProblem, ([lengths, heads, left, right]) => {
        const problem = problemOf(
          lengths.map((l) => l[0]),
          lengths.map((l) => l[1]),
          heads,
          [left, right],
        );
        const work = backwardWork(problem, 64);
        const keys = new Set<string>();
        for (let i = 0; i < work.count; i++) keys.add(`${work.items[i * ITEM_INTS]}/${work.items[i * ITEM_INTS + 1]}`);
        const expected = lengths.filter(([q, k]) => q + k > 0).length * heads;
        expect(keys.size).toBe(expected);
        expect(work.count).toBe(expected);
      }),
    );
  });
});
