// fa2 dK/dV kernel (BwdKernel::kFa2, f16/bf16), one block per (key tile, key head), flash-attention 2's design:
// K and V stay in shared memory; the (query head, query tile) pairs of the GQA group that see the key tile are
// streamed with the NEXT pair's Q, dO, lse and D loaded by cp.async into the other stage while this one is
// computed. Per pair, with scores transposed so that a warp's rows are keys:
//   S^T = K Q^T, dP^T = V dO^T -> P^T = exp(S^T - lse), dS^T = P^T * (dP'^T - D) * softcap'  (registers)
//   -> P^T, dS^T to shared memory -> dV += dropout(P^T) dO, dK += dS^T Q, and (atomic path) dQ += dS K.
// Two barriers per pair: one before reading the pair's tiles (its cp.async landed; everybody is done with the
// previous pair, so the prefetch may overwrite that stage and P^T/dS^T may be rewritten), one before reading
// the P^T/dS^T columns other warps wrote. Every fragment comes through ldmatrix.x4.
// kWindow / kExtras: compile-time features (causal/window mask; softcap, ALiBi, dropout as runtime branches);
// the mask itself runs only on pairs a boundary or a sequence end crosses, unless kTuneMaskEveryTile.
// dQ's share is added with red.global.add.v4.f32 on sm_90 (bwd_fragments.h).
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
__global__ void __launch_bounds__(Fa2DkdvTraits<E, kD>::kThreads, Fa2DkdvTraits<E, kD>::kMinBlocks)
    bwd_fa2_dkdv_kernel(const AttnParams p) {
  using T = Fa2DkdvTraits<E, kD>;
  using S = typename E::S;
  constexpr int kBM = T::kBM, kBN = T::kBN, kPitch = T::kPitch, kPitchT = T::kPitchT;
  constexpr int kNTs = T::kNTs, kNTg = T::kNTg, kNTq = T::kNTq;

  FA_DYNAMIC_SMEM(smem);
  S* s_k = reinterpret_cast<S*>(smem);
  S* s_v = s_k + kBN * kPitch;
  S* s_q = s_v + kBN * kPitch;  // [2][kBM][kPitch]
  S* s_do = s_q + 2 * kBM * kPitch;  // [2][kBM][kPitch]
  S* s_pt = s_do + 2 * kBM * kPitch;
  S* s_dst = s_pt + kBN * kPitchT;
  float* s_lse = reinterpret_cast<float*>(s_dst + kBN * kPitchT);  // [2][kBM]
  float* s_dsum = s_lse + 2 * kBM;                                 // [2][kBM]

  const int item = blockIdx.x / p.h_k;
  const int hk = blockIdx.x % p.h_k;
  const int b = p.key_tiles[2 * item];
  const int key0 = p.key_tiles[2 * item + 1];
  const BlockInfo bi(p, b);
  const int group = p.h / p.h_k;
  const int n_keys = imin(kBN, bi.len_k - key0);
  const Span rows = visible_row_span(key0, key0 + n_keys, bi.len_q, bi.len_k, p.window_left, p.window_right);
  const int mt_begin = rows.first / kBM;
  const int n_mt = rows.end > rows.first ? (rows.end + kBM - 1) / kBM - mt_begin : 0;
  const int pairs = group * n_mt;

  const int warp = threadIdx.x >> 5;
  const int key_local = (warp % T::kRowBlocks) * 16;  // this warp's 16 keys inside the tile
  const int slice = warp / T::kRowBlocks;
  const int q_col0 = slice * (kBM / T::kSplit);  // its queries in the transposed scores
  const int d_col0 = slice * (kD / T::kSplit);   // its head dims of dK/dV
  const int dq_row0 = (warp % T::kQRowBlocks) * 16;  // its block of dQ = dS K
  const int dq_col0 = (warp / T::kQRowBlocks) * (kD / T::kQSlices);

  const long long dq_stride = static_cast<long long>(p.h) * p.dim;
  const long long o_stride = static_cast<long long>(p.h) * p.dim_v;
  const long long dk_stride = static_cast<long long>(p.h_k) * p.dim;
  const long long dv_stride = static_cast<long long>(p.h_k) * p.dim_v;
  const bool mask_every = (p.tuning & kTuneMaskEveryTile) != 0;
  const bool dq_vec = (p.dim & 3) == 0;
  const bwd2::Smem sm = bwd2::smem_of(smem);
  const uint32_t o_k = sm.offset_of(s_k), o_v = sm.offset_of(s_v);
  const uint32_t o_pt = sm.offset_of(s_pt), o_dst = sm.offset_of(s_dst);

  bwd2::load_tile_rolled<S, kBN, kD, kPitch, T::kThreads>(
      s_k, static_cast<const S*>(p.k) + (bi.k_start + key0) * p.k_row_stride + hk * p.k_head_stride, p.k_row_stride,
      n_keys, p.dim, p.vec_loads);
  bwd2::load_tile_rolled<S, kBN, kD, kPitch, T::kThreads>(
      s_v, static_cast<const S*>(p.v) + (bi.k_start + key0) * p.v_row_stride + hk * p.v_head_stride, p.v_row_stride,
      n_keys, p.dim_v, p.vec_loads);

  // Issues the loads of the pair (head h, query tile mt) into stage st.
  auto load_pair = [&](int h, int mt, int st) {
    const int row0 = mt * kBM;
    const int n_rows = imin(kBM, bi.len_q - row0);
    const long long row_index = static_cast<long long>(h) * p.total_q + bi.q_start + row0;
    bwd2::load_tile_rolled<S, kBM, kD, kPitch, T::kThreads>(
        s_q + st * kBM * kPitch, static_cast<const S*>(p.q) + (bi.q_start + row0) * p.q_row_stride + h * p.q_head_stride,
        p.q_row_stride, n_rows, p.dim, p.vec_loads);
    bwd2::load_tile_rolled<S, kBM, kD, kPitch, T::kThreads>(s_do + st * kBM * kPitch,
                                               static_cast<const S*>(p.dout) + (bi.q_start + row0) * o_stride + h * p.dim_v,
                                               o_stride, n_rows, p.dim_v, p.vec_loads);
    bwd2::load_values_async<kBM, T::kThreads>(s_lse + st * kBM, p.lse_in + row_index, n_rows);
    bwd2::load_values_async<kBM, T::kThreads>(s_dsum + st * kBM, p.dsum + row_index, n_rows);
  };
  if (pairs > 0) load_pair(hk * group, mt_begin, 0);
  cp_async_commit();

  float acc_dk[kNTg][4];
  float acc_dv[kNTg][4];
  zero(acc_dk);
  zero(acc_dv);

  // Pairs in order: every query tile of head hk * group, then of the next head of the group, ...
  int h = hk * group;
  int mt = mt_begin;
  for (int n = 0; n < pairs; ++n) {
    const int row0 = mt * kBM;
    const bool last_tile = mt + 1 == mt_begin + n_mt;
    const int next_h = last_tile ? h + 1 : h;
    const int next_mt = last_tile ? mt_begin : mt + 1;
    const int n_rows = imin(kBM, bi.len_q - row0);
    const int st = n & 1;
    const uint32_t o_q = sm.offset_of(s_q) + st * T::kQBytes;
    const uint32_t o_do = sm.offset_of(s_do) + st * T::kQBytes;
    const float* lse = s_lse + st * kBM;
    const float* dsum = s_dsum + st * kBM;
    const ScoreMod mod(p, bi, h);

    cp_async_wait<0>();
    __syncthreads();
    if (n + 1 < pairs) load_pair(next_h, next_mt, st ^ 1);
    cp_async_commit();

    float acc_s[kNTs][4];
    zero(acc_s);
    bwd2::gemm_x4<E, kNTs, kD, false, false, kPitch, kPitch>(acc_s, sm, o_k + key_local * kPitch * 2,
                                                             o_q + 2 * (q_col0 * kPitch));
    float acc_dp[kNTs][4];
    zero(acc_dp);
    bwd2::gemm_x4<E, kNTs, kD, false, false, kPitch, kPitch>(acc_dp, sm, o_v + key_local * kPitch * 2,
                                                             o_do + 2 * (q_col0 * kPitch));

    unsigned keep = ~0u;
    if constexpr (kExtras) {
      if (p.dropout) keep = bwd2::keep_bits_transposed<kNTs>(p, b, h, key0 + key_local, row0 + q_col0);
    }
    auto scores = [&](auto masked) {
      constexpr bool kMask = decltype(masked)::value;
#pragma unroll
      for (int nt = 0; nt < kNTs; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int j = key0 + key_local + acc_row(e);
          const int q_local = q_col0 + acc_col(nt, e);
          const int i = row0 + q_local;
          float cap_grad;
          const float s = bwd2::score_of<kMask, kExtras>(mod, acc_s[nt][e], i, j, cap_grad);
          const float prob = expf(s - lse[q_local]);
          float dp = acc_dp[nt][e];
          float pt = prob;
          if constexpr (kExtras) {
            if (p.dropout) {
              const bool kept = ((keep >> (4 * nt + e)) & 1u) != 0;
              dp = kept ? dp * p.keep_scale : 0.f;
              pt = kept ? prob : 0.f;
            }
          }
          acc_dp[nt][e] = pt;
          acc_s[nt][e] = prob * (dp - dsum[q_local]) * cap_grad;
        }
      }
    };
    if (mask_every || bwd2::tile_needs_mask<kWindow>(mod, row0, kBM, key0, kBN)) {
      scores(std::true_type{});
    } else {
      scores(std::false_type{});
    }
    bwd2::store_pairs<E, kNTs, kPitchT>(s_pt + key_local * kPitchT + q_col0, acc_dp);
    bwd2::store_pairs<E, kNTs, kPitchT>(s_dst + key_local * kPitchT + q_col0, acc_s);
    __syncthreads();

    // dV += P^T dO, dK += dS^T Q over this warp's head dims: A = [key][query], B = [query][dim] (k down rows).
    bwd2::gemm_x4<E, kNTg, kBM, false, true, kPitchT, kPitch>(acc_dv, sm, o_pt + key_local * kPitchT * 2,
                                                              o_do + 2 * d_col0);
    bwd2::gemm_x4<E, kNTg, kBM, false, true, kPitchT, kPitch>(acc_dk, sm, o_dst + key_local * kPitchT * 2,
                                                              o_q + 2 * d_col0);

    if (p.dq_accum != nullptr) {
      // dQ += dS K: A(query, key) = dS^T[key][query] (ldmatrix .trans), B(key, dim) = K[key][dim].
      float acc_dq[kNTq][4];
      zero(acc_dq);
      bwd2::gemm_x4<E, kNTq, kBN, true, true, kPitchT, kPitch>(acc_dq, sm, o_dst + 2 * dq_row0, o_k + 2 * dq_col0);
      float* g_dq = p.dq_accum + (bi.q_start + row0 + dq_row0) * dq_stride + h * p.dim + dq_col0;
      bwd2::add_dq<kNTq>(g_dq, dq_stride, acc_dq, n_rows - dq_row0, p.dim - dq_col0, dq_vec);
    }
    h = next_h;
    mt = next_mt;
  }
  cp_async_wait<0>();

  const float dv_scale = p.dropout ? p.keep_scale : 1.f;
  S* g_dk = static_cast<S*>(p.dk) + (bi.k_start + key0 + key_local) * dk_stride + hk * p.dim;
  S* g_dv = static_cast<S*>(p.dv) + (bi.k_start + key0 + key_local) * dv_stride + hk * p.dim_v;
  store_acc_pair_global<E, kNTg>({g_dk, dk_stride, p.dim, acc_dk, p.scale}, {g_dv, dv_stride, p.dim_v, acc_dv, dv_scale},
                                 n_keys - key_local, d_col0);
}

}  // namespace fa
