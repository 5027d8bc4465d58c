import { checkOptionsBag, describeValue, expectationError } from './errors.js';
import { checkKnownKeys, optionKeys } from './known-keys.js';
import { blockFullyVisible, visibleKeySpan } from './mask.js';
import type { AttnProblem } from './options.js';

/**
 * The one tile planner. Every backend's work lists, and `@fa/seqpack`'s `tileMap` that the playground draws, come
 * from here: which tiles of each sequence's score matrix exist, which key tiles each query tile visits, which of
 * those need no mask, and which query rows each key tile meets. Backends only pack the items into the words their
 * kernels read (a WASM job, a WebGPU storage buffer, a CUDA work list) and pick the tile sizes.
 */

/** What the planner reads of a problem: the offsets and the resolved mask. */
export type TileProblem = Pick<AttnProblem, 'batch' | 'cuSeqlensQ' | 'cuSeqlensK' | 'windowLeft' | 'windowRight'>;

/** Int32 words per item of every list, whatever its kind. */
export const TILE_ITEM_INTS = 8;

/**
 * Word offsets of a query-tile item: its sequence, its rows `[rowBegin, rowEnd)` (local to the sequence), the key
 * tiles it visits `[keyTileBegin, keyTileEnd)` (of `blockN` keys; nothing outside the causal/window band), and the
 * fully visible ones among them `[fullTileBegin, fullTileEnd)`, which need no per-score mask. The fully visible
 * tiles are contiguous, since full visibility is an interval condition on a tile's columns. Empty ranges are
 * stored as `begin = end` (`fullTileBegin = fullTileEnd = keyTileEnd` when no tile is full).
 */
export const QUERY_TILE = {
  sequence: 0,
  rowBegin: 1,
  rowEnd: 2,
  keyTileBegin: 3,
  keyTileEnd: 4,
  fullTileBegin: 5,
  fullTileEnd: 6,
} as const;

/**
 * Word offsets of a key-tile item (the dK/dV kernels' work): its sequence, its keys `[keyBegin, keyEnd)` and the
 * query rows that see at least one of them `[rowBegin, rowEnd)` (empty as `0, 0`).
 */
export const KEY_TILE = { sequence: 0, keyBegin: 1, keyEnd: 2, rowBegin: 3, rowEnd: 4 } as const;

export interface TileList {
  readonly kind: 'query' | 'key';
  /** Query rows per tile (`Infinity` for whole-sequence items). */
  readonly blockM: number;
  /** Key columns per tile. */
  readonly blockN: number;
  readonly count: number;
  /** `count × TILE_ITEM_INTS` words, laid out as `QUERY_TILE` or `KEY_TILE` says. */
  readonly items: Int32Array;
  /**
   * Work of each item in scores: rows × keys of the visible span, summed over `blockM`-row tiles for whole-sequence
   * items. Schedulers order by it; it counts the band a kernel visits, not the exact visible scores.
   */
  readonly costs: Float64Array;
}

export interface QueryTileOptions {
  /** Query rows per tile. */
  readonly blockM: number;
  /** Key columns per key tile. */
  readonly blockN: number;
  /**
   * Keep tiles whose rows see no key (the forward must still write their `lse = +inf` and zero output). With
   * `wholeSequences`, keeps sequences with keys but no query too, whose dK/dV such an item owns.
   */
  readonly keepEmpty: boolean;
  /**
   * One item per sequence holding all its rows (a kernel that walks the sequence's tiles itself); its key tiles
   * are those of all its rows, and its cost the sum over its `blockM`-row tiles.
   */
  readonly wholeSequences?: boolean;
}

export interface KeyTileOptions {
  /** Keys per tile. */
  readonly blockN: number;
  /** Keep key tiles that no query row sees (their gradients are zero). */
  readonly keepEmpty: boolean;
}

function seqlens(problem: TileProblem, b: number): { lq: number; lk: number } {
  return {
    lq: (problem.cuSeqlensQ[b + 1] as number) - (problem.cuSeqlensQ[b] as number),
    lk: (problem.cuSeqlensK[b + 1] as number) - (problem.cuSeqlensK[b] as number),
  };
}

