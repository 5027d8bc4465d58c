// dK/dV kernel, one block per (key tile, key head). K and V stay in shared memory; for every query head of the
// GQA group and every query tile that sees this key tile (visible_row_span), with scores transposed so that a
// warp's rows are keys:
//   S^T = K Q^T -> P^T = exp(S^T - lse) -> dP^T = V dO^T -> dS^T = P^T * (dP'^T - D) * softcap'
//   dV += dropout(P^T) dO,   dK += dS^T Q,   and, unless deterministic, dQ += dS K into an f32 accumulator
// The group's heads are summed in registers, so dK/dV need no atomics and come out the same every run. Key
// tiles no query sees still write their zeros. dQ's atomics (flash-attention's default) make its low bits vary
// with the order blocks finish; `deterministic` runs the separate dQ kernel instead.
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
__global__ void __launch_bounds__(DkdvTraits<E, kD>::kThreads) bwd_dkdv_kernel(const AttnParams p) {
  using T = DkdvTraits<E, kD>;
  using S = typename E::S;
  constexpr int kBM = T::kBM, kBN = T::kBN, kPitch = T::kPitch, kPitchT = T::kPitchT;
  constexpr int kNTs = kBM / T::kSplit / 8;  // transposed-score tiles per warp: 16 keys x kBM / kSplit queries
  constexpr int kNTg = kD / T::kSplit / 8;   // gradient tiles per warp: 16 keys x kD / kSplit dims

  FA_DYNAMIC_SMEM(smem);
  S* s_k = reinterpret_cast<S*>(smem);
  S* s_v = s_k + kBN * kPitch;
  S* s_q = s_v + kBN * kPitch;
  S* s_do = s_q + kBM * kPitch;
  S* s_pt = s_do + kBM * kPitch;
  S* s_dst = s_pt + kBN * kPitchT;
  float* s_lse = reinterpret_cast<float*>(s_dst + kBN * kPitchT);
  float* s_dsum = s_lse + kBM;

  const int item = blockIdx.x / p.h_k;
  const int hk = blockIdx.x % p.h_k;
  const int b = p.key_tiles[2 * item];
  const int key0 = p.key_tiles[2 * item + 1];
  const BlockInfo bi(p, b);
  const int group = p.h / p.h_k;
  const int n_keys = imin(kBN, bi.len_k - key0);
  const Span rows = visible_row_span(key0, key0 + n_keys, bi.len_q, bi.len_k, p.window_left, p.window_right);
  const int mt_begin = rows.first / kBM;
  const int mt_end = rows.end > rows.first ? (rows.end + kBM - 1) / kBM : mt_begin;

  const int warp = threadIdx.x >> 5;
  const int key_local = (warp % T::kRowBlocks) * 16;  // this warp's 16 keys inside the tile
  const int slice = warp / T::kRowBlocks;             // which column slice of scores and gradients it owns
  const int q_col0 = slice * (kBM / T::kSplit);
  const int d_col0 = slice * (kD / T::kSplit);

  // q, k, v through their layouts (views); dO, the dQ accumulator, dK and dV contiguous.
  const long long dq_stride = static_cast<long long>(p.h) * p.dim;
  const long long o_stride = static_cast<long long>(p.h) * p.dim_v;
  const long long dk_stride = static_cast<long long>(p.h_k) * p.dim;
  const long long dv_stride = static_cast<long long>(p.h_k) * p.dim_v;
  load_tile<S, kBN, kD, kPitch, T::kThreads>(
      s_k, static_cast<const S*>(p.k) + (bi.k_start + key0) * p.k_row_stride + hk * p.k_head_stride, p.k_row_stride,
      n_keys, p.dim, p.vec_loads);
  load_tile<S, kBN, kD, kPitch, T::kThreads>(
      s_v, static_cast<const S*>(p.v) + (bi.k_start + key0) * p.v_row_stride + hk * p.v_head_stride, p.v_row_stride,
      n_keys, p.dim_v, p.vec_loads);
  cp_async_commit();

  float acc_dk[kNTg][4];
  float acc_dv[kNTg][4];
  zero(acc_dk);
  zero(acc_dv);

  for (int h = hk * group; h < (hk + 1) * group; ++h) {
    const ScoreMod mod(p, bi, h);
    for (int mt = mt_begin; mt < mt_end; ++mt) {
      const int row0 = mt * kBM;
      const int n_rows = imin(kBM, bi.len_q - row0);
      const long long row_index = static_cast<long long>(h) * p.total_q + bi.q_start + row0;
      load_tile<S, kBM, kD, kPitch, T::kThreads>(
          s_q, static_cast<const S*>(p.q) + (bi.q_start + row0) * p.q_row_stride + h * p.q_head_stride,
          p.q_row_stride, n_rows, p.dim, p.vec_loads);
      load_tile<S, kBM, kD, kPitch, T::kThreads>(
          s_do, static_cast<const S*>(p.dout) + (bi.q_start + row0) * o_stride + h * p.dim_v, o_stride, n_rows, p.dim_v,
          p.vec_loads);
      cp_async_commit();
      load_row_values<kBM, T::kThreads>(s_lse, p.lse_in + row_index, n_rows, INFINITY);
      load_row_values<kBM, T::kThreads>(s_dsum, p.dsum + row_index, n_rows, 0.f);
      cp_async_wait<0>();
      __syncthreads();

      // S^T = K Q^T: A = this warp's keys of K, B(k = dim, n = query) = Q[query][dim].
      float acc_s[kNTs][4];
      zero(acc_s);
      warp_gemm<E, kNTs, kD>(acc_s, SmemMat<S, kPitch, 1>{s_k + key_local * kPitch},
                             SmemMat<S, 1, kPitch>{s_q + q_col0 * kPitch});
      // dP^T = V dO^T: B(k = dim, n = query) = dO[query][dim].
      float acc_dp[kNTs][4];
      zero(acc_dp);
      warp_gemm<E, kNTs, kD>(acc_dp, SmemMat<S, kPitch, 1>{s_v + key_local * kPitch},
                             SmemMat<S, 1, kPitch>{s_do + q_col0 * kPitch});

      float acc_pt[kNTs][4];
#pragma unroll
      for (int nt = 0; nt < kNTs; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int j = key0 + key_local + acc_row(e);  // key, inside the sequence
          const int q_local = q_col0 + acc_col(nt, e);
          const int i = row0 + q_local;  // query row, inside the sequence
          float cap_grad;
          const float s = mod.apply(acc_s[nt][e], i, j, &cap_grad);
          const float prob = expf(s - s_lse[q_local]);
          // Transposed, a thread's pairs are two queries of one key: separate Philox counters.
          const bool kept = !p.dropout || dropout_keep(p.seed_lo, p.seed_hi, p.dropout_threshold, b, h, i, j);
          const float dp = kept ? (p.dropout ? acc_dp[nt][e] * p.keep_scale : acc_dp[nt][e]) : 0.f;
          acc_pt[nt][e] = kept ? prob : 0.f;
          acc_s[nt][e] = prob * (dp - s_dsum[q_local]) * cap_grad;
        }
      }
      store_acc<E, kNTs>(s_pt + key_local * kPitchT + q_col0, kPitchT, acc_pt);
      store_acc<E, kNTs>(s_dst + key_local * kPitchT + q_col0, kPitchT, acc_s);
      // The next products read all kBM queries of the warp's keys, written by the kSplit warps of its row block.
      __syncthreads();

      // dV += P^T dO and dK += dS^T Q over this warp's slice of head dims: B(k = query, n = dim).
      warp_gemm<E, kNTg, kBM>(acc_dv, SmemMat<S, kPitchT, 1>{s_pt + key_local * kPitchT},
                              SmemMat<S, kPitch, 1>{s_do + d_col0});
      warp_gemm<E, kNTg, kBM>(acc_dk, SmemMat<S, kPitchT, 1>{s_dst + key_local * kPitchT},
                              SmemMat<S, kPitch, 1>{s_q + d_col0});

      if (p.dq_accum != nullptr) {
        // This key tile's share of dQ = dS K, added to the f32 accumulator: A(query, key) = dS^T[key][query]
        // (a transposed view of the same tile), B(k = key, n = dim) = K; warps split the (kBM x kD) block.
        constexpr int kQRowBlocks = kBM / 16;
        constexpr int kQSlices = T::kWarps / kQRowBlocks;
        constexpr int kNTq = kD / kQSlices / 8;
        static_assert(kNTq >= 1 && kD % (kQSlices * 8) == 0, "dQ slices are whole n8 tiles");
        const int q_local0 = (warp % kQRowBlocks) * 16;
        const int dq_col0 = (warp / kQRowBlocks) * (kD / kQSlices);
        float acc_dq[kNTq][4];
        zero(acc_dq);
        warp_gemm<E, kNTq, kBN>(acc_dq, SmemMat<S, 1, kPitchT>{s_dst + q_local0}, SmemMat<S, kPitch, 1>{s_k + dq_col0});
        float* g_dq = p.dq_accum + (bi.q_start + row0 + q_local0) * dq_stride + h * p.dim;
#pragma unroll
        for (int nt = 0; nt < kNTq; ++nt) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int r = acc_row(e);
            const int c = dq_col0 + acc_col(nt, e);
            if (q_local0 + r < n_rows && c < p.dim) atomicAdd(g_dq + r * dq_stride + c, acc_dq[nt][e]);
          }
        }
      }
      __syncthreads();
    }
  }
  cp_async_wait<0>();

  const float dv_scale = p.dropout ? p.keep_scale : 1.f;
  S* g_dk = static_cast<S*>(p.dk) + (bi.k_start + key0 + key_local) * dk_stride + hk * p.dim;
  S* g_dv = static_cast<S*>(p.dv) + (bi.k_start + key0 + key_local) * dv_stride + hk * p.dim_v;
  store_acc_pair_global<E, kNTg>({g_dk, dk_stride, p.dim, acc_dk, p.scale}, {g_dv, dv_stride, p.dim_v, acc_dv, dv_scale},
                                 n_keys - key_local, d_col0);
}

}  // namespace fa
