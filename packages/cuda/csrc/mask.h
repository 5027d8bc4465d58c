// From a raw dot product q_i . k_j to the score the softmax sees, in @fa/core's order: scale, softcap, ALiBi,
// then the causal/window mask (bottom-right aligned). Masked scores, and the zero-padded rows and columns of a
// tile past the end of its sequence, become -inf, which the softmax turns into exact zeros.
#pragma once

#include <cmath>

#include "block_info.h"
#include "params.h"

namespace fa {

struct ScoreMod {
  float scale;
  float softcap;  // 0 = off
  float slope;    // ALiBi slope of this query head; 0 = off
  int left;       // -1 = unbounded
  int right;      // -1 = unbounded
  int len_q;
  int len_k;

  __device__ ScoreMod(const AttnParams& p, const BlockInfo& bi, int h)
      : scale(p.scale),
        softcap(p.softcap),
        slope(p.alibi_slopes != nullptr ? p.alibi_slopes[h] : 0.f),
        left(p.window_left),
        right(p.window_right),
        len_q(bi.len_q),
        len_k(bi.len_k) {}

  // Query i sees key j iff i + Lk - Lq - left <= j <= i + Lk - Lq + right (a bound of -1 is unbounded).
  __device__ __forceinline__ bool visible(int i, int j) const {
    if (i >= len_q || j >= len_k) return false;
    const int diagonal = i + len_k - len_q;
    if (left >= 0 && j < diagonal - left) return false;
    if (right >= 0 && j > diagonal + right) return false;
    return true;
  }

  // The score of a visible (i, j): scale, softcap, ALiBi, no mask (the fa2 kernels test visibility themselves,
  // and only on the tiles a mask boundary crosses).
  __device__ __forceinline__ float modify(float dot, int i, int j) const {
    float s = dot * scale;
    if (softcap > 0.f) s = softcap * tanhf(s / softcap);
    if (slope != 0.f) s -= slope * fabsf(static_cast<float>(i + len_k - len_q - j));
    return s;
  }

  // The score of (i, j), or -inf where hidden. `cap_grad` receives d(softcap(s))/ds = 1 - tanh^2, which the
  // backward multiplies into dS (1 when softcap is off).
  __device__ __forceinline__ float apply(float dot, int i, int j, float* cap_grad = nullptr) const {
    if (!visible(i, j)) {
      if (cap_grad != nullptr) *cap_grad = 0.f;
      return -INFINITY;
    }
    float s = dot * scale;
    if (softcap > 0.f) {
      const float t = tanhf(s / softcap);
      s = softcap * t;
      if (cap_grad != nullptr) *cap_grad = 1.f - t * t;
    } else if (cap_grad != nullptr) {
      *cap_grad = 1.f;
    }
    if (slope != 0.f) s -= slope * fabsf(static_cast<float>(i + len_k - len_q - j));
    return s;
  }
};

}  // namespace fa
