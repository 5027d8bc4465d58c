import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { visibleKeyRange } from './mask.js';
import {
  KEY_TILE,
  longestFirst,
  planKeyTiles,
  planQueryTiles,
  QUERY_TILE,
  TILE_ITEM_INTS,
  type TileList,
  type TileProblem,
  visibleRowSpan,
} from './tiles.js';

function cumulative(lengths: readonly number[]): Int32Array {
  const cu = new Int32Array(lengths.length + 1);
  lengths.forEach((length, b) => {
    cu[b + 1] = (cu[b] as number) + length;
  });
  return cu;
}

function problemOf(lengthsQ: number[], lengthsK: number[], windowLeft = -1, windowRight = -1): TileProblem {
  return {
    batch: lengthsQ.length,
    cuSeqlensQ: cumulative(lengthsQ),
    cuSeqlensK: cumulative(lengthsK),
    windowLeft,
    windowRight,
  };
}

const items = (list: TileList) =>
  Array.from({ length: list.count }, (_, n) =>
    Array.from(list.items.subarray(n * TILE_ITEM_INTS, (n + 1) * TILE_ITEM_INTS)),
  );

const seqlens = (p: TileProblem, b: number) => ({
  lq: (p.cuSeqlensQ[b + 1] as number) - (p.cuSeqlensQ[b] as number),
  lk: (p.cuSeqlensK[b + 1] as number) - (p.cuSeqlensK[b] as number),
});

/** Brute force: visible scores of rows × cols, and whether all of them are. */
function scoresOf(p: TileProblem, b: number, rows: [number, number], cols: [number, number]) {
  const { lq, lk } = seqlens(p, b);
  let visible = 0;
  for (let i = rows[0]; i < rows[1]; i++) {
    const r = visibleKeyRange(i, lq, lk, p.windowLeft, p.windowRight);
    visible += Math.max(0, Math.min(r.last, cols[1] - 1) - Math.max(r.first, cols[0]) + 1);
  }
  return { visible, full: visible === (rows[1] - rows[0]) * (cols[1] - cols[0]) && visible > 0 };
}

const arbitraryProblem = fc
  .record({
    lengths: fc.array(fc.tuple(fc.nat(70), fc.nat(70)), { minLength: 1, maxLength: 5 }),
    causal: fc.boolean(),
    left: fc.integer({ min: -1, max: 40 }),
    right: fc.integer({ min: -1, max: 40 }),
  })
  .map(({ lengths, causal, left, right }) =>
    problemOf(
      lengths.map(([q]) => q),
      lengths.map(([, k]) => k),
      left,
      causal ? 0 : right,
    ),
  );

describe('visibleRowSpan', () => {
  it('is exactly the rows that see a key of the columns (brute force)', () => {
    for (const [left, right] of [
      [-1, -1],
      [-1, 0],
      [3, 0],
      [0, 0],
      [4, 2],
      [-1, 5],
      [7, -1],
    ] as const) {
      for (const [lq, lk] of [
        [9, 9],
        [4, 13],
        [13, 4],
        [1, 7],
        [0, 5],
      ] as const) {
        for (let c0 = 0; c0 < lk; c0++) {
          for (let c1 = c0 + 1; c1 <= lk; c1++) {
            const rows: number[] = [];
            for (let i = 0; i < lq; i++) {
              const { first, last } = visibleKeyRange(i, lq, lk, left, right);
              if (Math.max(first, c0) <= Math.min(last, c1 - 1)) rows.push(i);
            }
            const expected = rows.length ? { first: rows[0], end: (rows.at(-1) as number) + 1 } : { first: 0, end: 0 };
            expect(visibleRowSpan(c0, c1, lq, lk, left, right)).toEqual(expected);
            expect(rows.length === 0 || rows.length === expected.end - (expected.first as number)).toBe(true);
          }
        }
      }
    }
  });
});

