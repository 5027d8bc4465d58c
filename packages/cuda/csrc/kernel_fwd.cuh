// Forward kernel. One block per (query tile, head): the work list (params.tiles, built on the host from
// cu_seqlens, longest first) holds only real tiles, so padding never launches a block. Per block:
//   q tile: (kBM, d) resident in shared memory; for each key tile the mask leaves visible:
//   S = Q K^T (scaled, softcapped, ALiBi, masked) -> online softmax -> P (rounded to the element type, dropped
//   entries zeroed; kept in registers on the mma path) -> O += P V.
// q, k, v are read through their row and head strides (views); out: (total_q, h, dv), contiguous, and
// lse: (h, total_q) are written once at the end.
#pragma once

#include "block_info.h"
#include "copy.h"
#include "gemm.h"
#include "hd.h"
#include "kernel_traits.h"
#include "mask.h"
#include "params.h"
#include "philox.h"
#include "softmax.h"

namespace fa {

template <typename E, int kD>
__global__ void __launch_bounds__(FwdTraits<E, kD>::kThreads) fwd_kernel(const AttnParams p) {
  using T = FwdTraits<E, kD>;
  using S = typename E::S;
  constexpr int kBM = T::kBM, kBN = T::kBN, kPitch = T::kPitch, kPitchP = T::kPitchP;
  constexpr int kNTs = kBN / 8;  // score accumulator tiles per warp
  constexpr int kNTo = kD / 8;   // output accumulator tiles per warp

  FA_DYNAMIC_SMEM(smem);
  S* s_q = reinterpret_cast<S*>(smem);
  S* s_kv = s_q + kBM * kPitch;  // stage i: K at s_kv + 2i * kBN * kPitch, V right after
  S* s_p = s_kv + T::kStages * 2 * kBN * kPitch;

  const QueryTile<kBM, kBN> tile(p, blockIdx.x);
  const int h = tile.h, hk = tile.hk, b = tile.b, row0 = tile.row0, rows = tile.rows;
  const BlockInfo& bi = tile.bi;
  const int kt_begin = tile.kt_begin, kt_end = tile.kt_end;

  const int warp = threadIdx.x >> 5;
  const ScoreMod mod(p, bi, h);
  // q, k, v through their layouts (views of a packed qkv, say): rows `*_row_stride` apart, heads `*_head_stride`.
  const long long q_stride = p.q_row_stride;
  const long long k_stride = p.k_row_stride;
  const long long v_stride = p.v_row_stride;
  const S* g_q = static_cast<const S*>(p.q) + (bi.q_start + row0) * q_stride + h * p.q_head_stride;
  const S* g_k = static_cast<const S*>(p.k) + bi.k_start * k_stride + hk * p.k_head_stride;
  const S* g_v = static_cast<const S*>(p.v) + bi.k_start * v_stride + hk * p.v_head_stride;

  load_tile<S, kBM, kD, kPitch, T::kThreads>(s_q, g_q, q_stride, rows, p.dim, p.vec_loads);
  cp_async_commit();

  auto load_kv = [&](int kt, int stage) {
    const int key0 = kt * kBN;
    const int n = imin(kBN, bi.len_k - key0);
    S* s_k = s_kv + stage * 2 * kBN * kPitch;
    load_tile<S, kBN, kD, kPitch, T::kThreads>(s_k, g_k + key0 * k_stride, k_stride, n, p.dim, p.vec_loads);
    load_tile<S, kBN, kD, kPitch, T::kThreads>(s_k + kBN * kPitch, g_v + key0 * v_stride, v_stride, n, p.dim_v,
                                                p.vec_loads);
    cp_async_commit();
  };

  float acc_o[kNTo][4];
  zero(acc_o);
  OnlineSoftmax<kNTs> softmax;
  const int warp_row0 = row0 + warp * 16;  // first sequence row of this warp's 16

  if (kt_begin < kt_end) load_kv(kt_begin, 0);
  for (int kt = kt_begin; kt < kt_end; ++kt) {
    const int it = kt - kt_begin;
    if constexpr (T::kStages == 2) {
      // Prefetch the next tile into the other stage; the barrier closing the previous iteration freed it.
      if (kt + 1 < kt_end) {
        load_kv(kt + 1, (it + 1) & 1);
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
    } else {
      if (it > 0) load_kv(kt, 0);
      cp_async_wait<0>();
    }
    __syncthreads();
    const S* s_k = s_kv + (T::kStages == 2 ? (it & 1) : 0) * 2 * kBN * kPitch;
    const S* s_v = s_k + kBN * kPitch;

    // S = Q K^T: A = Q rows of this warp (row-major), B(k = dim, n = key) = K[key][dim].
    float acc_s[kNTs][4];
    zero(acc_s);
    warp_gemm<E, kNTs, kD>(acc_s, SmemMat<S, kPitch, 1>{s_q + warp * 16 * kPitch}, SmemMat<S, 1, kPitch>{s_k});

    const int key0 = kt * kBN;
#pragma unroll
    for (int nt = 0; nt < kNTs; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_s[nt][e] = mod.apply(acc_s[nt][e], warp_row0 + acc_row(e), key0 + acc_col(nt, e));
    }

    float correction[2];
    softmax.update(acc_s, correction);
#pragma unroll
    for (int nt = 0; nt < kNTo; ++nt) {
      acc_o[nt][0] *= correction[0];
      acc_o[nt][1] *= correction[0];
      acc_o[nt][2] *= correction[1];
      acc_o[nt][3] *= correction[1];
    }

    if (p.dropout) {
      // Dropped weights leave P but still count in the softmax sum (l); kept ones are scaled by 1/(1-p) at the end.
#pragma unroll
      for (int nt = 0; nt < kNTs; ++nt) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const KeepPair keep = dropout_keep_pair(p.seed_lo, p.seed_hi, p.dropout_threshold, b, h,
                                                  warp_row0 + acc_row(2 * half), key0 + acc_col(nt, 2 * half));
          if (!keep.first) acc_s[nt][2 * half] = 0.f;
          if (!keep.second) acc_s[nt][2 * half + 1] = 0.f;
        }
      }
    }

    // O += P V, B(k = key, n = dim) = V. Tensor cores take P straight from the score registers (rounded to the
    // element type); the f32 path stages it through this warp's rows of shared memory.
    if constexpr (E::kMma) {
      warp_gemm_acc_a<E, kNTo, kBN>(acc_o, acc_s, SmemMat<S, kPitch, 1>{s_v});
    } else {
      S* s_pw = s_p + warp * 16 * kPitchP;
      store_acc<E, kNTs>(s_pw, kPitchP, acc_s);
      __syncwarp();
      warp_gemm<E, kNTo, kBN>(acc_o, SmemMat<S, kPitchP, 1>{s_pw}, SmemMat<S, kPitch, 1>{s_v});
    }
    __syncthreads();
  }
  cp_async_wait<0>();

  float inv[2], lse[2];
  softmax.finish(inv, lse);
  const float out_scale = p.dropout ? p.keep_scale : 1.f;
  const long long o_stride = static_cast<long long>(p.h) * p.dim_v;
  S* g_o = static_cast<S*>(p.out) + (bi.q_start + warp_row0) * o_stride + h * p.dim_v;
#pragma unroll
  for (int nt = 0; nt < kNTo; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int r = acc_row(e);
      const int c = acc_col(nt, e);
      if (warp_row0 + r < bi.len_q && c < p.dim_v) g_o[r * o_stride + c] = E::from_float(acc_o[nt][e] * inv[e >> 1] * out_scale);
    }
  }
  if ((threadIdx.x & 3) == 0) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int r = warp_row0 + acc_row(2 * half);
      if (r < bi.len_q) p.lse[static_cast<long long>(h) * p.total_q + bi.q_start + r] = lse[half];
    }
  }
}

}  // namespace fa
