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
export function keySpan(rowStart: i32, rowEnd: i32, seqlenQ: i32, seqlenK: i32, windowLeft: i32, windowRight: i32): void {
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
