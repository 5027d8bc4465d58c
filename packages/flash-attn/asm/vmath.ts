// Vector math the kernels need and WebAssembly lacks. Accuracy is a few float32 ulps, far below the tolerance
// the reference tests ask for; speed matters more since exp2 runs once per score.

export const LOG2E: f32 = 1.4426950408889634;
export const LN2: f64 = 0.6931471805599453;

// Cephes' minimax polynomial for 2^f on [-0.5, 0.5].
const E0: f32 = 1.535336188319500e-4;
const E1: f32 = 1.339887440266574e-3;
const E2: f32 = 9.61843735767464e-3;
const E3: f32 = 5.550332471162809e-2;
const E4: f32 = 2.402264791363012e-1;
const E5: f32 = 6.931472028550421e-1;

// Adding 1.5·2^23 rounds a float to an integer held in the low mantissa bits, in one instruction, where
// nearest + trunc_sat would take several (x64 has no saturating conversion).
const ROUNDER: f32 = 12582912.0;

/** 2^x per lane for x >= -126 (callers clamp), NaN staying NaN. */
@inline
export function exp2Clamped(xc: v128): v128 {
  const t = f32x4.add(xc, f32x4.splat(ROUNDER));
  const f = f32x4.sub(xc, f32x4.sub(t, f32x4.splat(ROUNDER)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(E0), f), f32x4.splat(E1));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(E2));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(E3));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(E4));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(E5));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(1.0));
  // The low bits of t are the integer n; shifted into the exponent field they scale p by 2^n.
  return i32x4.add(p, i32x4.shl(t, 23));
}

/**
 * 2^x per lane. Below -126 the result flushes to exactly 0, which is what masked scores (-inf) rely on, and
 * NaN stays NaN so that a bad input surfaces instead of vanishing.
 */
@inline
export function exp2v(x: v128): v128 {
  const lowest = f32x4.splat(-126.0);
  return v128.andnot(exp2Clamped(f32x4.max(x, lowest)), f32x4.lt(x, lowest));
}

/**
 * 2^x per lane where an exact 0 is not needed: below -126 it gives 2^-126 (about 1e-38), which no sum of
 * probabilities can tell from 0. Saves the flush where no score is masked.
 */
@inline
export function exp2Fast(x: v128): v128 {
  return exp2Clamped(f32x4.max(x, f32x4.splat(-126.0)));
}

/**
 * tanh per lane. Near zero the exp form loses relative accuracy to cancellation, so small inputs take the odd
 * Taylor series instead (exact to float32 for |x| < 0.25).
 */
@inline
export function tanhv(x: v128): v128 {
  const ax = f32x4.abs(x);
  const e = exp2v(f32x4.mul(ax, f32x4.splat(-2.0 * LOG2E)));
  const big = f32x4.div(f32x4.sub(f32x4.splat(1.0), e), f32x4.add(f32x4.splat(1.0), e));
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  const x2 = f32x4.mul(x, x);
  let p = f32x4.sub(f32x4.mul(f32x4.splat(<f32>(62.0 / 2835.0)), x2), f32x4.splat(<f32>(17.0 / 315.0)));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(<f32>(2.0 / 15.0)));
  p = f32x4.sub(f32x4.mul(p, x2), f32x4.splat(<f32>(1.0 / 3.0)));
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(x, x2), p));
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.25)));
}

/** Natural log of a positive, finite, normal f64; once per row, so clarity over speed. */
export function lnPositive(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  let exponent = <i32>((bits >> 52) & 0x7ff) - 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  if (m > 1.4142135623730951) {
    m *= 0.5;
    exponent++;
  }
  // ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 0.172: the series converges to f64 precision fast.
  const s = (m - 1.0) / (m + 1.0);
  const s2 = s * s;
  let series = 1.0 / 17.0;
  series = series * s2 + 1.0 / 15.0;
  series = series * s2 + 1.0 / 13.0;
  series = series * s2 + 1.0 / 11.0;
  series = series * s2 + 1.0 / 9.0;
  series = series * s2 + 1.0 / 7.0;
  series = series * s2 + 1.0 / 5.0;
  series = series * s2 + 1.0 / 3.0;
  series = series * s2 + 1.0;
  return 2.0 * s * series + <f64>exponent * LN2;
}