const QUERY_TILE_OPTION_KEYS = optionKeys<QueryTileOptions>()(['blockM', 'blockN', 'keepEmpty', 'wholeSequences']);
const KEY_TILE_OPTION_KEYS = optionKeys<KeyTileOptions>()(['blockN', 'keepEmpty']);

/** Cheap structural checks of a problem the planner trusts otherwise (it comes from `resolveAttnProblem`). */
function checkTileProblem(problem: unknown): asserts problem is TileProblem {
  const p = problem as Partial<TileProblem> | null;
  const ok =
    p !== null &&
    typeof p === 'object' &&
    p.cuSeqlensQ instanceof Int32Array &&
    p.cuSeqlensK instanceof Int32Array &&
    p.batch === p.cuSeqlensQ.length - 1 &&
    p.batch === p.cuSeqlensK.length - 1 &&
    Number.isSafeInteger(p.windowLeft) &&
    Number.isSafeInteger(p.windowRight);
  if (!ok) {
    throw expectationError('E_VALUE', 'problem', 'an AttnProblem made by resolveAttnProblem', describeValue(problem));
  }
}

function checkTileOptions(options: unknown, keys: readonly string[], expected: string): Record<string, unknown> {
  checkOptionsBag(options, 'options', expected);
  checkKnownKeys(options, 'options', keys);
  if (typeof options.keepEmpty !== 'boolean') {
    throw expectationError('E_VALUE', 'keepEmpty', 'a boolean', describeValue(options.keepEmpty));
  }
  return options;
}

function checkBlock(value: unknown, argument: string): number {
  if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 1)) {
    throw expectationError('E_VALUE', argument, 'a positive integer', describeValue(value));
  }
  return value;
}

/** Items in the making: plain numbers until the list's length is known. */
class ItemBuilder {
  readonly #words: number[] = [];
  readonly #costs: number[] = [];

  push(words: readonly number[], cost: number): void {
    for (let w = 0; w < TILE_ITEM_INTS; w++) this.#words.push(words[w] ?? 0);
    this.#costs.push(cost);
  }

