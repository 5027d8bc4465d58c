/**
 * WGSL helpers for numbers that WGSL cannot write directly: infinity (no literal exists, and arithmetic that
 * overflows to it is undefined behaviour) and the 16-bit float formats, which we convert with integer code so
 * that every device rounds exactly as `@fa/core` does (WGSL leaves the rounding of `pack2x16float` open and only
 * `shader-f16` devices have half arithmetic at all).
 */
export const NUMBERS_WGSL = /* wgsl */ `
// +inf as bits: lse of a row that sees no key is written as this pattern, never computed.
const F32_INF_BITS: u32 = 0x7f800000u;
// Stand-in for -inf in running maxima: finite, so no operation ever sees an infinity.
const NEG_BIG: f32 = -3.0e38;

// IEEE half bits (low 16 bits of h) -> f32, exact for every input including subnormals, inf and NaN.
fn f16_bits_to_f32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let exponent = (h >> 10u) & 0x1fu;
  let mantissa = h & 0x3ffu;
  if (exponent == 0u) {
    // Subnormal or zero: mantissa * 2^-24, exact in f32.
    let magnitude = f32(mantissa) * 5.9604644775390625e-8;
    return bitcast<f32>(bitcast<u32>(magnitude) | sign);
  }
  if (exponent == 0x1fu) {
    return bitcast<f32>(sign | 0x7f800000u | (mantissa << 13u));
  }
  return bitcast<f32>(sign | ((exponent + 112u) << 23u) | (mantissa << 13u));
}

// f32 -> IEEE half bits, round to nearest even, with subnormals, overflow to inf and NaN kept (core's f32ToF16Bits).
fn f32_to_f16_bits(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  let sign = (bits >> 16u) & 0x8000u;
  let exponent = i32((bits >> 23u) & 0xffu);
  var mantissa = bits & 0x7fffffu;
  if (exponent == 0xff) {
    return sign | 0x7c00u | select(0u, 0x200u | (mantissa >> 13u), mantissa != 0u);
  }
  let half_exponent = exponent - 112;
  if (half_exponent >= 0x1f) {
    return sign | 0x7c00u;
  }
  if (half_exponent <= 0) {
    if (half_exponent < -10) {
      return sign;
    }
    mantissa = mantissa | 0x800000u;
    let shift = u32(14 - half_exponent);
    let half_mantissa = mantissa >> shift;
    let remainder = mantissa & ((1u << shift) - 1u);
    let halfway = 1u << (shift - 1u);
    let round_up = remainder > halfway || (remainder == halfway && (half_mantissa & 1u) == 1u);
    return sign | (half_mantissa + select(0u, 1u, round_up));
  }
  let half_mantissa = mantissa >> 13u;
  let remainder = mantissa & 0x1fffu;
  var result = sign | (u32(half_exponent) << 10u) | half_mantissa;
  if (remainder > 0x1000u || (remainder == 0x1000u && (half_mantissa & 1u) == 1u)) {
    // A carry out of the mantissa bumps the exponent, up to infinity, as it should.
    result = result + 1u;
  }
  return result;
}

// bfloat16 bits -> f32: the upper half of an f32.
fn bf16_bits_to_f32(h: u32) -> f32 {
  return bitcast<f32>(h << 16u);
}

// f32 -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN (core's f32ToBf16Bits).
fn f32_to_bf16_bits(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x7fffffu) != 0u) {
    return ((bits >> 16u) | 0x40u) & 0xffffu;
  }
  let lsb = (bits >> 16u) & 1u;
  return ((bits + 0x7fffu + lsb) >> 16u) & 0xffffu;
}

// tanh from one exp of a non-positive argument: never overflows (some tanh builtins are sinh/cosh and return
// NaN for large inputs). Absolute error stays near f32 epsilon, which is all softcap needs.
fn safe_tanh(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
`;
