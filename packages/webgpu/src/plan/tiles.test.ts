import { visibleKeyRange } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { ITEM_WORDS, keyTiles, queryTiles } from './tiles.js';

function problemOf(lengthsQ: number[], lengthsK: number[], windowLeft = -1, windowRight = -1) {
  const cu = (lengths: number[]) =>
    Int32Array.from([0, ...lengths.map((_, b) => lengths.slice(0, b + 1).reduce((a, x) => a + x, 0))]);
  return { batch: lengthsQ.length, cuSeqlensQ: cu(lengthsQ), cuSeqlensK: cu(lengthsK), windowLeft, windowRight };
}

function entries(list: { words: Uint32Array; count: number }) {
  return Array.from({ length: list.count }, (_, n) =>
    Array.from(list.words.subarray(n * ITEM_WORDS, (n + 1) * ITEM_WORDS)),
  );
}

// The planner itself is tested in @fa/core (tiles.test.ts); these check what the kernels read of it.
const WINDOWS: [number, number][] = [
  [-1, -1],
  [-1, 0],
  [3, 0],
  [0, 0],
  [4, 2],
  [-1, 5],
  [7, -1],
];

describe('queryTiles', () => {
  it('lists only real tiles, longest first, with the visible and fully visible key tiles', () => {
    const list = queryTiles(problemOf([5, 0, 40], [5, 3, 40], -1, 0), 16, 16, true);
    // Sequence 1 has no queries: no tile. Sequence 2 has 3 query tiles; causal. Ordered by rows × key tiles.
    expect(entries(list)).toEqual([
      [2, 16, 0, 2, 0, 1, 0, 0],
      [2, 32, 0, 3, 0, 2, 0, 0],
      [2, 0, 0, 1, 1, 1, 0, 0],
      [0, 0, 0, 1, 1, 1, 0, 0],
    ]);
  });

  it('keeps tiles that see no key only when asked (the forward writes their lse)', () => {
    const problem = problemOf([6, 3], [0, 3]);
    expect(entries(queryTiles(problem, 4, 4, true)).map((e) => e.slice(0, 4))).toEqual([
      [1, 0, 0, 1],
      [0, 0, 0, 0],
      [0, 4, 0, 0],
    ]);
    expect(queryTiles(problem, 4, 4, false).count).toBe(1);
  });

  it('never launches the padding of a skewed batch', () => {
    const lengths = [1000, 3, 3, 3, 3, 3, 3, 3];
    const list = queryTiles(problemOf(lengths, lengths), 64, 64, true);
    expect(list.count).toBe(Math.ceil(1000 / 64) + 7);
  });
});

describe('keyTiles', () => {
  it('covers every visible (row, key) pair exactly once per key tile, and skips tiles no row sees', () => {
    for (const [left, right] of WINDOWS) {
      const problem = problemOf([9, 30, 4, 0], [20, 30, 0, 6], left, right);
      const list = entries(keyTiles(problem, 8));
      for (let b = 0; b < 4; b++) {
        const lq = problem.cuSeqlensQ[b + 1]! - problem.cuSeqlensQ[b]!;
        const lk = problem.cuSeqlensK[b + 1]! - problem.cuSeqlensK[b]!;
        for (let c0 = 0; c0 < lk; c0 += 8) {
          const item = list.find((e) => e[0] === b && e[1] === c0);
          const seen = new Set<number>();
          for (let i = 0; i < lq; i++) {
            const { first, last } = visibleKeyRange(i, lq, lk, left, right);
            if (Math.max(first, c0) <= Math.min(last, c0 + 7)) seen.add(i);
          }
          if (seen.size === 0) expect(item).toBeUndefined();
          else for (const i of seen) expect(i >= item![2]! && i < item![3]!).toBe(true);
        }
      }
    }
  });
});
