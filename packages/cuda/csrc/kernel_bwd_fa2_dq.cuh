// fa2 dQ kernel (BwdKernel::kFa2 with `deterministic`, f16/bf16), one block per (query tile, head): Q, dO, lse
// and D resident, K/V tiles of the visible key span streamed (the next one's cp.async under this one's products
// where two stages fit). Per key tile:
//   S = Q K^T, dP = dO V^T -> P = exp(S - lse), dS = P * (dP' - D) * softcap' -> dQ += dS K
// with dS going from the accumulators straight into A fragments and every shared-memory fragment through
// ldmatrix.x4. dQ stays in f32 registers and is written once: no atomics, the same bits every run.
// kWindow / kExtras and the per-tile mask as in kernel_bwd_fa2_dkdv.cuh.
#pragma once

#include "block_info.h"
#include "bwd_fragments.h"
#include "copy.h"
#include "gemm.h"
#include "hd.h"
#include "kernel_bwd_fa2_traits.h"
#include "mask.h"
#include "params.h"
#include "philox.h"

namespace fa {

template <typename E, int kD, bool kWindow, bool kExtras>
__global__ void __launch_bounds__(Fa2DqTraits<E, kD>::kThreads, 2) bwd_fa2_dq_kernel(const AttnParams p) {
  using T = Fa2DqTraits<E, kD>;
  using S = typename E::S;
  constexpr int kBM = T::kBM, kBN = T::kBN, kPitch = T::kPitch;
  constexpr int kNTs = T::kNTs, kNTq = T::kNTq;

  FA_DYNAMIC_SMEM(smem);
  S* s_q = reinterpret_cast<S*>(smem);
  S* s_do = s_q + kBM * kPitch;
  S* s_kv = s_do + kBM * kPitch;  // [stage][K, V][kBN][kPitch]
  float* s_lse = reinterpret_cast<float*>(s_kv + T::kStages * 2 * kBN * kPitch);
  float* s_dsum = s_lse + kBM;

  const QueryTile<kBM, kBN> tile(p, blockIdx.x);
  const int h = tile.h, hk = tile.hk, b = tile.b, row0 = tile.row0, rows = tile.rows;
  const BlockInfo& bi = tile.bi;
  const int kt_begin = tile.kt_begin, kt_end = tile.kt_end;

  const int warp = threadIdx.x >> 5;
  const ScoreMod mod(p, bi, h);
  const bool mask_every = (p.tuning & kTuneMaskEveryTile) != 0;
  const long long dq_stride = static_cast<long long>(p.h) * p.dim;
  const long long o_stride = static_cast<long long>(p.h) * p.dim_v;
  const long long k_stride = p.k_row_stride;
  const long long v_stride = p.v_row_stride;
  const S* g_k = static_cast<const S*>(p.k) + bi.k_start * k_stride + hk * p.k_head_stride;
  const S* g_v = static_cast<const S*>(p.v) + bi.k_start * v_stride + hk * p.v_head_stride;
  const long long row_index = static_cast<long long>(h) * p.total_q + bi.q_start + row0;
  const bwd2::Smem sm = bwd2::smem_of(smem);
  const uint32_t o_q = sm.offset_of(s_q), o_do = sm.offset_of(s_do), o_kv = sm.offset_of(s_kv);

  bwd2::load_tile_rolled<S, kBM, kD, kPitch, T::kThreads>(
      s_q, static_cast<const S*>(p.q) + (bi.q_start + row0) * p.q_row_stride + h * p.q_head_stride, p.q_row_stride,
      rows, p.dim, p.vec_loads);
  bwd2::load_tile_rolled<S, kBM, kD, kPitch, T::kThreads>(
      s_do, static_cast<const S*>(p.dout) + (bi.q_start + row0) * o_stride + h * p.dim_v, o_stride, rows, p.dim_v,
      p.vec_loads);
  load_row_values<kBM, T::kThreads>(s_lse, p.lse_in + row_index, rows, INFINITY);
  load_row_values<kBM, T::kThreads>(s_dsum, p.dsum + row_index, rows, 0.f);

  auto load_kv = [&](int kt, int st) {
    const int key0 = kt * kBN;
    const int n = imin(kBN, bi.len_k - key0);
    S* s_k = s_kv + st * 2 * kBN * kPitch;
    bwd2::load_tile_rolled<S, kBN, kD, kPitch, T::kThreads>(s_k, g_k + key0 * k_stride, k_stride, n, p.dim, p.vec_loads);
    bwd2::load_tile_rolled<S, kBN, kD, kPitch, T::kThreads>(s_k + kBN * kPitch, g_v + key0 * v_stride, v_stride, n, p.dim_v,
                                               p.vec_loads);
  };
  if (T::kStages == 2 && kt_end > kt_begin) load_kv(kt_begin, 0);
  cp_async_commit();

  float acc_dq[kNTq][4];
  zero(acc_dq);
  const int local0 = warp * 16;  // this warp's rows inside the tile

  for (int kt = kt_begin; kt < kt_end; ++kt) {
    const int key0 = kt * kBN;
    const int st = T::kStages == 2 ? (kt - kt_begin) & 1 : 0;
    if constexpr (T::kStages == 2) {
      cp_async_wait<0>();
      __syncthreads();  // this tile landed; everybody is done with the other stage
      if (kt + 1 < kt_end) load_kv(kt + 1, st ^ 1);
      cp_async_commit();
    } else {
      __syncthreads();  // everybody is done with the previous tile
      load_kv(kt, 0);
      cp_async_commit();
      cp_async_wait<0>();
      __syncthreads();
    }
    const uint32_t o_k = o_kv + st * T::kKVBytes;
    const uint32_t o_v = o_k + T::kKVBytes / 2;

    float acc_s[kNTs][4];
    zero(acc_s);
    bwd2::gemm_x4<E, kNTs, kD, false, false, kPitch, kPitch>(acc_s, sm, o_q + 2 * local0 * kPitch, o_k);
    float acc_dp[kNTs][4];
    zero(acc_dp);
    bwd2::gemm_x4<E, kNTs, kD, false, false, kPitch, kPitch>(acc_dp, sm, o_do + 2 * local0 * kPitch, o_v);

    unsigned keep = ~0u;
    if constexpr (kExtras) {
      if (p.dropout) keep = bwd2::keep_bits_rows<kNTs>(p, b, h, row0 + local0, key0);
    }
    auto scores = [&](auto masked) {
      constexpr bool kMask = decltype(masked)::value;
#pragma unroll
      for (int nt = 0; nt < kNTs; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = local0 + acc_row(e);
          const int i = row0 + r;
          const int j = key0 + acc_col(nt, e);
          float cap_grad;
          const float s = bwd2::score_of<kMask, kExtras>(mod, acc_s[nt][e], i, j, cap_grad);
          const float prob = expf(s - s_lse[r]);
          float dp = acc_dp[nt][e];
          if constexpr (kExtras) {
            if (p.dropout) dp = ((keep >> (4 * nt + e)) & 1u) != 0 ? dp * p.keep_scale : 0.f;
          }
          acc_s[nt][e] = prob * (dp - s_dsum[r]) * cap_grad;
        }
      }
    };
    if (mask_every || bwd2::tile_needs_mask<kWindow>(mod, row0, kBM, key0, kBN)) {
      scores(std::true_type{});
    } else {
      scores(std::false_type{});
    }

    // dQ += dS K: B(key, dim) = K[key][dim], k down the rows.
    bwd2::gemm_acc_a_x4<E, kNTq, kBN, true, kPitch>(acc_dq, acc_s, sm, o_k);
  }
  cp_async_wait<0>();

  const int warp_row0 = row0 + local0;
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
