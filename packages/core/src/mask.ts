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
