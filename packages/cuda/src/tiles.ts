import {
  KEY_TILE,
  longestFirst,
  planKeyTiles,
  planQueryTiles,
  QUERY_TILE,
  TILE_ITEM_INTS,
  type TileList,
  type TileProblem,
} from '@fa/core';
import { checkProblem, checkTileExtent } from './options.js';

/**
 * Work lists as the kernels read them: core's tile planner decides the tiles, longest work first (a stable sort,
 * so the list, and with it the block order, is the same every run), and this packs one `(sequence, first row)`
 * (or `first key`) pair per tile. Every tile is listed, even one whose rows see no key (the forward must still
 * write its `lse = +inf`, the gradients their zeros); the kernels find each tile's visible range themselves with
 * the same rules (csrc/block_info.h mirrors core's `visibleKeySpan` and `visibleRowSpan`).
 */
function pack(list: TileList, startWord: number): Int32Array {
  const scheduled = longestFirst(list);
  const pairs = new Int32Array(scheduled.count * 2);
  for (let t = 0; t < scheduled.count; t++) {
    pairs[2 * t] = scheduled.items[t * TILE_ITEM_INTS] as number;
    pairs[2 * t + 1] = scheduled.items[t * TILE_ITEM_INTS + startWord] as number;
  }
  return pairs;
}

/** Query tiles of `rows` rows: the forward's and the dQ kernel's work. Cost: visible keys × rows. */
export function queryWorkList(problem: TileProblem, rows: number): Int32Array {
  checkProblem(problem);
  checkTileExtent(rows, 'rows');
  // Only rows and costs are read: the kernels walk their own key tiles, so the planner's key-tile size is moot.
  return pack(planQueryTiles(problem, { blockM: rows, blockN: rows, keepEmpty: true }), QUERY_TILE.rowBegin);
}

/** Key tiles of `keys` keys: the dK/dV kernel's work. Cost: visible query rows × keys. */
export function keyWorkList(problem: TileProblem, keys: number): Int32Array {
  checkProblem(problem);
  checkTileExtent(keys, 'keys');
  return pack(planKeyTiles(problem, { blockN: keys, keepEmpty: true }), KEY_TILE.keyBegin);
}

/** Query rows `[first, end)` that see a key of `[col0, col1)`: core's rule, which csrc/block_info.h mirrors. */
export { visibleRowSpan } from '@fa/core';
