// One matrix product serves every step of attention: C[M x N] (op)= A[M x K] · B[K x N].
// A is read one scalar at a time (broadcast to a vector), so any strides work and transposed operands cost
// nothing; B is read as contiguous rows of N floats, the vector dimension. N is a multiple of 4: callers pad
// the rows they own and may read up to 3 floats past the end of a B row (the host leaves slack after inputs).
// The K loop must never run past real data, so reductions always use exact counts.
// Register blocking: 4 rows x 8 columns (8 accumulators) fits x64's 16 vector registers with room for the
// broadcast, both B vectors and the product temporary.

export const MODE_SET: i32 = 0;
export const MODE_ADD: i32 = 1;
/** C = diag(alpha) · C + A · B, the online-softmax rescale fused into the product. */
export const MODE_SCALE_ADD: i32 = 2;

@inline
function initial(c: usize, mode: i32, alpha: f32): v128 {
  if (mode == MODE_SET) return f32x4.splat(0);
  const current = v128.load(c);
  return mode == MODE_ADD ? current : f32x4.mul(current, f32x4.splat(alpha));
}

@inline
function rowAlpha(alpha: usize, m: i32, mode: i32): f32 {
  return mode == MODE_SCALE_ADD ? load<f32>(alpha + (<usize>m << 2)) : 1.0;
}

@inline
function block4x8(
  K: i32,
  a: usize,
  sAm: usize,
  sAk: usize,
  b: usize,
  sB: usize,
  c: usize,
  sC: usize,
  mode: i32,
  alpha: usize,
  m: i32,
): void {
  const r0 = c;
  const r1 = c + sC;
  const r2 = r1 + sC;
  const r3 = r2 + sC;
  const al0 = rowAlpha(alpha, m, mode);
  const al1 = rowAlpha(alpha, m + 1, mode);
  const al2 = rowAlpha(alpha, m + 2, mode);
  const al3 = rowAlpha(alpha, m + 3, mode);
  let c00 = initial(r0, mode, al0);
  let c01 = initial(r0 + 16, mode, al0);
  let c10 = initial(r1, mode, al1);
  let c11 = initial(r1 + 16, mode, al1);
  let c20 = initial(r2, mode, al2);
  let c21 = initial(r2 + 16, mode, al2);
  let c30 = initial(r3, mode, al3);
  let c31 = initial(r3 + 16, mode, al3);
  let a0 = a;
  let a1 = a + sAm;
  let a2 = a1 + sAm;
  let a3 = a2 + sAm;
  let bp = b;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let s = v128.load32_splat(a0);
    c00 = f32x4.add(c00, f32x4.mul(s, b0));
    c01 = f32x4.add(c01, f32x4.mul(s, b1));
    s = v128.load32_splat(a1);
    c10 = f32x4.add(c10, f32x4.mul(s, b0));
    c11 = f32x4.add(c11, f32x4.mul(s, b1));
    s = v128.load32_splat(a2);
    c20 = f32x4.add(c20, f32x4.mul(s, b0));
    c21 = f32x4.add(c21, f32x4.mul(s, b1));
    s = v128.load32_splat(a3);
    c30 = f32x4.add(c30, f32x4.mul(s, b0));
    c31 = f32x4.add(c31, f32x4.mul(s, b1));
    a0 += sAk;
    a1 += sAk;
    a2 += sAk;
    a3 += sAk;
    bp += sB;
  }
  v128.store(r0, c00);
  v128.store(r0, c01, 16);
  v128.store(r1, c10);
  v128.store(r1, c11, 16);
  v128.store(r2, c20);
  v128.store(r2, c21, 16);
  v128.store(r3, c30);
  v128.store(r3, c31, 16);
}

@inline
function block4x4(
  K: i32,
  a: usize,
  sAm: usize,
  sAk: usize,
  b: usize,
  sB: usize,
  c: usize,
  sC: usize,
  mode: i32,
  alpha: usize,
  m: i32,
): void {
  const r0 = c;
  const r1 = c + sC;
  const r2 = r1 + sC;
  const r3 = r2 + sC;
  let c0 = initial(r0, mode, rowAlpha(alpha, m, mode));
  let c1 = initial(r1, mode, rowAlpha(alpha, m + 1, mode));
  let c2 = initial(r2, mode, rowAlpha(alpha, m + 2, mode));
  let c3 = initial(r3, mode, rowAlpha(alpha, m + 3, mode));
  let a0 = a;
  let a1 = a + sAm;
  let a2 = a1 + sAm;
  let a3 = a2 + sAm;
  let bp = b;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(bp);
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(a0), b0));
    c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(a1), b0));
    c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(a2), b0));
    c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(a3), b0));
    a0 += sAk;
    a1 += sAk;
    a2 += sAk;
    a3 += sAk;
    bp += sB;
  }
  v128.store(r0, c0);
  v128.store(r1, c1);
  v128.store(r2, c2);
  v128.store(r3, c3);
}

@inline
function block1x8(K: i32, a: usize, sAk: usize, b: usize, sB: usize, c: usize, mode: i32, alpha: usize, m: i32): void {
  const al = rowAlpha(alpha, m, mode);
  let c0 = initial(c, mode, al);
  let c1 = initial(c + 16, mode, al);
  let ap = a;
  let bp = b;
  for (let k = 0; k < K; k++) {
    const s = v128.load32_splat(ap);
    c0 = f32x4.add(c0, f32x4.mul(s, v128.load(bp)));
    c1 = f32x4.add(c1, f32x4.mul(s, v128.load(bp, 16)));
    ap += sAk;
    bp += sB;
  }
  v128.store(c, c0);
  v128.store(c, c1, 16);
}

@inline
function block1x4(K: i32, a: usize, sAk: usize, b: usize, sB: usize, c: usize, mode: i32, alpha: usize, m: i32): void {
  let c0 = initial(c, mode, rowAlpha(alpha, m, mode));
  let ap = a;
  let bp = b;
  for (let k = 0; k < K; k++) {
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(ap), v128.load(bp)));
    ap += sAk;
    bp += sB;
  }
  v128.store(c, c0);
}

/**
 * C[m][n] (op)= Σ_k A[m·sAm + k·sAk] · B[k·sB + n] for m < M, n < N, k < K, strides in bytes.
 * `alpha` points to M floats, read only in MODE_SCALE_ADD.
 */
export function gemm(
  M: i32,
  N: i32,
  K: i32,
  a: usize,
  sAm: usize,
  sAk: usize,
  b: usize,
  sB: usize,
  c: usize,
  sC: usize,
  mode: i32,
  alpha: usize,
): void {
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const am = a + <usize>m * sAm;
    const cm = c + <usize>m * sC;
    let n = 0;
    for (; n + 8 <= N; n += 8) {
      block4x8(K, am, sAm, sAk, b + (<usize>n << 2), sB, cm + (<usize>n << 2), sC, mode, alpha, m);
    }
    if (n < N) block4x4(K, am, sAm, sAk, b + (<usize>n << 2), sB, cm + (<usize>n << 2), sC, mode, alpha, m);
  }
  for (; m < M; m++) {
    const am = a + <usize>m * sAm;
    const cm = c + <usize>m * sC;
    let n = 0;
    for (; n + 8 <= N; n += 8) block1x8(K, am, sAk, b + (<usize>n << 2), sB, cm + (<usize>n << 2), mode, alpha, m);
    if (n < N) block1x4(K, am, sAk, b + (<usize>n << 2), sB, cm + (<usize>n << 2), mode, alpha, m);
  }
}
