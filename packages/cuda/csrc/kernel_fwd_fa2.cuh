// The fa2 forward (FwdKernel::kFa2), f16/bf16: flash-attention 2's design. One block per (128-row query tile,
// head) of the host's work list. What differs from the baseline fwd_kernel, and why:
//   - 32 query rows per warp (two m16 atoms) at head dims up to 128: every K and V fragment read from shared
//     memory feeds two mma instead of one, halving shared-memory traffic per product;
//   - fragments come through ldmatrix.x4 (Q, K) and ldmatrix.x4.trans (V) from XOR-swizzled rows: one
//     instruction per four 32-bit loads, no bank conflicts, no padding;
//   - compile-time specialisation: kWindow (causal or a sliding window) and kExtras (softcap, ALiBi or dropout;
//     those three stay runtime branches inside that instantiation), so the common call runs none of that code;
//   - the mask is applied only on key tiles that a mask boundary or the sequence end crosses (a per-tile test
//     chooses between two bodies); tiles fully inside the band run no per-score mask code;
//   - exp2 with the softmax scale and log2(e) folded into one FMA per score (the max is taken on raw dots);
//   - K and V double-buffered with one barrier per key tile: the wait + barrier at the top of an iteration both
//     publishes this tile's copies and frees the other stage for the next tile's, issued right after;
//   - the output is staged through the warp's own rows of the Q tile and written with 16-byte stores.
// The tiles of one block run in this order: the masked ones first (both ends of the band), then the unmasked
// middle; the online softmax does not depend on the order.
#pragma once

#include "block_info.h"
#include "copy.h"
#include "gemm.h"
#include "hd.h"
#include "kernel_traits.h"
#include "mask.h"
#include "params.h"
#include "philox.h"
#include "smem_layout.h"
#include "softmax.h"

