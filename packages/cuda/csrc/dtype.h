// Element types as the kernels see them. f16/bf16 travel as raw 16-bit patterns (as in @fa/core's Uint16Array
// tensors) and are converted with round-to-nearest-even, the rounding of core's encoders, so a kernel's stored
// result is what the same-precision reference would store.
#pragma once

#include <cstdint>

#ifdef FA_EMULATE
#include <cmath>
#include <cstring>
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace fa {

#ifdef FA_EMULATE
// The emulator's conversions (CPU): the same round-to-nearest-even as the device intrinsics.
inline float f16_bits_to_float(uint16_t bits) {
  const uint32_t exponent = (bits >> 10) & 0x1f;
  const uint32_t mantissa = bits & 0x3ff;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa ? NAN : INFINITY;
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), static_cast<int>(exponent) - 25);
  }
  return (bits & 0x8000) ? -magnitude : magnitude;
}

inline uint16_t float_to_f16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t exponent = (x >> 23) & 0xff;
  uint32_t mantissa = x & 0x7fffff;
  if (exponent == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (mantissa ? 0x200 : 0));
  const int e = static_cast<int>(exponent) - 127 + 15;
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mantissa |= 0x800000;
    const int shift = 14 - e;
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t tie = 1u << (shift - 1);
    if (rest > tie || (rest == tie && (half & 1))) half++;
    return static_cast<uint16_t>(sign | half);
  }
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;
  return static_cast<uint16_t>(sign | (half >= 0x7c00 ? 0x7c00 : half));
}

inline float bf16_bits_to_float(uint16_t bits) {
  const uint32_t word = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &word, 4);
  return f;
}

inline uint16_t float_to_bf16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu)) return static_cast<uint16_t>((x >> 16) | 0x40);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
#endif

struct F32 {
  using S = float;
  static constexpr bool kMma = false;
  static __device__ __forceinline__ float to_float(S x) { return x; }
  static __device__ __forceinline__ S from_float(float x) { return x; }
};

// pack2(lo, hi): both rounded to the element type in one 32-bit register, lo in the low half (an mma operand
// register, or two adjacent output elements); one cvt.rn.{f16,bf16}x2.f32 on the device.
struct F16 {
  using S = uint16_t;
  static constexpr bool kMma = true;
#ifdef FA_EMULATE
  static float to_float(S x) { return f16_bits_to_float(x); }
  static S from_float(float x) { return float_to_f16_bits(x); }
  static uint32_t pack2(float lo, float hi) { return from_float(lo) | (static_cast<uint32_t>(from_float(hi)) << 16); }
#else
  static __device__ __forceinline__ float to_float(S x) { return __half2float(__ushort_as_half(x)); }
  static __device__ __forceinline__ S from_float(float x) { return __half_as_ushort(__float2half_rn(x)); }
  static __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    const __half2 pair = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&pair);
  }
#endif
};

struct BF16 {
  using S = uint16_t;
  static constexpr bool kMma = true;
#ifdef FA_EMULATE
  static float to_float(S x) { return bf16_bits_to_float(x); }
  static S from_float(float x) { return float_to_bf16_bits(x); }
  static uint32_t pack2(float lo, float hi) { return from_float(lo) | (static_cast<uint32_t>(from_float(hi)) << 16); }
#else
  static __device__ __forceinline__ float to_float(S x) { return __uint_as_float(static_cast<uint32_t>(x) << 16); }
  static __device__ __forceinline__ S from_float(float x) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); }
  static __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    const __nv_bfloat162 pair = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&pair);
  }
#endif
};

}  // namespace fa
