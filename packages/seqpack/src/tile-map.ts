import {
  type CuSeqlensInput,
  describeValue,
  expectationError,
  optionKeys,
  planQueryTiles,
  QUERY_TILE,
  TILE_ITEM_INTS,
  visibleKeyRange,
} from '@fa/core';
import { checkInteger, checkOptions } from './validate.js';
import { resolveVarlenMask } from './varlen-problem.js';

export interface TileMapOptions {
  /** Query rows per tile. */
  readonly blockM: number;
  /** Key columns per tile. */
  readonly blockN: number;
  /** Bottom-right aligned per sequence: key j is visible to query i iff j <= i + Lk - Lq. */
  readonly causal?: boolean;
  /** [left, right] around the aligned diagonal, -1 unbounded; causal forces right = 0. */
  readonly windowSize?: readonly [number, number];
}

const TILE_MAP_OPTION_KEYS = optionKeys<TileMapOptions>()(['blockM', 'blockN', 'causal', 'windowSize']);

export interface TileCounts {
  /** Tiles holding at least one visible score: the work of a kernel that skips empty tiles. */
  readonly computedTiles: number;
  /** Computed tiles whose scores are all visible, which need no per-element mask. */
  readonly fullTiles: number;
  /** Computed tiles that need the mask: `computedTiles - fullTiles`. */
  readonly partialTiles: number;
  /** Tiles of each sequence's own `ceil(Lq / blockM) × ceil(Lk / blockN)` grid that hold no visible score. */
  readonly skippedTiles: number;
  /** `batch × ceil(maxLq / blockM) × ceil(maxLk / blockN)`: the grid a padded kernel would launch. */
  readonly paddedTiles: number;
  /** Exact number of visible (query, key) pairs. */
  readonly visibleScores: number;
  /** Scores inside computed tiles, tiles clipped to their sequence's bounds. */
  readonly computedScores: number;
  /** `batch × maxLq × maxLk`: the scores of the padded layout. */
  readonly paddedScores: number;
}

/**
 * Which tiles of each sequence's score matrix a kernel must compute, in flat arrays with one entry per query tile
 * of the batch, so a kernel (or its scheduler) needs no per-sequence objects. Query tile `t` belongs to sequence
 * `b = sequence[t]`, is tile `m = t - cuQTiles[b]` of it and covers rows `[m·blockM, min(Lq, (m + 1)·blockM))`.
 * Its computed key tiles are `[kTileBegin[t], kTileEnd[t])`; within them, `[fullBegin[t], fullEnd[t])` need no
 * masking, so `kTileBegin ≤ fullBegin ≤ fullEnd ≤ kTileEnd`, and the masked tiles are the two ends. Empty ranges
 * are stored as `begin = end`.
 */
export interface TileMap {
  readonly batch: number;
  readonly blockM: number;
  readonly blockN: number;
  readonly causal: boolean;
  /** The resolved window, -1 unbounded. */
  readonly windowLeft: number;
  readonly windowRight: number;
  /** `Int32Array(batch + 1)`: the query tiles of sequence b are entries `[cuQTiles[b], cuQTiles[b + 1])`. */
  readonly cuQTiles: Int32Array;
  /** `Int32Array(batch)`: `ceil(Lk / blockN)` of each sequence. */
  readonly kTiles: Int32Array;
  /** Per query tile: the sequence it belongs to. */
  readonly sequence: Int32Array;
  readonly kTileBegin: Int32Array;
  readonly kTileEnd: Int32Array;
  readonly fullBegin: Int32Array;
  readonly fullEnd: Int32Array;
  readonly counts: TileCounts;
}

/**
 * Maps a varlen batch onto `blockM × blockN` tiles. The visible key range of a query tile comes from core's
 * `visibleKeySpan` and full visibility from `blockFullyVisible`, the rules kernels mask with, so the map and the
 * kernels cannot disagree about a tile.
 */