namespace fa {

// Floor and ceiling of a / b for b > 0 and any sign of a.
__device__ __forceinline__ int floor_div(int a, int b) { return a >= 0 ? a / b : -((b - 1 - a) / b); }
__device__ __forceinline__ int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// The key tiles [kt_begin, kt_end) of a block's visible span that need no mask: [full_begin, full_end), every key
// of the tile inside the sequence and inside the band of every row of the block. Empty (full_begin == full_end)
// when none is; always within [kt_begin, kt_end).
struct UnmaskedTiles {
  int full_begin;
  int full_end;
};

template <int kBN, bool kWindow>
__device__ __forceinline__ UnmaskedTiles unmasked_tiles(const AttnParams& p, const BlockInfo& bi, int row0,
                                                        int rows, int kt_begin, int kt_end) {
  int full_begin = kt_begin;
  int full_end = imin(kt_end, bi.len_k / kBN);  // whole tiles of keys
  if constexpr (kWindow) {
    const int offset = bi.len_k - bi.len_q;
    // The first row bounds the right edge of the band, the last row its left edge.
    if (p.window_right >= 0) full_end = imin(full_end, floor_div(row0 + offset + p.window_right + 1, kBN));
    if (p.window_left >= 0) full_begin = imax(full_begin, ceil_div(row0 + rows - 1 + offset - p.window_left, kBN));
  }
  if (p.tuning & kTuneMaskEveryTile) full_begin = kt_end;
  full_begin = imin(full_begin, kt_end);
  full_end = imax(full_end, full_begin);
  return {full_begin, full_end};
}

// Min blocks 1: without it ptxas aimed the extras instantiations at three blocks per SM (168 registers at D = 64)
// and spilled; with it no instantiation spills, and D <= 128 still fits two blocks (8 warps) per SM.
template <typename E, int kD, bool kWindow, bool kExtras, bool kVecLoads>
__global__ void __launch_bounds__(Fa2FwdTraits<E, kD>::kThreads, 1) fwd_fa2_kernel(const AttnParams p) {
  using T = Fa2FwdTraits<E, kD>;
  using S = typename E::S;
  using L = SmemLayout<S, kD, T::kSwizzle, T::kPitch>;
  static_assert(E::kMma, "the fa2 forward is the tensor-core path");
  constexpr int kBM = T::kBM, kBN = T::kBN, kPitch = T::kPitch, kAtoms = T::kAtoms;
  constexpr int kBNs = T::kSubN;  // keys per sub-tile
  constexpr int kNTs = kBNs / 8;  // score n-tiles per atom and sub-tile
  constexpr int kNTo = kD / 8;   // output n-tiles per atom
  constexpr float kLog2e = 1.4426950408889634f;
  constexpr float kLn2 = 0.6931471805599453f;

  FA_DYNAMIC_SMEM(smem);
  S* s_q = reinterpret_cast<S*>(smem);
  S* s_kv = s_q + kBM * kPitch;  // stage i: K at s_kv + 2i * kBN * kPitch, V right after

  const QueryTile<kBM, kBN> tile(p, blockIdx.x);
  const int h = tile.h, hk = tile.hk, b = tile.b, row0 = tile.row0, rows = tile.rows;
  const BlockInfo& bi = tile.bi;
  const int kt_begin = tile.kt_begin, kt_end = tile.kt_end;
  const UnmaskedTiles full = unmasked_tiles<kBN, kWindow>(p, bi, row0, rows, kt_begin, kt_end);
  // Iteration it visits tile_at(it): the masked tiles before the band's unmasked middle, then those after it,
  // then the middle.
  const int n_front = full.full_begin - kt_begin;
  const int n_masked = n_front + (kt_end - full.full_end);
  const int n_tiles = kt_end - kt_begin;
  auto tile_at = [&](int it) {
    return it < n_front ? kt_begin + it : it < n_masked ? full.full_end + (it - n_front) : full.full_begin + (it - n_masked);
  };

  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const int warp_row = warp * 16 * kAtoms;  // this warp's first row in the tile
  const long long q_stride = p.q_row_stride;
  const long long k_stride = p.k_row_stride;
  const long long v_stride = p.v_row_stride;
  const S* g_q = static_cast<const S*>(p.q) + (bi.q_start + row0) * q_stride + h * p.q_head_stride;
  const S* g_k = static_cast<const S*>(p.k) + bi.k_start * k_stride + hk * p.k_head_stride;
  const S* g_v = static_cast<const S*>(p.v) + bi.k_start * v_stride + hk * p.v_head_stride;

  // kVecLoads: rows start 16-byte aligned (p.vec_loads), so every tile load is cp.async and the element-wise
  // fallback is not compiled in; the other instantiation serves misaligned views and odd head dims.
  load_tile_to<S, kBM, kD, L, T::kThreads>(s_q, g_q, q_stride, rows, p.dim, kVecLoads);
  cp_async_commit();
  auto load_kv = [&](int kt, int stage) {
    const int key0 = kt * kBN;
    const int n = imin(kBN, bi.len_k - key0);
    S* s_k = s_kv + stage * 2 * kBN * kPitch;
    load_tile_to<S, kBN, kD, L, T::kThreads>(s_k, g_k + key0 * k_stride, k_stride, n, p.dim, kVecLoads);
    load_tile_to<S, kBN, kD, L, T::kThreads>(s_k + kBN * kPitch, g_v + key0 * v_stride, v_stride, n, p.dim_v,
                                             kVecLoads);
    cp_async_commit();
  };
  if (n_tiles > 0) load_kv(tile_at(0), 0);

  // Rows of this thread: atom a, half r holds tile row warp_row + 16a + 8r + lane / 4.
  const int g = lane >> 2;
  const int t = lane & 3;

  // ldmatrix addresses. Lane l gives row (l & 15) of Q's and V's 16-row blocks (chunk 2s + l / 16) and row
  // 8 (l / 16) + l % 8 of K's (chunk 2s + (l / 8) % 2); all those rows are l % 8 modulo 8, which is the swizzle key.
  const int swizzle_key = lane & 7;
  constexpr int kRowBytes = kPitch * static_cast<int>(sizeof(S));
  using Frag = FragAddr<T::kSwizzle>;
  const Frag q_frag(smem_addr(s_q) + (warp_row + (lane & 15)) * kRowBytes, lane >> 4, swizzle_key);
  const Frag k_frag0(smem_addr(s_kv) + (((lane >> 4) << 3) + (lane & 7)) * kRowBytes, (lane >> 3) & 1, swizzle_key);
  const Frag v_frag0(smem_addr(s_kv) + kBN * kRowBytes + (lane & 15) * kRowBytes, lane >> 4, swizzle_key);

  // Scores are kept in "x units": raw dots, whose exponent scale * log2(e) is folded into the FMA of exp2 (the
  // scale is positive, so the max of raw dots is the max of scores); log2-scaled scores when softcap or ALiBi must
  // act on the scaled score first. Which one depends on the call only, never on the instantiation, so every
  // instantiation (and the element-wise-load one that misaligned views get) computes the same bits.
  const bool score_mods = kExtras && (p.softcap > 0.f || p.alibi_slopes != nullptr);
  const float x_scale = score_mods ? 1.f : p.scale * kLog2e;
  const ScoreMod mod(p, bi, h);

  float acc_o[kAtoms][kNTo][4];
  float row_max[kAtoms][2];  // x units
  float row_sum[kAtoms][2];  // thread-partial, as OnlineSoftmax
#pragma unroll
  for (int a = 0; a < kAtoms; ++a) {
    zero(acc_o[a]);
    row_max[a][0] = row_max[a][1] = -INFINITY;
    row_sum[a][0] = row_sum[a][1] = 0.f;
  }

  // Rescaling the output when a row's max grows costs kD / 4 multiplies per row and thread, so it is skipped
  // while no row of the warp has grown by more than 2^8 (flash-attention 4's conditional rescaling): scores keep
  // being exponentiated against the stale max (weights up to 2^8, exact in f32 and within the 16-bit types'
  // range), and the final division by the sum, accumulated against the same max, cancels it.
  const bool always_rescale = (p.tuning & kTuneAlwaysRescale) != 0;

  auto step = [&](int it, bool mask_tile) {
    const int kt = tile_at(it);
    cp_async_wait<0>();
    __syncthreads();  // this tile's K/V (and Q) visible to all; every warp is past tile it - 1, so its stage is free
    if (it + 1 < n_tiles) load_kv(tile_at(it + 1), (it + 1) & 1);
    const int stage_bytes = (it & 1) * T::kKVBytes;  // a multiple of 128: commutes with the swizzle's XOR
    const Frag k_stage = k_frag0.plus(stage_bytes);
    const Frag v_stage = v_frag0.plus(stage_bytes);

    // The tile's kBN keys in sub-tiles of kBNs (fewer score registers live at D = 128; the K/V stage, its barrier
    // and its copies stay per tile). Not unrolled: unrolled, ptxas overlapped the sub-tiles and spilled.
#pragma unroll 1
    for (int sub = 0; sub < kBN / kBNs; ++sub) {
      const int key0 = kt * kBN + sub * kBNs;
      const Frag k_frag = k_stage.plus(sub * kBNs * kRowBytes);
      const Frag v_frag = v_stage.plus(sub * kBNs * kRowBytes);
      // S = Q K^T. Q's A fragment per atom (x4: rows 0-7 / 8-15 x k 0-7 / 8-15); K's B fragments of two n-tiles
      // per x4 (keys 0-7 / 8-15 x dims 0-7 / 8-15), each used by both atoms.
      float acc_s[kAtoms][kNTs][4];  // written by the first k-step's products, no zeroing
#pragma unroll
      for (int ks = 0; ks < kD / 16; ++ks) {
        uint32_t qa[kAtoms][4];
        const SmemAddr q_at = q_frag.at(ks);
        const SmemAddr k_at = k_frag.at(ks);
#pragma unroll
        for (int a = 0; a < kAtoms; ++a) ldmatrix_at<4, false>(qa[a], q_at + 16 * a * kRowBytes);
#pragma unroll
        for (int np = 0; np < kNTs / 2; ++np) {
          uint32_t kb[4];
          ldmatrix_at<4, false>(kb, k_at + 16 * np * kRowBytes);
          const uint32_t b0[2] = {kb[0], kb[1]};
          const uint32_t b1[2] = {kb[2], kb[3]};
#pragma unroll
          for (int a = 0; a < kAtoms; ++a) {
            if (ks == 0) {
              mma_m16n8k16_first<E>(acc_s[a][2 * np], qa[a], b0);
              mma_m16n8k16_first<E>(acc_s[a][2 * np + 1], qa[a], b1);
            } else {
              mma_m16n8k16<E>(acc_s[a][2 * np], qa[a], b0);
              mma_m16n8k16<E>(acc_s[a][2 * np + 1], qa[a], b1);
            }
          }
        }
      }

      if (score_mods || mask_tile) {
        if constexpr (!kExtras) FA_COLD_BEGIN();  // on the plain path only boundary tiles come here
#pragma unroll
        for (int a = 0; a < kAtoms; ++a) {
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            const int i = row0 + warp_row + 16 * a + 8 * r + g;
            // In a masked tile row i sees keys [first, end): the sequence end and both window edges in two
            // compares per score.
            Span band{0, bi.len_k};
            if (kWindow && mask_tile) {
              const int diagonal = i + bi.len_k - bi.len_q;
              if (p.window_left >= 0) band.first = diagonal - p.window_left;
              if (p.window_right >= 0) band.end = imin(bi.len_k, diagonal + p.window_right + 1);
            }
#pragma unroll
            for (int nt = 0; nt < kNTs; ++nt) {
#pragma unroll
              for (int c = 0; c < 2; ++c) {
                const int j = key0 + 8 * nt + 2 * t + c;
                float x = acc_s[a][nt][2 * r + c];
                if (score_mods) x = mod.modify(x, i, j) * kLog2e;
                if (mask_tile && (j < band.first || j >= band.end)) x = -INFINITY;
                acc_s[a][nt][2 * r + c] = x;
              }
            }
          }
        }
        if constexpr (!kExtras) FA_COLD_END();
      }

      // Online softmax per row, in base 2: p = 2^(x * x_scale - m * x_scale), one FMA and one ex2 per score, m the
      // reference max (see always_rescale).
      bool grow[kAtoms][2];
      float tile_max[kAtoms][2];
      float correction[kAtoms][2];
#pragma unroll
      for (int a = 0; a < kAtoms; ++a) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float m = -INFINITY;
#pragma unroll
          for (int nt = 0; nt < kNTs; ++nt) m = fmaxf(m, fmaxf(acc_s[a][nt][2 * r], acc_s[a][nt][2 * r + 1]));
          tile_max[a][r] = quad_max(m);
          const float m_old = row_max[a][r];
          // A first finite score always grows the max; -inf never does.
          grow[a][r] = m_old == -INFINITY ? tile_max[a][r] > m_old
                                          : (tile_max[a][r] - m_old) * x_scale > (always_rescale ? 0.f : 8.f);
        }
      }
      bool any_grow = false;
#pragma unroll
      for (int a = 0; a < kAtoms; ++a) any_grow = any_grow || grow[a][0] || grow[a][1];
      // Every row of the warp rescales when one must, to its own max so far (no row's weights exceed 2^8).
      any_grow = __any_sync(0xffffffffu, any_grow);
#pragma unroll
      for (int a = 0; a < kAtoms; ++a) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const float m_old = row_max[a][r];
          const float m_new = any_grow ? fmaxf(m_old, tile_max[a][r]) : m_old;
          // A row that has seen only -inf keeps m = -inf; its exponentials are taken against 0 (no -inf - -inf).
          const float base = m_new == -INFINITY ? 0.f : m_new * x_scale;
          correction[a][r] = any_grow ? exp2f(m_old * x_scale - base) : 1.f;
          row_max[a][r] = m_new;
          float sum = 0.f;
#pragma unroll
          for (int nt = 0; nt < kNTs; ++nt) {
            acc_s[a][nt][2 * r] = exp2f(fmaf(acc_s[a][nt][2 * r], x_scale, -base));
            acc_s[a][nt][2 * r + 1] = exp2f(fmaf(acc_s[a][nt][2 * r + 1], x_scale, -base));
            sum += acc_s[a][nt][2 * r] + acc_s[a][nt][2 * r + 1];
          }
          row_sum[a][r] = row_sum[a][r] * correction[a][r] + sum;
        }
      }
      if (any_grow) {
        FA_COLD_BEGIN();
#pragma unroll
        for (int a = 0; a < kAtoms; ++a) {
#pragma unroll
          for (int nt = 0; nt < kNTo; ++nt) {
            acc_o[a][nt][0] *= correction[a][0];
            acc_o[a][nt][1] *= correction[a][0];
            acc_o[a][nt][2] *= correction[a][1];
            acc_o[a][nt][3] *= correction[a][1];
          }
        }
        FA_COLD_END();
      }

      if constexpr (kExtras) {
        if (p.dropout) {
          // Dropped weights leave P but still count in the sum; kept ones are scaled by 1/(1-p) at the end.
#pragma unroll
          for (int a = 0; a < kAtoms; ++a) {
#pragma unroll
            for (int nt = 0; nt < kNTs; ++nt) {
#pragma unroll
              for (int r = 0; r < 2; ++r) {
                const KeepPair keep = dropout_keep_pair(p.seed_lo, p.seed_hi, p.dropout_threshold, b, h,
                                                        row0 + warp_row + 16 * a + 8 * r + g, key0 + 8 * nt + 2 * t);
                if (!keep.first) acc_s[a][nt][2 * r] = 0.f;
                if (!keep.second) acc_s[a][nt][2 * r + 1] = 0.f;
              }
            }
          }
        }
      }

      // O += P V: P from the score registers (n-tiles 2j, 2j + 1 are k-step j's A fragment), rounded to the
      // element type at once (half the registers while V streams in); V's B fragments of two output n-tiles per
      // x4.trans (keys 0-7 / 8-15 x dims 0-7 / 8-15).
      uint32_t pa[kBNs / 16][kAtoms][4];