  finish(kind: TileList['kind'], blockM: number, blockN: number): TileList {
    return {
      kind,
      blockM,
      blockN,
      count: this.#costs.length,
      items: Int32Array.from(this.#words),
      costs: Float64Array.from(this.#costs),
    };
  }
}

/** The key tiles `[begin, end)` that rows `[row0, row1)` visit, and the fully visible ones among them. */
function keyTilesOfRows(problem: TileProblem, row0: number, row1: number, lq: number, lk: number, bn: number) {
  const { windowLeft, windowRight } = problem;
  const span = visibleKeySpan(row0, row1, lq, lk, windowLeft, windowRight);
  const empty = span.end <= span.first;
  const begin = empty ? 0 : Math.floor(span.first / bn);
  const end = empty ? 0 : Math.ceil(span.end / bn);
  let fullBegin = end;
  let fullEnd = end;
  for (let kt = begin; kt < end; kt++) {
    const c0 = kt * bn;
    if (blockFullyVisible(row0, row1, c0, Math.min(lk, c0 + bn), lq, lk, windowLeft, windowRight)) {
      if (fullBegin === end) fullBegin = kt;
      fullEnd = kt + 1;
    }
  }
  return { empty, begin, end, fullBegin, fullEnd, cost: (row1 - row0) * (span.end - span.first) };
}

/**
 * Query tiles of every sequence, in sequence order and row order within each (`longestFirst` schedules them).
 * `problem` must be valid (from `resolveAttnProblem`); tile sizes are checked.
 */
export function planQueryTiles(problem: TileProblem, options: QueryTileOptions): TileList {
  checkTileProblem(problem);
  checkTileOptions(options, QUERY_TILE_OPTION_KEYS, 'an options object { blockM, blockN, keepEmpty, wholeSequences? }');
  if (options.wholeSequences !== undefined && typeof options.wholeSequences !== 'boolean') {
    throw expectationError('E_VALUE', 'wholeSequences', 'a boolean', describeValue(options.wholeSequences));
  }
  const bm = checkBlock(options.blockM, 'blockM');
  const bn = checkBlock(options.blockN, 'blockN');
  const whole = options.wholeSequences === true;
  const items = new ItemBuilder();
  for (let b = 0; b < problem.batch; b++) {
    const { lq, lk } = seqlens(problem, b);
    if (whole) {
      if (lq === 0 && !(options.keepEmpty && lk > 0)) continue;
      const tiles = keyTilesOfRows(problem, 0, lq, lq, lk, bn);
      let cost = 0;
      for (let row0 = 0; row0 < lq; row0 += bm) {
        cost += keyTilesOfRows(problem, row0, Math.min(lq, row0 + bm), lq, lk, bn).cost;
      }
      if (tiles.empty && !options.keepEmpty) continue;
      items.push([b, 0, lq, tiles.begin, tiles.end, tiles.fullBegin, tiles.fullEnd], cost);
      continue;
    }
    for (let row0 = 0; row0 < lq; row0 += bm) {
      const row1 = Math.min(lq, row0 + bm);
      const tiles = keyTilesOfRows(problem, row0, row1, lq, lk, bn);
      if (tiles.empty && !options.keepEmpty) continue;
      items.push([b, row0, row1, tiles.begin, tiles.end, tiles.fullBegin, tiles.fullEnd], tiles.cost);
    }
  }
  return items.finish('query', whole ? Number.POSITIVE_INFINITY : bm, bn);
}

/**
 * The query rows `[first, end)` that see at least one key of columns `[c0, c1)`. Row i sees
 * `[i + Lk - Lq - left, i + Lk - Lq + right]` (clipped to the sequence); both ends grow with i, so the rows that
 * reach the columns form one interval.
 */
export function visibleRowSpan(
  c0: number,
  c1: number,
  lq: number,
  lk: number,
  windowLeft: number,
  windowRight: number,
): { first: number; end: number } {
  if (c1 <= c0 || lq === 0 || lk === 0) return { first: 0, end: 0 };
  const offset = lk - lq;
  const first = windowRight < 0 ? 0 : Math.max(0, c0 - offset - windowRight);
  const end = windowLeft < 0 ? lq : Math.min(lq, c1 - 1 - offset + windowLeft + 1);
  return end > first ? { first, end } : { first: 0, end: 0 };
}

/** Key tiles of every sequence with the query rows that see them, in sequence and key order. */
export function planKeyTiles(problem: TileProblem, options: KeyTileOptions): TileList {
  checkTileProblem(problem);
  checkTileOptions(options, KEY_TILE_OPTION_KEYS, 'an options object { blockN, keepEmpty }');
  const bn = checkBlock(options.blockN, 'blockN');
  const items = new ItemBuilder();
  for (let b = 0; b < problem.batch; b++) {
    const { lq, lk } = seqlens(problem, b);
    for (let c0 = 0; c0 < lk; c0 += bn) {
      const c1 = Math.min(lk, c0 + bn);
      const rows = visibleRowSpan(c0, c1, lq, lk, problem.windowLeft, problem.windowRight);
      if (rows.end <= rows.first && !options.keepEmpty) continue;
      items.push([b, c0, c1, rows.first, rows.end], (rows.end - rows.first) * (c1 - c0));
    }
  }
  return items.finish('key', bn, bn);
}

/**
 * The same items, longest work first, so that long tiles start early and short ones fill the tail. The sort is
 * stable, so equal costs keep their planned order and the schedule is the same every run.
 */
export function longestFirst(list: TileList): TileList {
  const ok =
    list !== null &&
    typeof list === 'object' &&
    Number.isSafeInteger(list.count) &&
    list.items instanceof Int32Array &&
    list.costs instanceof Float64Array &&
    list.items.length === list.count * TILE_ITEM_INTS &&
    list.costs.length === list.count;
  if (!ok) throw expectationError('E_VALUE', 'list', 'a TileList made by the tile planner', describeValue(list));
  const order = Array.from({ length: list.count }, (_, i) => i);
  order.sort((x, y) => (list.costs[y] as number) - (list.costs[x] as number));
  const items = new Int32Array(list.items.length);
  const costs = new Float64Array(list.count);
  order.forEach((from, to) => {
    items.set(list.items.subarray(from * TILE_ITEM_INTS, (from + 1) * TILE_ITEM_INTS), to * TILE_ITEM_INTS);
    costs[to] = list.costs[from] as number;
  });
  return { ...list, items, costs };
}
