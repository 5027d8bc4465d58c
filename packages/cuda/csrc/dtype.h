// Element types as the kernels see them. f16/bf16 travel as raw 16-bit patterns (as in @fa/core's Uint16Array
// tensors) and are converted with round-to-nearest-even, the rounding of core's encoders, so a kernel's stored
// result is what the same-precision reference would store.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace fa {

struct F32 {
  using S = float;
  static constexpr bool kMma = false;
  static __device__ __forceinline__ float to_float(S x) { return x; }
  static __device__ __forceinline__ S from_float(float x) { return x; }
};

struct F16 {
  using S = uint16_t;
  static constexpr bool kMma = true;
  static __device__ __forceinline__ float to_float(S x) { return __half2float(__ushort_as_half(x)); }
  static __device__ __forceinline__ S from_float(float x) { return __half_as_ushort(__float2half_rn(x)); }
};

struct BF16 {
  using S = uint16_t;
  static constexpr bool kMma = true;
  static __device__ __forceinline__ float to_float(S x) { return __uint_as_float(static_cast<uint32_t>(x) << 16); }
  static __device__ __forceinline__ S from_float(float x) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); }
};

}  // namespace fa
