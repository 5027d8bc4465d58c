// Online softmax in f32 over the accumulator layout of gemm.h: each thread holds two rows of a warp's 16
// (g and g + 8, g = lane / 4), and the four threads of a quad (same g) share a row, so row reductions are two
// butterfly shuffles within the quad.
#pragma once

#include <cmath>

namespace fa {

__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// Running max and (thread-partial) sum of exponentials of the thread's two rows. The sums stay partial until
// `finish`: every rescale multiplies them by a factor the whole quad shares, so one reduction at the end suffices.
template <int kNT>
struct OnlineSoftmax {
  float m[2] = {-INFINITY, -INFINITY};
  float l[2] = {0.f, 0.f};

  // Turns the scores `s` of one key tile into exp(s - m_new) in place and returns, per row, the factor
  // exp(m_old - m_new) by which the caller rescales its output accumulator. A row that has seen only -inf keeps
  // m = -inf; exponentials are then taken against 0 so that no -inf - -inf = NaN appears.
  __device__ __forceinline__ void update(float (&s)[kNT][4], float (&correction)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) tile_max = fmaxf(tile_max, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
      const float m_new = fmaxf(m[r], quad_max(tile_max));
      const float base = m_new == -INFINITY ? 0.f : m_new;
      correction[r] = expf(m[r] - base);
      m[r] = m_new;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) {
        s[nt][2 * r] = expf(s[nt][2 * r] - base);
        s[nt][2 * r + 1] = expf(s[nt][2 * r + 1] - base);
        sum += s[nt][2 * r] + s[nt][2 * r + 1];
      }
      l[r] = l[r] * correction[r] + sum;
    }
  }

  // Per row: the factor that turns the accumulated output into the softmax average (0 for a row that saw no key,
  // whose output must be 0), and lse = m + log(l) (+inf for such a row, as in @fa/core).
  __device__ __forceinline__ void finish(float (&inv)[2], float (&lse)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float total = quad_sum(l[r]);
      const bool empty = total == 0.f || m[r] == -INFINITY;
      inv[r] = empty ? 0.f : 1.f / total;
      lse[r] = empty ? INFINITY : m[r] + logf(total);
    }
  }
};

}  // namespace fa
