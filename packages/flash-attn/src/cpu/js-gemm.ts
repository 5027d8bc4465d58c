/**
 * Small matrix products on float64 scratch for the pure-JavaScript kernels, blocked 2 x 2 so that each loaded
 * element feeds two multiply-adds: the scalar counterpart of asm/gemm.ts. Offsets and leading dimensions are in
 * elements. `add` accumulates into C instead of overwriting it.
 */

/** C[i][j] (+)= Σ_k A[i][k] · B[j][k]: rows of A against rows of B, as in Q · Kᵀ. */
export function gemmNT(
  M: number,
  N: number,
  K: number,
  A: Float64Array,
  aOff: number,
  lda: number,
  B: Float64Array,
  bOff: number,
  ldb: number,
  C: Float64Array,
  cOff: number,
  ldc: number,
  add: boolean,
): void {
  for (let i = 0; i < M; i += 2) {
    const a0 = aOff + i * lda;
    const a1 = i + 1 < M ? a0 + lda : a0;
    for (let j = 0; j < N; j += 2) {
      const b0 = bOff + j * ldb;
      const b1 = j + 1 < N ? b0 + ldb : b0;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k] as number;
        const x1 = A[a1 + k] as number;
        const y0 = B[b0 + k] as number;
        const y1 = B[b1 + k] as number;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      store2x2(C, cOff + i * ldc + j, ldc, i + 1 < M, j + 1 < N, s00, s01, s10, s11, add);
    }
  }
}

/** C[i][n] (+)= Σ_k A[i][k] · B[k][n], as in P · V. */
export function gemmNN(
  M: number,
  N: number,
  K: number,
  A: Float64Array,
  aOff: number,
  lda: number,
  B: Float64Array,
  bOff: number,
  ldb: number,
  C: Float64Array,
  cOff: number,
  ldc: number,
  add: boolean,
): void {
  for (let i = 0; i < M; i += 2) {
    const a0 = aOff + i * lda;
    const a1 = i + 1 < M ? a0 + lda : a0;
    for (let n = 0; n < N; n += 2) {
      const n1 = n + 1 < N ? n + 1 : n;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k] as number;
        const x1 = A[a1 + k] as number;
        const row = bOff + k * ldb;
        const y0 = B[row + n] as number;
        const y1 = B[row + n1] as number;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      store2x2(C, cOff + i * ldc + n, ldc, i + 1 < M, n + 1 < N, s00, s01, s10, s11, add);
    }
  }
}

/** C[m][n] (+)= Σ_k A[k][m] · B[k][n], as in Pᵀ · dO. */
export function gemmTN(
  M: number,
  N: number,
  K: number,
  A: Float64Array,
  aOff: number,
  lda: number,
  B: Float64Array,
  bOff: number,
  ldb: number,
  C: Float64Array,
  cOff: number,
  ldc: number,
  add: boolean,
): void {
  for (let m = 0; m < M; m += 2) {
    const m1 = m + 1 < M ? m + 1 : m;
    for (let n = 0; n < N; n += 2) {
      const n1 = n + 1 < N ? n + 1 : n;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let k = 0; k < K; k++) {
        const aRow = aOff + k * lda;
        const bRow = bOff + k * ldb;
        const x0 = A[aRow + m] as number;
        const x1 = A[aRow + m1] as number;
        const y0 = B[bRow + n] as number;
        const y1 = B[bRow + n1] as number;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      store2x2(C, cOff + m * ldc + n, ldc, m + 1 < M, n + 1 < N, s00, s01, s10, s11, add);
    }
  }
}

function store2x2(
  C: Float64Array,
  at: number,
  ldc: number,
  secondRow: boolean,
  secondCol: boolean,
  s00: number,
  s01: number,
  s10: number,
  s11: number,
  add: boolean,
): void {
  C[at] = add ? (C[at] as number) + s00 : s00;
  if (secondCol) C[at + 1] = add ? (C[at + 1] as number) + s01 : s01;
  if (secondRow) {
    C[at + ldc] = add ? (C[at + ldc] as number) + s10 : s10;
    if (secondCol) C[at + ldc + 1] = add ? (C[at + ldc + 1] as number) + s11 : s11;
  }
}