describe('planQueryTiles', () => {
  it('visits exactly the key tiles holding a visible score, and marks exactly the fully visible ones', () => {
    fc.assert(
      fc.property(arbitraryProblem, fc.constantFrom(4, 16), fc.constantFrom(4, 8), (p, bm, bn) => {
        const list = planQueryTiles(p, { blockM: bm, blockN: bn, keepEmpty: true });
        let n = 0;
        for (let b = 0; b < p.batch; b++) {
          const { lq, lk } = seqlens(p, b);
          for (let row0 = 0; row0 < lq; row0 += bm, n++) {
            const item = items(list)[n] as number[];
            const rows: [number, number] = [row0, Math.min(lq, row0 + bm)];
            expect(item.slice(0, 3)).toEqual([b, ...rows]);
            for (let kt = 0; kt * bn < lk; kt++) {
              const { visible, full } = scoresOf(p, b, rows, [kt * bn, Math.min(lk, (kt + 1) * bn)]);
              const visited =
                kt >= (item[QUERY_TILE.keyTileBegin] as number) && kt < (item[QUERY_TILE.keyTileEnd] as number);
              const marked =
                kt >= (item[QUERY_TILE.fullTileBegin] as number) && kt < (item[QUERY_TILE.fullTileEnd] as number);
              // Both ends of a row's visible range move one key per row, so every column of the band is seen by
              // some row: the visited tiles are exactly those with a visible score.
              expect(visited).toBe(visible > 0);
              expect(marked).toBe(full);
            }
          }
        }
        expect(n).toBe(list.count);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps tiles that see no key only when asked (the forward writes their lse)', () => {
    const p = problemOf([6, 3], [0, 3]);
    expect(items(planQueryTiles(p, { blockM: 4, blockN: 4, keepEmpty: true })).map((e) => e.slice(0, 5))).toEqual([
      [0, 0, 4, 0, 0],
      [0, 4, 6, 0, 0],
      [1, 0, 3, 0, 1],
    ]);
    expect(planQueryTiles(p, { blockM: 4, blockN: 4, keepEmpty: false }).count).toBe(1);
  });

  it('never lists the padding of a skewed batch', () => {
    const lengths = [1000, 3, 3, 3, 3, 3, 3, 3];
    const p = problemOf(lengths, lengths);
    expect(planQueryTiles(p, { blockM: 64, blockN: 64, keepEmpty: true }).count).toBe(Math.ceil(1000 / 64) + 7);
  });

  it('whole-sequence items hold all rows, cost the sum of their tiles, and keep key-only sequences when asked', () => {
    const p = problemOf([40, 0, 0, 5], [40, 7, 0, 5], -1, 0);
    const whole = planQueryTiles(p, { blockM: 16, blockN: 16, keepEmpty: true, wholeSequences: true });
    expect(items(whole).map((e) => e.slice(0, 3))).toEqual([
      [0, 0, 40],
      [1, 0, 0],
      [3, 0, 5],
    ]);
    const tiles = planQueryTiles(p, { blockM: 16, blockN: 16, keepEmpty: true });
    expect(whole.costs[0]).toBe((tiles.costs[0] as number) + (tiles.costs[1] as number) + (tiles.costs[2] as number));
    expect(planQueryTiles(p, { blockM: 16, blockN: 16, keepEmpty: false, wholeSequences: true }).count).toBe(2);
  });

  it('refuses tile sizes that are not positive integers, naming them', () => {
    const p = problemOf([3], [3]);
    expect(() => planQueryTiles(p, { blockM: 0, blockN: 4, keepEmpty: true })).toThrow(/blockM/);
    expect(() => planKeyTiles(p, { blockN: 1.5, keepEmpty: true })).toThrow(/blockN/);
  });
});

describe('planKeyTiles', () => {
  it('lists every key tile (or only the seen ones) with exactly the rows that see it', () => {
    fc.assert(
      fc.property(arbitraryProblem, fc.constantFrom(4, 8), fc.boolean(), (p, bn, keepEmpty) => {
        const list = items(planKeyTiles(p, { blockN: bn, keepEmpty }));
        const expected: number[][] = [];
        for (let b = 0; b < p.batch; b++) {
          const { lq, lk } = seqlens(p, b);
          for (let c0 = 0; c0 < lk; c0 += bn) {
            const c1 = Math.min(lk, c0 + bn);
            const seen: number[] = [];
            for (let i = 0; i < lq; i++) if (scoresOf(p, b, [i, i + 1], [c0, c1]).visible > 0) seen.push(i);
            if (seen.length === 0 && !keepEmpty) continue;
            expected.push([b, c0, c1, seen[0] ?? 0, seen.length ? (seen.at(-1) as number) + 1 : 0, 0, 0, 0]);
          }
        }
        expect(list).toEqual(expected);
        expect(KEY_TILE.rowEnd).toBe(4);
      }),
      { numRuns: 200 },
    );
  });
});

describe('longestFirst', () => {
  it('orders by cost, keeping the planned order among equals', () => {
    fc.assert(
      fc.property(arbitraryProblem, (p) => {
        const planned = planQueryTiles(p, { blockM: 8, blockN: 8, keepEmpty: true });
        const sorted = longestFirst(planned);
        const key = (list: TileList, n: number) =>
          `${list.items[n * TILE_ITEM_INTS]}:${list.items[n * TILE_ITEM_INTS + 1]}`;
        const position = new Map(Array.from({ length: planned.count }, (_, n) => [key(planned, n), n]));
        for (let n = 1; n < sorted.count; n++) {
          expect(sorted.costs[n - 1] as number).toBeGreaterThanOrEqual(sorted.costs[n] as number);
          if (sorted.costs[n - 1] === sorted.costs[n]) {
            expect(position.get(key(sorted, n - 1)) as number).toBeLessThan(position.get(key(sorted, n)) as number);
          }
        }
        expect([...sorted.items].sort()).toEqual([...planned.items].sort());
      }),
      { numRuns: 200 },
    );
  });
});
