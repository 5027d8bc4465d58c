// dQ kernel, one block per (query tile, head), like the forward. For each key tile the mask leaves visible:
//   S = Q K^T -> P = exp(S - lse) (the forward's final lse, so no rescaling), dP = dO V^T,
//   dS = P * (dP' - D) * softcap'(S), dP' = dropout(dP) / (1 - p), then dQ += dS K.
// dQ stays in registers (f32) for the whole tile and is written once: no atomics, the same bits every run.
#pragma once

#include "block_info.h"
#include "copy.h"
#include "gemm.h"
#include "hd.h"
#include "kernel_traits.h"
#include "mask.h"
#include "params.h"
#include "philox.h"

namespace fa {

template <typename E, int kD>
__global__ void __launch_bounds__(DqTraits<E, kD>::kThreads) bwd_dq_kernel(const AttnParams p) {
  using T = DqTraits<E, kD>;
  using S = typename E::S;
  constexpr int kBM = T::kBM, kBN = T::kBN, kPitch = T::kPitch, kPitchS = T::kPitchS;
  constexpr int kNTs = kBN / 8;
  constexpr int kNTq = kD / 8;

  FA_DYNAMIC_SMEM(smem);
  S* s_q = reinterpret_cast<S*>(smem);
  S* s_do = s_q + kBM * kPitch;
  S* s_k = s_do + kBM * kPitch;
  S* s_v = s_k + kBN * kPitch;
  S* s_ds = s_v + kBN * kPitch;
  float* s_lse = reinterpret_cast<float*>(s_ds + T::kDsRows * kPitchS);
  float* s_dsum = s_lse + kBM;

  const QueryTile<kBM, kBN> tile(p, blockIdx.x);
  const int h = tile.h, hk = tile.hk, b = tile.b, row0 = tile.row0, rows = tile.rows;
  const BlockInfo& bi = tile.bi;
  const int kt_begin = tile.kt_begin, kt_end = tile.kt_end;

  const int warp = threadIdx.x >> 5;
  const ScoreMod mod(p, bi, h);
  // q, k, v through their layouts (views); dO and dQ contiguous.
  const long long dq_stride = static_cast<long long>(p.h) * p.dim;
  const long long o_stride = static_cast<long long>(p.h) * p.dim_v;
  const long long k_stride = p.k_row_stride;
  const long long v_stride = p.v_row_stride;
  const S* g_k = static_cast<const S*>(p.k) + bi.k_start * k_stride + hk * p.k_head_stride;
  const S* g_v = static_cast<const S*>(p.v) + bi.k_start * v_stride + hk * p.v_head_stride;
  const long long row_index = static_cast<long long>(h) * p.total_q + bi.q_start + row0;

  load_tile<S, kBM, kD, kPitch, T::kThreads>(
      s_q, static_cast<const S*>(p.q) + (bi.q_start + row0) * p.q_row_stride + h * p.q_head_stride, p.q_row_stride,
      rows, p.dim, p.vec_loads);
  load_tile<S, kBM, kD, kPitch, T::kThreads>(
      s_do, static_cast<const S*>(p.dout) + (bi.q_start + row0) * o_stride + h * p.dim_v, o_stride, rows, p.dim_v,
      p.vec_loads);
  cp_async_commit();
  // Rows past the sequence get lse = +inf, so their P is exactly 0.
  load_row_values<kBM, T::kThreads>(s_lse, p.lse_in + row_index, rows, INFINITY);
  load_row_values<kBM, T::kThreads>(s_dsum, p.dsum + row_index, rows, 0.f);

  float acc_dq[kNTq][4];
  zero(acc_dq);
  const int warp_row0 = row0 + warp * 16;
  const int local0 = warp * 16;  // first row of this warp inside the tile

  for (int kt = kt_begin; kt < kt_end; ++kt) {
    const int key0 = kt * kBN;
    const int n = imin(kBN, bi.len_k - key0);
    load_tile<S, kBN, kD, kPitch, T::kThreads>(s_k, g_k + key0 * k_stride, k_stride, n, p.dim, p.vec_loads);
    load_tile<S, kBN, kD, kPitch, T::kThreads>(s_v, g_v + key0 * v_stride, v_stride, n, p.dim_v, p.vec_loads);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    float acc_s[kNTs][4];
    zero(acc_s);
    warp_gemm<E, kNTs, kD>(acc_s, SmemMat<S, kPitch, 1>{s_q + local0 * kPitch}, SmemMat<S, 1, kPitch>{s_k});
    float acc_dp[kNTs][4];
    zero(acc_dp);
    // dP = dO V^T: B(k = dim, n = key) = V[key][dim].
    warp_gemm<E, kNTs, kD>(acc_dp, SmemMat<S, kPitch, 1>{s_do + local0 * kPitch}, SmemMat<S, 1, kPitch>{s_v});

#pragma unroll
    for (int nt = 0; nt < kNTs; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; e += 2) {
        const int r = acc_row(e);
        const int i = warp_row0 + r;
        const int j = key0 + acc_col(nt, e);
        KeepPair keep{true, true};
        if (p.dropout) keep = dropout_keep_pair(p.seed_lo, p.seed_hi, p.dropout_threshold, b, h, i, j);
        const float lse = s_lse[local0 + r];
        const float dsum = s_dsum[local0 + r];
#pragma unroll
        for (int x = 0; x < 2; ++x) {
          float cap_grad;
          const float s = mod.apply(acc_s[nt][e + x], i, j + x, &cap_grad);
          const float prob = expf(s - lse);
          const bool kept = x == 0 ? keep.first : keep.second;
          const float dp = kept ? (p.dropout ? acc_dp[nt][e + x] * p.keep_scale : acc_dp[nt][e + x]) : 0.f;
          acc_s[nt][e + x] = prob * (dp - dsum) * cap_grad;
        }
      }
    }

    // dQ += dS K, B(k = key, n = dim) = K[key][dim]; dS from registers (mma) or this warp's shared rows (f32).
    if constexpr (E::kMma) {
      warp_gemm_acc_a<E, kNTq, kBN>(acc_dq, acc_s, SmemMat<S, kPitch, 1>{s_k});
    } else {
      S* s_dsw = s_ds + local0 * kPitchS;
      store_acc<E, kNTs>(s_dsw, kPitchS, acc_s);
      __syncwarp();
      warp_gemm<E, kNTq, kBN>(acc_dq, SmemMat<S, kPitchS, 1>{s_dsw}, SmemMat<S, kPitch, 1>{s_k});
    }
    __syncthreads();
  }
  cp_async_wait<0>();

  S* g_dq = static_cast<S*>(p.dq) + (bi.q_start + warp_row0) * dq_stride + h * p.dim;
#pragma unroll
  for (int nt = 0; nt < kNTq; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int r = acc_row(e);
      const int c = acc_col(nt, e);
      if (warp_row0 + r < bi.len_q && c < p.dim) g_dq[r * dq_stride + c] = E::from_float(acc_dq[nt][e] * p.scale);
    }
  }
}

}  // namespace fa
