// Last step of the atomic-dQ backward: dq = dq_accum * scale, rounded to the element type. One thread per
// element of dq: (total_q, h, dim).
#pragma once

#include "params.h"

namespace fa {

constexpr int kConvertThreads = 256;

template <typename E>
__global__ void __launch_bounds__(kConvertThreads) bwd_dq_convert_kernel(const AttnParams p) {
  const long long n = static_cast<long long>(p.total_q) * p.h * p.dim;
  const long long i = static_cast<long long>(blockIdx.x) * kConvertThreads + threadIdx.x;
  if (i < n) static_cast<typename E::S*>(p.dq)[i] = E::from_float(p.dq_accum[i] * p.scale);
}

}  // namespace fa