export function tileMap(cuSeqlensQ: CuSeqlensInput, cuSeqlensK: CuSeqlensInput, options: TileMapOptions): TileMap {
  const opts = checkOptions(
    options,
    'options',
    'an options object { blockM, blockN, causal?, windowSize? }',
    TILE_MAP_OPTION_KEYS,
  );
  const blockM = checkInteger(opts.blockM, 'blockM', 1);
  const blockN = checkInteger(opts.blockN, 'blockN', 1);
  const mask = resolveVarlenMask(cuSeqlensQ, cuSeqlensK, opts.causal, opts.windowSize);
  const { batch, causal, windowLeft, windowRight, maxSeqlenQ, maxSeqlenK } = mask;

  const cuQTiles = new Int32Array(batch + 1);
  const kTiles = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    cuQTiles[b + 1] = (cuQTiles[b] as number) + Math.ceil(seqlen(mask.cuSeqlensQ, b) / blockM);
    kTiles[b] = Math.ceil(seqlen(mask.cuSeqlensK, b) / blockN);
  }
  // The tiles are core's planner's, the very items every backend's work list is packed from (in planned order;
  // backends schedule them longest first), so the map draws what the kernels run.
  const planned = planQueryTiles(mask, { blockM, blockN, keepEmpty: true });
  const field = (offset: number) =>
    Int32Array.from({ length: planned.count }, (_, t) => planned.items[t * TILE_ITEM_INTS + offset] as number);
  const sequence = field(QUERY_TILE.sequence);
  const kTileBegin = field(QUERY_TILE.keyTileBegin);
  const kTileEnd = field(QUERY_TILE.keyTileEnd);
  const fullBegin = field(QUERY_TILE.fullTileBegin);
  const fullEnd = field(QUERY_TILE.fullTileEnd);
  let computedTiles = 0;
  let fullTiles = 0;
  let gridTiles = 0;
  let visibleScores = 0;
  let computedScores = 0;
  for (let b = 0; b < batch; b++) {
    gridTiles += ((cuQTiles[b + 1] as number) - (cuQTiles[b] as number)) * (kTiles[b] as number);
  }
  for (let t = 0; t < planned.count; t++) {
    const b = sequence[t] as number;
    const seqlenQ = seqlen(mask.cuSeqlensQ, b);
    const seqlenK = seqlen(mask.cuSeqlensK, b);
    const rowStart = planned.items[t * TILE_ITEM_INTS + QUERY_TILE.rowBegin] as number;
    const rowEnd = planned.items[t * TILE_ITEM_INTS + QUERY_TILE.rowEnd] as number;
    const begin = kTileBegin[t] as number;
    const end = kTileEnd[t] as number;
    computedTiles += end - begin;
    fullTiles += (fullEnd[t] as number) - (fullBegin[t] as number);
    computedScores += (rowEnd - rowStart) * (Math.min(seqlenK, end * blockN) - begin * blockN);
    for (let row = rowStart; row < rowEnd; row++) {
      const { first, last } = visibleKeyRange(row, seqlenQ, seqlenK, windowLeft, windowRight);
      visibleScores += Math.max(0, last - first + 1);
    }
  }

  const counts: TileCounts = {
    computedTiles,
    fullTiles,
    partialTiles: computedTiles - fullTiles,
    skippedTiles: gridTiles - computedTiles,
    paddedTiles: batch * Math.ceil(maxSeqlenQ / blockM) * Math.ceil(maxSeqlenK / blockN),
    visibleScores,
    computedScores,
    paddedScores: batch * maxSeqlenQ * maxSeqlenK,
  };
  return {
    batch,
    blockM,
    blockN,
    causal,
    windowLeft,
    windowRight,
    cuQTiles,
    kTiles,
    sequence,
    kTileBegin,
    kTileEnd,
    fullBegin,
    fullEnd,
    counts,
  };
}

/**
 * Calls `visit` for every computed tile, sequence by sequence, query tile by query tile, key tiles ascending.
 * `qTile` and `kTile` count from 0 within the sequence.
 */
export function forEachTile(
  map: TileMap,
  visit: (sequence: number, qTile: number, kTile: number, fullyVisible: boolean) => void,
): void {
  checkTileMap(map);
  if (typeof visit !== 'function') {
    throw expectationError(
      'E_VALUE',
      'visit',
      'a function (sequence, qTile, kTile, fullyVisible)',
      describeValue(visit),
    );
  }
  for (let t = 0; t < map.sequence.length; t++) {
    const b = map.sequence[t] as number;
    const qTile = t - (map.cuQTiles[b] as number);
    const fullBegin = map.fullBegin[t] as number;
    const fullEnd = map.fullEnd[t] as number;
    for (let k = map.kTileBegin[t] as number; k < (map.kTileEnd[t] as number); k++) {
      visit(b, qTile, k, k >= fullBegin && k < fullEnd);
    }
  }
}

function seqlen(cuSeqlens: Int32Array, b: number): number {
  return (cuSeqlens[b + 1] as number) - (cuSeqlens[b] as number);
}

const TILE_ARRAYS = ['cuQTiles', 'sequence', 'kTileBegin', 'kTileEnd', 'fullBegin', 'fullEnd'] as const;

/** A map made by `tileMap`: its index arrays are what `forEachTile` walks, so a stranger object is refused. */
function checkTileMap(map: unknown): asserts map is TileMap {
  const ok =
    map !== null &&
    typeof map === 'object' &&
    TILE_ARRAYS.every((key) => (map as Record<string, unknown>)[key] instanceof Int32Array) &&
    TILE_ARRAYS.slice(2).every(
      (key) => ((map as Record<string, Int32Array>)[key] as Int32Array).length === (map as TileMap).sequence.length,
    );
  if (!ok) throw expectationError('E_VALUE', 'map', 'a TileMap made by tileMap()', describeValue(map));
}
