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

/**
 * Work lists as the WGSL kernels read them: core's tile planner (`planQueryTiles`, `planKeyTiles`) decides the
 * tiles, longest work first, and this packs each item into `ITEM_WORDS` u32 words of a storage buffer. One entry
 * per real tile, so a skewed batch launches no workgroups for the padding a `ceil(maxLen / bm) × batch` grid
 * would hold.
 */
export const ITEM_WORDS = 8;

export interface ItemList {
  readonly words: Uint32Array;
  readonly count: number;
}

function pack(list: TileList, words: (item: Int32Array) => readonly number[]): ItemList {
  const scheduled = longestFirst(list);
  const out = new Uint32Array(scheduled.count * ITEM_WORDS);
  for (let n = 0; n < scheduled.count; n++) {
    out.set(words(scheduled.items.subarray(n * TILE_ITEM_INTS, (n + 1) * TILE_ITEM_INTS)), n * ITEM_WORDS);
  }
  return { words: out, count: scheduled.count };
}

/**
 * Query tiles: `(sequence, first row, first key tile, end key tile, first fully visible key tile, end of those)`.
 * With `keepEmpty`, tiles whose rows see no key stay in the list (the forward must still write their
 * `lse = +inf`); the dQ kernel drops them, its zero-initialised output being already right.
 */
export function queryTiles(problem: TileProblem, bm: number, bn: number, keepEmpty: boolean): ItemList {
  return pack(planQueryTiles(problem, { blockM: bm, blockN: bn, keepEmpty }), (item) => [
    item[QUERY_TILE.sequence] as number,
    item[QUERY_TILE.rowBegin] as number,
    item[QUERY_TILE.keyTileBegin] as number,
    item[QUERY_TILE.keyTileEnd] as number,
    item[QUERY_TILE.fullTileBegin] as number,
    item[QUERY_TILE.fullTileEnd] as number,
  ]);
}

/**
 * Key tiles for the dK/dV kernel: `(sequence, first key, first query row, end query row)`. Only tiles that some
 * query row sees; the others keep their zero-initialised gradients.
 */
export function keyTiles(problem: TileProblem, bn: number): ItemList {
  return pack(planKeyTiles(problem, { blockN: bn, keepEmpty: false }), (item) => [
    item[KEY_TILE.sequence] as number,
    item[KEY_TILE.keyBegin] as number,
    item[KEY_TILE.rowBegin] as number,
    item[KEY_TILE.rowEnd] as number,
  ]);
}
