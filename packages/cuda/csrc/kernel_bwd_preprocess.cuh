// Backward preprocess: D_i = dO_i . O_i per (row, head), with O as stored (rounded to the element type, dropout
// included), the quantity @fa/core's reference subtracts from dP. dsum: (h, total_q) f32, like lse.
// One warp per (row, head): lanes stride over dv and reduce with shuffles.
#pragma once

#include "params.h"

namespace fa {

constexpr int kPreprocessWarps = 8;

template <typename E>
__global__ void __launch_bounds__(kPreprocessWarps * 32) bwd_preprocess_kernel(const AttnParams p) {
  using S = typename E::S;
  const long long pair = static_cast<long long>(blockIdx.x) * kPreprocessWarps + (threadIdx.x >> 5);
  if (pair >= static_cast<long long>(p.total_q) * p.h) return;
  const int row = static_cast<int>(pair / p.h);
  const int h = static_cast<int>(pair % p.h);
  const long long base = (static_cast<long long>(row) * p.h + h) * p.dim_v;
  const S* dout = static_cast<const S*>(p.dout) + base;
  const S* out = static_cast<const S*>(p.out_in) + base;
  float dot = 0.f;
  for (int c = threadIdx.x & 31; c < p.dim_v; c += 32) dot = fmaf(E::to_float(dout[c]), E::to_float(out[c]), dot);
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
  if ((threadIdx.x & 31) == 0) p.dsum[static_cast<long long>(h) * p.total_q + row] = dot;
}

}  // namespace fa