#pragma unroll
      for (int j = 0; j < kBNs / 16; ++j) {
#pragma unroll
        for (int a = 0; a < kAtoms; ++a) {
          pa[j][a][0] = E::pack2(acc_s[a][2 * j][0], acc_s[a][2 * j][1]);
          pa[j][a][1] = E::pack2(acc_s[a][2 * j][2], acc_s[a][2 * j][3]);
          pa[j][a][2] = E::pack2(acc_s[a][2 * j + 1][0], acc_s[a][2 * j + 1][1]);
          pa[j][a][3] = E::pack2(acc_s[a][2 * j + 1][2], acc_s[a][2 * j + 1][3]);
        }
      }
#pragma unroll
      for (int np = 0; np < kNTo / 2; ++np) {
        const SmemAddr v_at = v_frag.at(np);
#pragma unroll
        for (int j = 0; j < kBNs / 16; ++j) {
          uint32_t vb[4];
          ldmatrix_at<4, true>(vb, v_at + 16 * j * kRowBytes);
          const uint32_t b0[2] = {vb[0], vb[1]};
          const uint32_t b1[2] = {vb[2], vb[3]};
#pragma unroll
          for (int a = 0; a < kAtoms; ++a) {
            mma_m16n8k16<E>(acc_o[a][2 * np], pa[j][a], b0);
            mma_m16n8k16<E>(acc_o[a][2 * np + 1], pa[j][a], b1);
          }
        }
      }
    }
  };

  // One loop with the masked tiles first: two loops (a masked and an unmasked copy of the body) made ptxas spill.
  for (int it = 0; it < n_tiles; ++it) step(it, it < n_masked);
  cp_async_wait<0>();  // with no key tile, Q's copy may still be landing where the output is staged

  // Epilogue: normalise, stage this warp's rows in its own rows of the Q tile (only this warp ever read them),
  // then 16-byte stores of whole rows.
  const float out_scale = (kExtras && p.dropout) ? p.keep_scale : 1.f;
