// Which keys a query sees, mirroring @fa/core's mask.ts: per sequence, aligned to the bottom-right corner.

@inline
function firstVisible(row: i32, seqlenQ: i32, seqlenK: i32, windowLeft: i32): i32 {
  return windowLeft < 0 ? 0 : max(0, row + seqlenK - seqlenQ - windowLeft);
}

@inline
function lastVisible(row: i32, seqlenQ: i32, seqlenK: i32, windowRight: i32): i32 {
  return windowRight < 0 ? seqlenK - 1 : min(seqlenK - 1, row + seqlenK - seqlenQ + windowRight);
}

// The span of `keySpan`, as globals since a function returns one value.
export let spanFirst: i32 = 0;
export let spanEnd: i32 = 0;

/** Key columns [spanFirst, spanEnd) that some row in [rowStart, rowEnd) sees; empty when spanEnd <= spanFirst. */
export function keySpan(
  rowStart: i32,
  rowEnd: i32,
  seqlenQ: i32,
  seqlenK: i32,
  windowLeft: i32,
  windowRight: i32,
): void {
  spanFirst = 0;
  spanEnd = 0;
  if (rowEnd <= rowStart || seqlenK == 0) return;
  const first = firstVisible(rowStart, seqlenQ, seqlenK, windowLeft);
  const end = lastVisible(rowEnd - 1, seqlenQ, seqlenK, windowRight) + 1;
  if (end > first) {
    spanFirst = first;
    spanEnd = end;
  }
}

/** Whether every score of rows [rowStart, rowEnd) x cols [colStart, colEnd) is visible. */
export function blockFullyVisible(
  rowStart: i32,
  rowEnd: i32,
  colStart: i32,
  colEnd: i32,
  seqlenQ: i32,
  seqlenK: i32,
  windowLeft: i32,
  windowRight: i32,
): bool {
  if (rowEnd <= rowStart || colEnd <= colStart) return false;
  return (
    colStart >= firstVisible(rowEnd - 1, seqlenQ, seqlenK, windowLeft) &&
    colEnd - 1 <= lastVisible(rowStart, seqlenQ, seqlenK, windowRight)
  );
}

// A sub-range of a tile, as globals (see keySpan): [rangeLo, rangeHi), empty when rangeHi <= rangeLo.
export let rangeLo: i32 = 0;
export let rangeHi: i32 = 0;

/**
 * Which of the queries q0 + [0, n) see at least one key of [keyLo, keyHi): a contiguous range, since both
 * window edges move right with the query. Used to skip the parts of a partly visible tile that are masked.
 */
export function queriesSeeing(
  q0: i32,
  n: i32,
  keyLo: i32,
  keyHi: i32,
  seqlenQ: i32,
  seqlenK: i32,
  windowLeft: i32,
  windowRight: i32,
): void {
  const offset = seqlenK - seqlenQ;
  // last(q) >= keyLo  <=>  q >= keyLo - offset - right;  first(q) <= keyHi - 1  <=>  q <= keyHi - 1 - offset + left
  const lo = windowRight < 0 ? 0 : keyLo - offset - windowRight - q0;
  const hi = windowLeft < 0 ? n : keyHi - offset + windowLeft - q0;
  rangeLo = min(max(lo, 0), n);
  rangeHi = max(min(hi, n), rangeLo);
}

/** Which keys k0 + [0, n) the queries [qLo, qHi) see, as offsets from k0: the union of their ranges. */
export function keysSeenBy(
  qLo: i32,
  qHi: i32,
  k0: i32,
  n: i32,
  seqlenQ: i32,
  seqlenK: i32,
  windowLeft: i32,
  windowRight: i32,
): void {
  const lo = firstVisible(qLo, seqlenQ, seqlenK, windowLeft) - k0;
  const hi = lastVisible(qHi - 1, seqlenQ, seqlenK, windowRight) + 1 - k0;
  rangeLo = min(max(lo, 0), n);
  rangeHi = max(min(hi, n), rangeLo);
}
