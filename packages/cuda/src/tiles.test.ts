import { type AttnProblem, visibleKeyRange } from '@fa/core';
import { cuSeqlensFromLengths, tileMap } from '@fa/seqpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addon as built, missingReason } from '../test/addon.js';
import type { FaCudaAddon } from './addon.js';
import { keyWorkList, queryWorkList } from './tiles.js';

type MaskProblem = Pick<AttnProblem, 'batch' | 'cuSeqlensQ' | 'cuSeqlensK' | 'windowLeft' | 'windowRight'>;

const arbitraryProblem = fc
  .record({
    lengths: fc.array(fc.tuple(fc.nat(150), fc.nat(150)), { minLength: 1, maxLength: 6 }),
    causal: fc.boolean(),
    left: fc.integer({ min: -1, max: 70 }),
    right: fc.integer({ min: -1, max: 70 }),
  })
  .map(({ lengths, causal, left, right }) => ({
    batch: lengths.length,
    cuSeqlensQ: cuSeqlensFromLengths(lengths.map(([q]) => q)),
    cuSeqlensK: cuSeqlensFromLengths(lengths.map(([, k]) => k)),
    causal,
    windowLeft: left,
    windowRight: causal ? 0 : right,
  }));

function pairs(list: Int32Array): [number, number][] {
  return Array.from({ length: list.length / 2 }, (_, t) => [list[2 * t] as number, list[2 * t + 1] as number]);
}

function visibleScores(p: MaskProblem, b: number, rows: [number, number], cols: [number, number]): number {
  const lq = (p.cuSeqlensQ[b + 1] as number) - (p.cuSeqlensQ[b] as number);
  const lk = (p.cuSeqlensK[b + 1] as number) - (p.cuSeqlensK[b] as number);
  let n = 0;
  for (let i = rows[0]; i < Math.min(lq, rows[1]); i++) {
    const r = visibleKeyRange(i, lq, lk, p.windowLeft, p.windowRight);
    n += Math.max(0, Math.min(r.last, cols[1] - 1, lk - 1) - Math.max(r.first, cols[0]) + 1);
  }
  return n;
}

describe('work lists', () => {
  it('list every query tile of seqpack.tileMap exactly once', () => {
    fc.assert(
      fc.property(arbitraryProblem, fc.constantFrom(16, 32, 64), (p, rows) => {
        const map = tileMap(p.cuSeqlensQ, p.cuSeqlensK, {
          blockM: rows,
          blockN: 64,
          causal: p.causal,
          windowSize: [p.windowLeft, p.windowRight],
        });
        const expected = Array.from(map.sequence, (b, t) => `${b}:${(t - (map.cuQTiles[b] as number)) * rows}`);
        const list = pairs(queryWorkList(p, rows));
        expect(list.map(([b, r]) => `${b}:${r}`).sort()).toEqual(expected.sort());
      }),
      { numRuns: 300 },
    );
  });

  it('sort query tiles by visible work, stably', () => {
    fc.assert(
      fc.property(arbitraryProblem, (p) => {
        const list = pairs(queryWorkList(p, 32));
        const work = list.map(([b, r]) => {
          const lq = (p.cuSeqlensQ[b + 1] as number) - (p.cuSeqlensQ[b] as number);
          const lk = (p.cuSeqlensK[b + 1] as number) - (p.cuSeqlensK[b] as number);
          // Span of keys any row sees × rows: an upper bound on scores, the cost the list sorts by.
          let first = lk;
          let end = 0;
          for (let i = r; i < Math.min(lq, r + 32); i++) {
            const k = visibleKeyRange(i, lq, lk, p.windowLeft, p.windowRight);
            if (k.first <= k.last) {
              first = Math.min(first, k.first);
              end = Math.max(end, k.last + 1);
            }
          }
          return end > first ? (end - first) * (Math.min(lq, r + 32) - r) : 0;
        });
        for (let t = 1; t < work.length; t++) {
          expect(work[t - 1] as number).toBeGreaterThanOrEqual(work[t] as number);
          if (work[t - 1] === work[t]) {
            // Ties keep sequence order, then row order: the list is the same every run.
            const [b0, r0] = list[t - 1] as [number, number];
            const [b1, r1] = list[t] as [number, number];
            expect(b0 < b1 || (b0 === b1 && r0 < r1)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('list every key tile exactly once, by visible rows', () => {
    fc.assert(
      fc.property(arbitraryProblem, fc.constantFrom(32, 64), (p, keys) => {
        const list = pairs(keyWorkList(p, keys));
        const expected: string[] = [];
        for (let b = 0; b < p.batch; b++) {
          const lk = (p.cuSeqlensK[b + 1] as number) - (p.cuSeqlensK[b] as number);
          for (let c = 0; c < lk; c += keys) expected.push(`${b}:${c}`);
        }
        expect(list.map(([b, c]) => `${b}:${c}`).sort()).toEqual(expected.sort());
        // A tile that some query sees never sorts after one that none sees.
        const seen = list.map(([b, c]) => visibleScores(p, b, [0, 1 << 30], [c, c + keys]) > 0);
        expect(seen.indexOf(false) === -1 || seen.lastIndexOf(true) < seen.indexOf(false)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it.skipIf(!built)(
    `the kernels' key-tile loop (csrc/block_info.h on the host) visits exactly tileMap's computed tiles${built ? '' : ` (skipped: ${missingReason})`}`,
    () => {
      fc.assert(
        fc.property(arbitraryProblem, fc.constantFrom(32, 64), fc.constantFrom(32, 64), (p, rows, bn) => {
          const map = tileMap(p.cuSeqlensQ, p.cuSeqlensK, {
            blockM: rows,
            blockN: bn,
            causal: p.causal,
            windowSize: [p.windowLeft, p.windowRight],
          });
          for (const [b, r] of pairs(queryWorkList(p, rows))) {
            const lq = (p.cuSeqlensQ[b + 1] as number) - (p.cuSeqlensQ[b] as number);
            const lk = (p.cuSeqlensK[b + 1] as number) - (p.cuSeqlensK[b] as number);
            const [first, end] = (built as FaCudaAddon).selftest.keySpan(
              r,
              Math.min(lq, r + rows),
              lq,
              lk,
              p.windowLeft,
              p.windowRight,
            ) as Int32Array;
            // kernel_fwd.cuh / kernel_bwd_dq.cuh: kt_begin = first / kBN, kt_end = ceil(end / kBN) (empty: none).
            const ktBegin = Math.floor((first as number) / bn);
            const ktEnd = (end as number) > (first as number) ? Math.ceil((end as number) / bn) : ktBegin;
            const t = (map.cuQTiles[b] as number) + r / rows;
            expect(ktEnd - ktBegin).toBe((map.kTileEnd[t] as number) - (map.kTileBegin[t] as number));
            if (ktEnd > ktBegin) expect([ktBegin, ktEnd]).toEqual([map.kTileBegin[t], map.kTileEnd[t]]);
          }
        }),
        { numRuns: 300 },
      );
    },
  );
});