#pragma unroll
  for (int a = 0; a < kAtoms; ++a) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float total = quad_sum(row_sum[a][r]);
      const bool empty = total == 0.f || row_max[a][r] == -INFINITY;
      const float inv = empty ? 0.f : out_scale / total;
      const int tile_row = warp_row + 16 * a + 8 * r + g;
#pragma unroll
      for (int nt = 0; nt < kNTo; ++nt) {
        const uint32_t pair = E::pack2(acc_o[a][nt][2 * r] * inv, acc_o[a][nt][2 * r + 1] * inv);
        S* dst = s_q + L::at(tile_row, 8 * nt + 2 * t);
#ifdef FA_EMULATE
        ::fa_emu::check_shared(dst, 4, 4, "output pair");
#endif
        *reinterpret_cast<uint32_t*>(dst) = pair;
      }
      const int i = row0 + tile_row;
      if (t == 0 && i < bi.len_q) {
        // lse = m + ln(l) in natural units: (m * x_scale + log2 l) * ln 2.
        const float lse = empty ? INFINITY : (row_max[a][r] * x_scale + log2f(total)) * kLn2;
        p.lse[static_cast<long long>(h) * p.total_q + bi.q_start + i] = lse;
      }
    }
  }
  __syncwarp();

  constexpr int kWarpRows = 16 * kAtoms;
  constexpr int kChunks = kD / L::kVec;
  const long long o_stride = static_cast<long long>(p.h) * p.dim_v;
  S* g_o = static_cast<S*>(p.out) + (bi.q_start + row0 + warp_row) * o_stride + h * p.dim_v;
  const int warp_rows = imin(kWarpRows, rows - warp_row);
  // Rows of the contiguous output start 16-byte aligned when dim_v is whole chunks (then so is h * dim_v).
  const bool vec_out = p.dim_v % L::kVec == 0;
  for (int idx = lane; idx < kWarpRows * kChunks; idx += 32) {
    const int r = idx / kChunks;
    const int c = idx % kChunks;
    if (r >= warp_rows || c * L::kVec >= p.dim_v) continue;
    const S* src = s_q + L::chunk(warp_row + r, c);
    S* dst = g_o + r * o_stride + c * L::kVec;
    if (vec_out) {
      copy16_shared_to_global(dst, src);
    } else {
      for (int x = 0; x < L::kVec && c * L::kVec + x < p.dim_v; ++x) dst[x] = src[x];
    }
  }
}

}  // namespace fa
