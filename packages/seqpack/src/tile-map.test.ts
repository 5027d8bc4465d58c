import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectFaError } from '../test/expect-fa-error.js';
import { cuSeqlensFromLengths } from './cu-seqlens.js';
import { forEachTile, type TileMap, tileMap } from './tile-map.js';

const cu = (...lengths: number[]) => cuSeqlensFromLengths(lengths);

/** Per query tile of sequence `b`: [kTileBegin, kTileEnd, fullBegin, fullEnd]. */
function ranges(map: TileMap, b: number): number[][] {
  const out: number[][] = [];
  for (let t = map.cuQTiles[b] as number; t < (map.cuQTiles[b + 1] as number); t++) {
    out.push([map.kTileBegin[t], map.kTileEnd[t], map.fullBegin[t], map.fullEnd[t]] as number[]);
  }
  return out;
}

describe('tileMap', () => {
  it('maps a causal square sequence', () => {
    // Lq = Lk = 5 in 2 × 2 tiles. Rows 0-1 see keys 0-1 (masked); rows 2-3 see 0-3 (tile 0 full, tile 1 masked);
    // row 4 sees everything.
    const map = tileMap(cu(5), cu(5), { blockM: 2, blockN: 2, causal: true });
    expect(map.cuQTiles).toEqual(Int32Array.from([0, 3]));
    expect(map.kTiles).toEqual(Int32Array.from([3]));
    expect(map.sequence).toEqual(Int32Array.from([0, 0, 0]));
    expect(ranges(map, 0)).toEqual([
      [0, 1, 1, 1],
      [0, 2, 0, 1],
      [0, 3, 0, 3],
    ]);
    expect(map.counts).toEqual({
      computedTiles: 6,
      fullTiles: 4,
      partialTiles: 2,
      skippedTiles: 3,
      paddedTiles: 9,
      visibleScores: 15,
      computedScores: 2 * 2 + 2 * 4 + 1 * 5,
      paddedScores: 25,
    });
    expect(map.windowLeft).toBe(-1);
    expect(map.windowRight).toBe(0);
  });

  it('aligns each sequence of a varlen batch to its own bottom-right corner', () => {
    // Sequence 0: Lq = 2, Lk = 5, so row 0 sees keys 0-3 and row 1 all five.
    // Sequence 1: Lq = 5, Lk = 2, so rows 0-2 see nothing and the first query tile is skipped.
    const map = tileMap(cu(2, 5), cu(5, 2), { blockM: 2, blockN: 2, causal: true });
    expect(map.cuQTiles).toEqual(Int32Array.from([0, 1, 4]));
    expect(map.sequence).toEqual(Int32Array.from([0, 1, 1, 1]));
    expect(ranges(map, 0)).toEqual([[0, 3, 0, 2]]);
    expect(ranges(map, 1)).toEqual([
      [0, 0, 0, 0],
      [0, 1, 1, 1],
      [0, 1, 0, 1],
    ]);
    expect(map.counts.visibleScores).toBe(4 + 5 + 0 + 0 + 0 + 1 + 2);
    expect(map.counts.paddedTiles).toBe(2 * 3 * 3);
    expect(map.counts.paddedScores).toBe(2 * 5 * 5);
    // Only sequence 1's first query tile, which sees no key, is skipped.
    expect(map.counts.skippedTiles).toBe(1);
  });

  it('keeps a sliding window to the tiles around the diagonal', () => {
    const map = tileMap(cu(9), cu(9), { blockM: 3, blockN: 3, windowSize: [1, 1] });
    expect(ranges(map, 0)).toEqual([
      [0, 2, 2, 2],
      [0, 3, 3, 3],
      [1, 3, 3, 3],
    ]);
    expect(map.counts.visibleScores).toBe(9 * 3 - 2);
    expect(map.counts.fullTiles).toBe(0);
  });

  it('computes every tile without a mask', () => {
    const map = tileMap(cu(3, 7), cu(5, 1), { blockM: 4, blockN: 2 });
    expect(ranges(map, 0)).toEqual([[0, 3, 0, 3]]);
    expect(ranges(map, 1)).toEqual([
      [0, 1, 0, 1],
      [0, 1, 0, 1],
    ]);
    expect(map.counts.partialTiles).toBe(0);
    expect(map.counts.visibleScores).toBe(3 * 5 + 7 * 1);
    expect(map.counts.computedScores).toBe(map.counts.visibleScores);
  });

  it('handles empty sequences and empty batches', () => {
    const map = tileMap(cu(0, 3), cu(4, 0), { blockM: 2, blockN: 2 });
    expect(map.cuQTiles).toEqual(Int32Array.from([0, 0, 2]));
    expect(ranges(map, 1)).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    expect(map.counts.computedTiles).toBe(0);
    expect(tileMap(cu(), cu(), { blockM: 3, blockN: 5 }).counts.paddedTiles).toBe(0);
  });

  it('visits computed tiles in order with forEachTile', () => {
    const visits: unknown[] = [];
    forEachTile(tileMap(cu(3), cu(3), { blockM: 2, blockN: 2, causal: true }), (...args) => visits.push(args));
    expect(visits).toEqual([
      [0, 0, 0, false],
      [0, 1, 0, true],
      [0, 1, 1, true],
    ]);
  });

  it('rejects bad arguments', () => {
    const q = cu(3, 5);
    expectFaError(() => tileMap(q, q, undefined as never), 'E_VALUE', 'options');
    expectFaError(() => tileMap(q, q, { blockM: 0, blockN: 2 }), 'E_VALUE', 'blockM');
    expectFaError(() => tileMap(q, q, { blockM: 2, blockN: 1.5 }), 'E_VALUE', 'blockN');
    expectFaError(() => tileMap([0, Number.NaN], q, { blockM: 2, blockN: 2 }), 'E_CU_SEQLENS', 'cuSeqlensQ');
    expect(tileMap(Array.from(q), [...q], { blockM: 2, blockN: 2 })).toEqual(tileMap(q, q, { blockM: 2, blockN: 2 }));
    expectFaError(() => tileMap(q, Int32Array.from([0, 4, 2]), { blockM: 2, blockN: 2 }), 'E_CU_SEQLENS', 'cuSeqlensK');
    expectFaError(() => tileMap(q, cu(3), { blockM: 2, blockN: 2 }), 'E_CU_SEQLENS', 'cuSeqlensK');
    expectFaError(() => tileMap(q, q, { blockM: 2, blockN: 2, causal: 1 as never }), 'E_VALUE', 'causal');
    expectFaError(() => tileMap(q, q, { blockM: 2, blockN: 2, windowSize: [-2, 1] }), 'E_VALUE', 'windowSize');
    expectFaError(() => tileMap(q, q, { blockM: 2, blockN: 2, windowSize: [3] as never }), 'E_VALUE', 'windowSize');
  });

  it('agrees with brute-force enumeration of visible scores', () => {
    const caseArb = fc.record({
      lengths: fc.array(fc.tuple(fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 13 })), {
        minLength: 1,
        maxLength: 4,
      }),
      blockM: fc.integer({ min: 1, max: 5 }),
      blockN: fc.integer({ min: 1, max: 5 }),
      causal: fc.boolean(),
      windowSize: fc.option(fc.tuple(fc.integer({ min: -1, max: 6 }), fc.integer({ min: -1, max: 6 })), {
        nil: undefined,
      }),
    });
    fc.assert(
      fc.property(caseArb, ({ lengths, blockM, blockN, causal, windowSize }) => {
        const map = tileMap(cu(...lengths.map(([q]) => q)), cu(...lengths.map(([, k]) => k)), {
          blockM,
          blockN,
          causal,
          windowSize,
        });
        const [left, right] = windowSize ?? [-1, -1];
        const visited = new Map<string, boolean>();
        forEachTile(map, (b, m, n, full) => visited.set(`${b}:${m}:${n}`, full));

        let visible = 0;
        let computed = 0;
        let computedTiles = 0;
        lengths.forEach(([seqlenQ, seqlenK], b) => {
          // The rule written out independently of core: bottom-right aligned, causal forcing right = 0.
          const sees = (i: number, j: number) => {
            const d = j - (i + seqlenK - seqlenQ);
            return (left < 0 || d >= -left) && ((causal ? 0 : right) < 0 || d <= (causal ? 0 : right));
          };
          for (let m = 0; m * blockM < seqlenQ; m++) {
            const t = (map.cuQTiles[b] as number) + m;
            const [begin, end, fullBegin, fullEnd] = [map.kTileBegin, map.kTileEnd, map.fullBegin, map.fullEnd].map(
              (a) => a[t] as number,
            ) as [number, number, number, number];
            expect(begin <= fullBegin && fullBegin <= fullEnd && fullEnd <= end).toBe(true);
            for (let n = 0; n * blockN < seqlenK; n++) {
              let count = 0;
              let size = 0;
              for (let i = m * blockM; i < Math.min(seqlenQ, (m + 1) * blockM); i++) {
                for (let j = n * blockN; j < Math.min(seqlenK, (n + 1) * blockN); j++) {
                  size++;
                  if (sees(i, j)) count++;
                }
              }
              visible += count;
              const isComputed = n >= begin && n < end;
              // Computed tiles are exactly those holding a visible score; full ones are those with every score visible.
              expect(isComputed).toBe(count > 0);
              expect(n >= fullBegin && n < fullEnd).toBe(count === size);
              expect(visited.get(`${b}:${m}:${n}`)).toBe(isComputed ? count === size : undefined);
              if (isComputed) {
                computed += size;
                computedTiles++;
              }
            }
          }
        });
        expect(visited.size).toBe(computedTiles);
        expect(map.counts.visibleScores).toBe(visible);
        expect(map.counts.computedScores).toBe(computed);
        expect(map.counts.computedTiles).toBe(computedTiles);
        const grid = lengths.reduce((sum, [q, k]) => sum + Math.ceil(q / blockM) * Math.ceil(k / blockN), 0);
        expect(map.counts.skippedTiles).toBe(grid - computedTiles);
        const maxQ = Math.max(...lengths.map(([q]) => q));
        const maxK = Math.max(...lengths.map(([, k]) => k));
        expect(map.counts.paddedTiles).toBe(lengths.length * Math.ceil(maxQ / blockM) * Math.ceil(maxK / blockN));
        expect(map.counts.paddedScores).toBe(lengths.length * maxQ * maxK);
      }),
      { numRuns: 300 },
    );
  });
});
