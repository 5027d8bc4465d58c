/**
 * Which keys a query sees. All rules are per sequence, with queries aligned to the bottom-right corner of the
 * score matrix: query i of a sequence with Lq queries and Lk keys sits at key position `i + Lk - Lq`.
 */

/** The visible key range of one query row as inclusive bounds; empty when `first > last`. */
export interface KeyRange {
  first: number;
  last: number;
}

/**
 * Key j is visible to query i iff `i + Lk - Lq - left <= j <= i + Lk - Lq + right`, a bound of -1 being unbounded.
 * Causal attention is the window (left, 0).
 */
export function visibleKeyRange(
  row: number,
  seqlenQ: number,
  seqlenK: number,
  windowLeft: number,
  windowRight: number,
): KeyRange {
  const diagonal = row + seqlenK - seqlenQ;
  const first = windowLeft < 0 ? 0 : Math.max(0, diagonal - windowLeft);
  const last = windowRight < 0 ? seqlenK - 1 : Math.min(seqlenK - 1, diagonal + windowRight);
  return { first, last };
}

/** ALiBi's bias: `-slope * |i + Lk - Lq - j|`, added after scaling and softcapping. */
export function alibiBias(slope: number, row: number, col: number, seqlenQ: number, seqlenK: number): number {
  return -slope * Math.abs(row + seqlenK - seqlenQ - col);
}

/**
 * Key columns that any query row in `[rowStart, rowEnd)` can see, as a half-open range `[first, end)`; empty
 * when `end <= first`. The visible band is monotone in the row, so the first row bounds it on the left and
 * the last row on the right: a key tile outside this range holds no visible score and is skipped entirely.
 */
export function visibleKeySpan(
  rowStart: number,
  rowEnd: number,
  seqlenQ: number,
  seqlenK: number,
  windowLeft: number,
  windowRight: number,
): { first: number; end: number } {
  if (rowEnd <= rowStart || seqlenK === 0) return { first: 0, end: 0 };
  const top = visibleKeyRange(rowStart, seqlenQ, seqlenK, windowLeft, windowRight);
  const bottom = visibleKeyRange(rowEnd - 1, seqlenQ, seqlenK, windowLeft, windowRight);
  const first = Math.max(0, top.first);
  const end = Math.min(seqlenK, bottom.last + 1);
  return end > first ? { first, end } : { first: 0, end: 0 };
}

/**
 * Whether every score of the block `rows [rowStart, rowEnd) × cols [colStart, colEnd)` is visible, so a kernel
 * can skip per-element masking there.
 */
export function blockFullyVisible(
  rowStart: number,
  rowEnd: number,
  colStart: number,
  colEnd: number,
  seqlenQ: number,
  seqlenK: number,
  windowLeft: number,
  windowRight: number,
): boolean {
  if (rowEnd <= rowStart || colEnd <= colStart) return false;
  // The top row has the tightest right bound, the bottom row the tightest left bound.
  const top = visibleKeyRange(rowStart, seqlenQ, seqlenK, windowLeft, windowRight);
  const bottom = visibleKeyRange(rowEnd - 1, seqlenQ, seqlenK, windowLeft, windowRight);
  return colStart >= bottom.first && colEnd - 1 <= top.last;
}
