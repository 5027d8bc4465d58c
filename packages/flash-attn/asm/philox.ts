// Philox4x32-10 on four counters at once, bit-identical with @fa/core's scalar philox4x32. The lanes are four
// independent counters; the key is shared.

const M0: u32 = 0xd2511f53;
const M1: u32 = 0xcd9e8d57;
const W0: u32 = 0x9e3779b9;
const W1: u32 = 0xbb67ae85;

// Four result words per lane; globals are per instance, so each thread has its own.
export let philoxX0: v128 = i32x4.splat(0);
export let philoxX1: v128 = i32x4.splat(0);
export let philoxX2: v128 = i32x4.splat(0);
export let philoxX3: v128 = i32x4.splat(0);

@inline
function mulhi(a: v128, m: v128): v128 {
  const low = i64x2.extmul_low_i32x4_u(a, m);
  const high = i64x2.extmul_high_i32x4_u(a, m);
  return i32x4.shuffle(low, high, 1, 3, 5, 7);
}

/** Runs Philox on counters (c0, c1, c2, c3) per lane and leaves the words in philoxX0..philoxX3. */
@inline
export function philox4(c0: v128, c1: v128, c2: v128, c3: v128, key0: u32, key1: u32): void {
  const m0 = i32x4.splat(M0);
  const m1 = i32x4.splat(M1);
  let x0 = c0;
  let x1 = c1;
  let x2 = c2;
  let x3 = c3;
  let k0 = key0;
  let k1 = key1;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(x0, m0);
    const lo0 = i32x4.mul(x0, m0);
    const hi1 = mulhi(x2, m1);
    const lo1 = i32x4.mul(x2, m1);
    x0 = v128.xor(v128.xor(hi1, x1), i32x4.splat(k0));
    x1 = lo1;
    x2 = v128.xor(v128.xor(hi0, x3), i32x4.splat(k1));
    x3 = lo0;
    k0 += W0;
    k1 += W1;
  }
  philoxX0 = x0;
  philoxX1 = x1;
  philoxX2 = x2;
  philoxX3 = x3;
}
