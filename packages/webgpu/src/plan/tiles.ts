import { type AttnProblem, blockFullyVisible, visibleKeySpan } from '@fa/core';

/**
 * Work lists, built on the host from cu_seqlens and uploaded as data: one entry per real tile, so a skewed batch
 * launches no workgroups for the padding a `ceil(maxLen / bm) × batch` grid would hold. Entries are sorted
 * longest work first so that the long tiles start early and the short ones fill in at the end. Each entry is
 * `ITEM_WORDS` u32 words; the kernels document what the words mean.
 */
export const ITEM_WORDS = 8;

export interface ItemList {
  readonly words: Uint32Array;
  readonly count: number;
}

function seqlens(problem: Pick<AttnProblem, 'cuSeqlensQ' | 'cuSeqlensK'>, b: number) {
  const { cuSeqlensQ, cuSeqlensK } = problem;
  return {
    lq: (cuSeqlensQ[b + 1] as number) - (cuSeqlensQ[b] as number),
    lk: (cuSeqlensK[b + 1] as number) - (cuSeqlensK[b] as number),
  };
}

function pack(entries: { words: number[]; cost: number }[]): ItemList {
  // Stable sort: equal costs keep sequence order, so the list (and the results) are reproducible.
  entries.sort((x, y) => y.cost - x.cost);
  const words = new Uint32Array(entries.length * ITEM_WORDS);
  entries.forEach((e, n) => words.set(e.words, n * ITEM_WORDS));
  return { words, count: entries.length };
}

type MaskProblem = Pick<AttnProblem, 'batch' | 'cuSeqlensQ' | 'cuSeqlensK' | 'windowLeft' | 'windowRight'>;

/**
 * Query tiles: `(sequence, first row, first key tile, end key tile, first fully visible key tile, end of those)`.
 * Key tiles outside the causal/window band are never visited; the fully visible ones skip per-score masking.
 * With `keepEmpty`, tiles whose rows see no key at all stay in the list (the forward must still write their
 * `lse = +inf`); the dQ kernel drops them, its zero-initialised output being already right.
 */
export function queryTiles(problem: MaskProblem, bm: number, bn: number, keepEmpty: boolean): ItemList {
  const { windowLeft, windowRight } = problem;
  const entries: { words: number[]; cost: number }[] = [];
  for (let b = 0; b < problem.batch; b++) {
    const { lq, lk } = seqlens(problem, b);
    for (let row0 = 0; row0 < lq; row0 += bm) {
      const row1 = Math.min(lq, row0 + bm);
      const span = visibleKeySpan(row0, row1, lq, lk, windowLeft, windowRight);
      const empty = span.end <= span.first;
      if (empty && !keepEmpty) continue;
      const kt0 = empty ? 0 : Math.floor(span.first / bn);
      const kt1 = empty ? 0 : Math.ceil(span.end / bn);
      // Full visibility is an interval condition on a tile's columns, so the fully visible tiles are contiguous.
      let ft0 = kt1;
      let ft1 = kt1;
      for (let kt = kt0; kt < kt1; kt++) {
        const c0 = kt * bn;
        const c1 = Math.min(lk, c0 + bn);
        if (blockFullyVisible(row0, row1, c0, c1, lq, lk, windowLeft, windowRight)) {
          if (ft0 === kt1) ft0 = kt;
          ft1 = kt + 1;
        }
      }
      entries.push({ words: [b, row0, kt0, kt1, ft0, ft1, 0, 0], cost: (kt1 - kt0) * (row1 - row0) });
    }
  }
  return pack(entries);
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

/**
 * Key tiles for the dK/dV kernel: `(sequence, first key, first query row, end query row)`. Only tiles that some
 * query row sees; the others keep their zero-initialised gradients.
 */
export function keyTiles(problem: MaskProblem, bn: number): ItemList {
  const entries: { words: number[]; cost: number }[] = [];
  for (let b = 0; b < problem.batch; b++) {
    const { lq, lk } = seqlens(problem, b);
    for (let c0 = 0; c0 < lk; c0 += bn) {
      const c1 = Math.min(lk, c0 + bn);
      const rows = visibleRowSpan(c0, c1, lq, lk, problem.windowLeft, problem.windowRight);
      if (rows.end <= rows.first) continue;
      entries.push({ words: [b, c0, rows.first, rows.end, 0, 0, 0, 0], cost: (rows.end - rows.first) * (c1 - c0) });
    }
  }
  return pack(entries);
}
