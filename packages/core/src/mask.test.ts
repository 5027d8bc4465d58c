import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockFullyVisible, visibleKeyRange, visibleKeySpan } from './mask.js';

const window = fc.tuple(fc.integer({ min: -1, max: 9 }), fc.integer({ min: -1, max: 9 }));

describe('visibility', () => {
  it('aligns causal masks to the bottom-right corner', () => {
    // Lq = 2, Lk = 5: the last query sees every key, the first all but the last.
    expect(visibleKeyRange(1, 2, 5, -1, 0)).toEqual({ first: 0, last: 4 });
    expect(visibleKeyRange(0, 2, 5, -1, 0)).toEqual({ first: 0, last: 3 });
    // Lq = 5, Lk = 2: the first three queries see nothing.
    expect(visibleKeyRange(2, 5, 2, -1, 0).last).toBeLessThan(visibleKeyRange(2, 5, 2, -1, 0).first);
    expect(visibleKeyRange(3, 5, 2, -1, 0)).toEqual({ first: 0, last: 0 });
  });

  it('keeps a sliding window of left + right + 1 keys around the diagonal', () => {
    expect(visibleKeyRange(5, 10, 10, 2, 1)).toEqual({ first: 3, last: 6 });
  });

  it('spans exactly the union of the rows of a block, and blocks are fully visible only when every score is', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 12 }),
        window,
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        (seqlenQ, seqlenK, [left, right], blockM, blockN) => {
          for (let r0 = 0; r0 < seqlenQ; r0 += blockM) {
            const r1 = Math.min(seqlenQ, r0 + blockM);
            const visible = new Set<number>();
            for (let i = r0; i < r1; i++) {
              const { first, last } = visibleKeyRange(i, seqlenQ, seqlenK, left, right);
              for (let j = first; j <= last; j++) visible.add(j);
            }
            const span = visibleKeySpan(r0, r1, seqlenQ, seqlenK, left, right);
            if (visible.size === 0) expect(span.end).toBeLessThanOrEqual(span.first);
            else {
              expect(span.first).toBe(Math.min(...visible));
              expect(span.end).toBe(Math.max(...visible) + 1);
            }
            for (let c0 = 0; c0 < seqlenK; c0 += blockN) {
              const c1 = Math.min(seqlenK, c0 + blockN);
              let all = true;
              for (let i = r0; i < r1; i++) {
                const { first, last } = visibleKeyRange(i, seqlenQ, seqlenK, left, right);
                if (first > c0 || last < c1 - 1) all = false;
              }
              expect(blockFullyVisible(r0, r1, c0, c1, seqlenQ, seqlenK, left, right)).toBe(all);
            }
          }
        },
      ),
    );
  });
});
