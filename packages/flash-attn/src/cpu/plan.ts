import { type AttnProblem, longestFirst, planQueryTiles, QUERY_TILE, TILE_ITEM_INTS, type TileList } from '@fa/core';

/**
 * Work items, four int32 each: (sequence, query head, first query row, end query row), sorted longest first so
 * that dynamic scheduling ends with short items and the threads finish together. Every output element belongs
 * to exactly one item, so the partition, not the schedule, fixes the summation order.
 */
export interface WorkList {
  readonly items: Int32Array;
  readonly count: number;
  /** Estimated multiply-adds of the whole list, to decide whether threads are worth waking. */
  readonly cost: number;
}

export const ITEM_INTS = 4;

// Per-row work outside the matrix products (packing, softmax bookkeeping, output), in multiply-add units.
const ROW_OVERHEAD = 8;

/**
 * The planner's tiles, each expanded into one item per query head, in the order of the CPU's own cost estimate
 * (multiply-adds, with per-row overhead): longest first, ties in planned order, a tile's heads together.
 */
function perHead(
  problem: AttnProblem,
  tiles: TileList,
  itemCost: (tile: Int32Array, cost: number) => number,
): WorkList {
  const costs = Float64Array.from({ length: tiles.count }, (_, n) =>
    itemCost(tiles.items.subarray(n * TILE_ITEM_INTS, (n + 1) * TILE_ITEM_INTS), tiles.costs[n] as number),
  );
  const scheduled = longestFirst({ ...tiles, costs });
  const heads = problem.numHeads;
  const items = new Int32Array(scheduled.count * heads * ITEM_INTS);
  let cost = 0;
  for (let n = 0, at = 0; n < scheduled.count; n++) {
    const tile = scheduled.items.subarray(n * TILE_ITEM_INTS, (n + 1) * TILE_ITEM_INTS);
    for (let h = 0; h < heads; h++, at += ITEM_INTS) {
      items[at] = tile[QUERY_TILE.sequence] as number;
      items[at + 1] = h;
      items[at + 2] = tile[QUERY_TILE.rowBegin] as number;
      items[at + 3] = tile[QUERY_TILE.rowEnd] as number;
    }
    cost += (scheduled.costs[n] as number) * heads;
  }
  return { items, count: scheduled.count * heads, cost };
}

/** Forward items: one query tile (core's planner, every tile kept: empty rows still write lse) of one head. */
export function forwardWork(problem: AttnProblem, blockQ: number): WorkList {
  const width = problem.headDim + problem.headDimV;
  // The kernels walk their key tiles themselves: only the rows and the visible-span cost are read here.
  const tiles = planQueryTiles(problem, { blockM: blockQ, blockN: blockQ, keepEmpty: true });
  return perHead(problem, tiles, (tile, pairs) => {
    const rows = (tile[QUERY_TILE.rowEnd] as number) - (tile[QUERY_TILE.rowBegin] as number);
    return (pairs + rows * ROW_OVERHEAD) * width;
  });
}

/**
 * Backward items: one head of one sequence, all its rows (a sequence with keys but no query still owns its zero
 * dK/dV). The item owns dQ of its rows outright and its own slice of dK and dV (per query head when heads share
 * keys, summed later in a fixed order).
 */
export function backwardWork(problem: AttnProblem, blockQ: number): WorkList {
  // Five products per visible pair: S, dP, dV, dK, dQ.
  const width = 2.5 * (problem.headDim + problem.headDimV);
  const sequences = planQueryTiles(problem, { blockM: blockQ, blockN: blockQ, keepEmpty: true, wholeSequences: true });
  return perHead(problem, sequences, (tile, pairs) => {
    const b = tile[QUERY_TILE.sequence] as number;
    const seqlenK = (problem.cuSeqlensK[b + 1] as number) - (problem.cuSeqlensK[b] as number);
    return (pairs + ((tile[QUERY_TILE.rowEnd] as number) + seqlenK) * ROW_OVERHEAD) * width;
  });
}
