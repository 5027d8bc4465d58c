// Helpers of the fa2 backward kernels (kernel_bwd_fa2_*.cuh), kept apart from gemm.h so that the forward's
// rewrite and this one do not touch the same file:
//   - warp products whose A and B fragments all come from ldmatrix.x4 (with or without .trans), so one
//     instruction loads a whole 16x16 A fragment or the B fragments of two n8 tiles;
//   - 32-bit stores of accumulator pairs (P^T, dS^T into shared memory);
//   - cp.async of 4-byte values (a tile's lse and D, prefetched with the tile);
//   - dQ's accumulation: red.global.add.v4.f32 on sm_90 (after a quad shuffle gives each lane four consecutive
//     columns), scalar f32 atomics before;
//   - dropout with one Philox4x32 evaluation per four scores: core's counter (j / 4, i, h, b) gives the four
//     consecutive keys j of one query row i, which the mma layouts spread over four lanes (transposed scores)
//     or two (row-major scores); each lane computes one counter and the lanes exchange keep bits by shuffles.
// Every fragment address is 16-byte aligned given the 16-byte padded pitches of kernel_bwd_fa2_traits.h, which
// also keep the eight rows of every 8x8 ldmatrix block in distinct bank groups (odd pitch in 16-byte units).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "copy.h"
#include "gemm.h"
#include "hd.h"
#include "mask.h"
#include "philox.h"

namespace fa {
namespace bwd2 {

// Shared memory addressed by 32-bit byte offsets from the start of the dynamic allocation, so that fragment
// addresses are one 32-bit add each (a generic 64-bit pointer costs two registers per live base).
struct Smem {
#ifdef FA_EMULATE
  unsigned char* base;
  __device__ void* at(uint32_t byte) const { return base + byte; }
#else
  uint32_t base;  // the shared-window address of byte 0
#endif
  template <typename P>
  __device__ uint32_t offset_of(const P* p) const {
#ifdef FA_EMULATE
    return static_cast<uint32_t>(reinterpret_cast<const unsigned char*>(p) - base);
#else
    return static_cast<uint32_t>(__cvta_generic_to_shared(p)) - base;
#endif
  }
};

__device__ __forceinline__ Smem smem_of(unsigned char* smem) {
#ifdef FA_EMULATE
  return Smem{smem};
#else
  return Smem{static_cast<uint32_t>(__cvta_generic_to_shared(smem))};
#endif
}

// gemm.h's ldmatrix_at (x4[.trans]) at byte offset `byte`.
template <bool kTrans>
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const Smem& s, uint32_t byte) {
#ifdef FA_EMULATE
  ldmatrix_at<4, kTrans>(r, smem_addr(s.at(byte)));
#else
  ldmatrix_at<4, kTrans>(r, s.base + byte);
#endif
}

// This lane's byte offset inside a 16 x 16 block of 16-bit values with row pitch kP (elements) for ldmatrix.x4:
// lane l (block i = l / 8, row r = l % 8) addresses row r of 8x8 block i. kSecondAlongRows: blocks 1 and 3 are
// the lower eight rows (A fragments from [m][k] and B fragments from [k][n]); else blocks 2 and 3 are
// (B fragments from [n][k], A fragments from [k][m]).
template <int kP, bool kOddBlocksDown>
__device__ __forceinline__ uint32_t ldsm_lane_offset() {
  const int lane = threadIdx.x & 31;
  const int blk = lane >> 3;
  const int r = lane & 7;
  const int row = r + 8 * (kOddBlocksDown ? (blk & 1) : (blk >> 1));
  const int col = 8 * (kOddBlocksDown ? (blk >> 1) : (blk & 1));
  return static_cast<uint32_t>((row * kP + col) * 2);
}

// acc (16 x 8 kNT) += A (16 x kK) * B (kK x 8 kNT), both from shared memory through ldmatrix.x4; `a` and `b`
// are byte offsets of element (0, 0) of the arrays below.
//   kATrans = false: A stored [m][k] (pitch kAP); true: stored [k][m] (ldmatrix .trans).
//   kBTrans = false: B stored [n][k] (B's columns as rows, K in S = Q K^T); true: [k][n] (.trans; dO in
//            dV = P^T dO). One x4 load gives A's four registers, or b0, b1 of n-tiles 2np and 2np + 1.
template <typename E, int kNT, int kK, bool kATrans, bool kBTrans, int kAP, int kBP>
__device__ __forceinline__ void gemm_x4(float (&acc)[kNT][4], const Smem& s, uint32_t a, uint32_t b) {
  static_assert(E::kMma && kK % 16 == 0 && kNT % 2 == 0, "mma shapes: k in steps of 16, n-tiles in pairs");
  // A [m][k]: blocks a0..a3 = (rows +0, cols +0), (+8, +0), (+0, +8), (+8, +8): odd blocks down the rows.
  // A [k][m] (.trans): a1 = stored cols +8, a2 = stored rows +8: odd blocks along the row.
  // B [n][k]: b0, b1 of tile 0 = (n +0, k +0), (n +0, k +8); tile 1 = n + 8: odd blocks along the row.
  // B [k][n] (.trans): b1 = stored rows +8, tile 1 = stored cols +8: odd blocks down the rows.
  a += ldsm_lane_offset<kAP, !kATrans>();
  b += ldsm_lane_offset<kBP, kBTrans>();
#pragma unroll
  for (int k0 = 0; k0 < kK; k0 += 16) {
    uint32_t fa[4];
    ldsm_x4<kATrans>(fa, s, a + 2 * (kATrans ? k0 * kAP : k0));
#pragma unroll
    for (int np = 0; np < kNT / 2; ++np) {
      uint32_t fb[4];
      ldsm_x4<kBTrans>(fb, s, b + 2 * (kBTrans ? k0 * kBP + 16 * np : 16 * np * kBP + k0));
      const uint32_t b0[2] = {fb[0], fb[1]};
      const uint32_t b1[2] = {fb[2], fb[3]};
      mma_m16n8k16<E>(acc[2 * np], fa, b0);
      mma_m16n8k16<E>(acc[2 * np + 1], fa, b1);
    }
  }
}

// acc (16 x 8 kNT) += A * B where A (16 x kK) is this warp's own f32 accumulator block (rounded to the element
// type on the way: n-tiles 2j, 2j + 1 are exactly the A fragment of k-step j) and B comes through ldmatrix.x4
// (kBTrans as in gemm_x4).
template <typename E, int kNT, int kK, bool kBTrans, int kBP>
__device__ __forceinline__ void gemm_acc_a_x4(float (&acc)[kNT][4], const float (&a)[kK / 8][4], const Smem& s,
                                              uint32_t b) {
  static_assert(E::kMma && kK % 16 == 0 && kNT % 2 == 0, "mma shapes");
  auto pack = [](float lo, float hi) {
    return static_cast<uint32_t>(E::from_float(lo)) | (static_cast<uint32_t>(E::from_float(hi)) << 16);
  };
  b += ldsm_lane_offset<kBP, kBTrans>();
#pragma unroll
  for (int j = 0; j < kK / 16; ++j) {
    const uint32_t fa[4] = {pack(a[2 * j][0], a[2 * j][1]), pack(a[2 * j][2], a[2 * j][3]),
                            pack(a[2 * j + 1][0], a[2 * j + 1][1]), pack(a[2 * j + 1][2], a[2 * j + 1][3])};
    const int k0 = 16 * j;
#pragma unroll
    for (int np = 0; np < kNT / 2; ++np) {
      uint32_t fb[4];
      ldsm_x4<kBTrans>(fb, s, b + 2 * (kBTrans ? k0 * kBP + 16 * np : 16 * np * kBP + k0));
      const uint32_t b0[2] = {fb[0], fb[1]};
      const uint32_t b1[2] = {fb[2], fb[3]};
      mma_m16n8k16<E>(acc[2 * np], fa, b0);
      mma_m16n8k16<E>(acc[2 * np + 1], fa, b1);
    }
  }
}

// A warp's accumulator block, rounded to the element type, into shared memory at `dst` (pitch kPitch): one 32-bit
// store per pair of adjacent columns.
template <typename E, int kNT, int kPitch>
__device__ __forceinline__ void store_pairs(typename E::S* dst, const float (&acc)[kNT][4]) {
  const int lane = threadIdx.x & 31;
  typename E::S* row = dst + (lane >> 2) * kPitch + 2 * (lane & 3);
#pragma unroll
  for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      uint32_t* at = reinterpret_cast<uint32_t*>(row + 8 * h * kPitch + 8 * nt);
#ifdef FA_EMULATE
      ::fa_emu::check_shared(at, 4, 4, "32-bit accumulator store");
#endif
      *at = static_cast<uint32_t>(E::from_float(acc[nt][2 * h])) |
            (static_cast<uint32_t>(E::from_float(acc[nt][2 * h + 1])) << 16);
    }
  }
}

// cp.async of 4 bytes with zero-fill (`valid` false writes zeros and reads nothing), beside copy.h's 16-byte one;
// copy.h's cp_async_wait<0> waits for both (on the emulator a copy lands at the issuing thread's wait).
#ifdef FA_EMULATE
inline void cp_async_4(void* smem, const void* gmem, bool valid) {
  if (valid) ::fa_emu::check_global(gmem, 4, "cp.async source");
  ::fa_emu::cp_async_deferred(smem, gmem, 4, valid);
}
#else
__device__ __forceinline__ void cp_async_4(void* smem, const void* gmem, bool valid) {
  const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(gmem), "r"(valid ? 4 : 0));
}
#endif

// copy.h's load_tile (same zero-fill and emulator checks) with the element-wise fallback kept rolled: unrolled,
// its loads in flight would claim registers the prefetching loops need (register allocation covers the path a
// call never takes).
template <typename S, int kRows, int kCols, int kPitch, int kThreads>
__device__ __forceinline__ void load_tile_rolled(S* smem, const S* gmem, long long stride, int rows, int cols,
                                                 bool vec) {
#ifdef FA_EMULATE
  if (threadIdx.x == 0) {
    for (int r = 0; r < rows && r < kRows && cols > 0; ++r) {
      const long long bytes = static_cast<long long>(cols < kCols ? cols : kCols) * sizeof(S);
      ::fa_emu::check_global(gmem + r * stride, bytes, "tile row");
    }
  }
#endif
  if (vec) {
    constexpr int kVec = 16 / static_cast<int>(sizeof(S));
    static_assert(kCols % kVec == 0 && kPitch % kVec == 0, "tiles are whole 16-byte chunks");
    constexpr int kChunksPerRow = kCols / kVec;
    constexpr int kThreadsPerRow = kThreads / kRows;
    if constexpr (kThreads % kRows == 0 && kChunksPerRow % kThreadsPerRow == 0) {
      // One row per thread group: a single 64-bit row address per thread, its chunks at constant offsets.
      const int r = threadIdx.x / kThreadsPerRow;
      const int c0 = (threadIdx.x % kThreadsPerRow) * kVec;
      const S* src = r < rows ? gmem + r * stride : gmem;
#pragma unroll
      for (int j = 0; j < kChunksPerRow / kThreadsPerRow; ++j) {
        const int c = c0 + j * kThreadsPerRow * kVec;
        const bool valid = r < rows && c < cols;
        cp_async_16(smem + r * kPitch + c, valid ? src + c : gmem, valid);
      }
    } else {
#pragma unroll
      for (int idx = threadIdx.x; idx < kRows * kChunksPerRow; idx += kThreads) {
        const int r = idx / kChunksPerRow;
        const int c = (idx % kChunksPerRow) * kVec;
        const bool valid = r < rows && c < cols;
        cp_async_16(smem + r * kPitch + c, valid ? gmem + r * stride + c : gmem, valid);
      }
    }
  } else {
#pragma unroll 1
    for (int idx = threadIdx.x; idx < kRows * kCols; idx += kThreads) {
      const int r = idx / kCols;
      const int c = idx % kCols;
      smem[r * kPitch + c] = (r < rows && c < cols) ? gmem[r * stride + c] : S(0);
    }
  }
}

// `n` of kN floats from `gmem` into `smem`, zero past n (the kernels mask the rows past a sequence's end, so a
// zero lse never reaches an exponential there).
template <int kN, int kThreads>
__device__ __forceinline__ void load_values_async(float* smem, const float* gmem, int n) {
  for (int i = threadIdx.x; i < kN; i += kThreads) cp_async_4(smem + i, i < n ? gmem + i : gmem, i < n);
}

// Adds four consecutive f32 values at `g` (16-byte aligned).
__device__ __forceinline__ void red_add_v4(float* g, float a, float b, float c, float d) {
#ifdef FA_EMULATE
  ::fa_emu::red_add_v4(g, a, b, c, d);
#elif __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"l"(g), "f"(a), "f"(b), "f"(c), "f"(d) : "memory");
#else
  atomicAdd(g, a);
  atomicAdd(g + 1, b);
  atomicAdd(g + 2, c);
  atomicAdd(g + 3, d);
#endif
}

// Adds a warp's dQ block (16 rows x 8 kNT columns, accumulator layout) to the f32 accumulator at `g` (row stride
// `stride`), rows < `rows` and columns < `cols` only. With `vec` (cols and the row starts multiples of 4 floats),
// lanes t and t ^ 1 of a quad swap half their pairs, so that the even lane holds columns 4(t/2)..+3 of row g
// and the odd one the same columns of row g + 8: one 16-byte reduction per n-tile and lane instead of four.
template <int kNT>
__device__ __forceinline__ void add_dq(float* g, long long stride, const float (&acc)[kNT][4], int rows, int cols,
                                       bool vec) {
  const int lane = threadIdx.x & 31;
  const int g_row = lane >> 2;
  const int t = lane & 3;
  if (vec) {
    const bool odd = (t & 1) != 0;
    const int r = g_row + (odd ? 8 : 0);
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
      // The even lane sends its row g + 8 pair and keeps row g; the odd lane sends row g and keeps row g + 8.
      const float send0 = odd ? acc[nt][0] : acc[nt][2];
      const float send1 = odd ? acc[nt][1] : acc[nt][3];
      const float got0 = __shfl_xor_sync(0xffffffffu, send0, 1);
      const float got1 = __shfl_xor_sync(0xffffffffu, send1, 1);
      const int c = 8 * nt + 4 * (t >> 1);
      if (r < rows && c < cols) {
        if (odd) {
          red_add_v4(g + r * stride + c, got0, got1, acc[nt][2], acc[nt][3]);
        } else {
          red_add_v4(g + r * stride + c, acc[nt][0], acc[nt][1], got0, got1);
        }
      }
    }
  } else {
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = g_row + (e >= 2 ? 8 : 0);
        const int c = 8 * nt + 2 * t + (e & 1);
        if (r < rows && c < cols) atomicAdd(g + r * stride + c, acc[nt][e]);
      }
    }
  }
}

__device__ __forceinline__ unsigned shfl_idx(unsigned value, int src_lane) {
#ifdef FA_EMULATE
  return ::fa_emu::shfl_idx_u32(value, src_lane);
#else
  return __shfl_sync(0xffffffffu, value, src_lane);
#endif
}

// The four keep bits (bit w: key 4 (j / 4) + w) of one Philox counter, core's decision.
FA_HD unsigned keep_bits4(uint32_t seed_lo, uint32_t seed_hi, uint32_t threshold, int b, int h, int i, int j4) {
  const PhiloxWords r = philox4x32_10(static_cast<uint32_t>(j4), static_cast<uint32_t>(i), static_cast<uint32_t>(h),
                                      static_cast<uint32_t>(b), seed_lo, seed_hi);
  return (r.w[0] >= threshold ? 1u : 0u) | (r.w[1] >= threshold ? 2u : 0u) | (r.w[2] >= threshold ? 4u : 0u) |
         (r.w[3] >= threshold ? 8u : 0u);
}

// Keep decisions for a warp's transposed score block (rows: 16 keys from `key0`, a multiple of 4; columns: the
// queries row0 + 8 nt + 2t + {0, 1}), as bits: bit 4 nt + e of the result is acc[nt][e]'s. Lane (g, t) with
// g = 4a + k computes counter e = k of each n-tile, i.e. keys key0 + 8 (k >> 1) + 4a..+3 of query 2t + (k & 1),
// and needs word k of the four counters e = 0..3 of its quad column, held by lanes 16a + 4e + t.
template <int kNT>
__device__ __forceinline__ unsigned keep_bits_transposed(const AttnParams& p, int b, int h, int key0, int row0) {
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2;
  const int t = lane & 3;
  const int k = g & 3;
  const int j4 = (key0 + 8 * (k >> 1) + 4 * (g >> 2)) >> 2;
  unsigned own = 0;
#pragma unroll 1  // one Philox evaluation live at a time
  for (int nt = 0; nt < kNT; ++nt) {
    own |= keep_bits4(p.seed_lo, p.seed_hi, p.dropout_threshold, b, h, row0 + 8 * nt + 2 * t + (k & 1), j4) << (4 * nt);
  }
  unsigned keep = 0;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const unsigned from = shfl_idx(own, lane ^ (4 * (k ^ e)));
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) keep |= ((from >> (4 * nt + k)) & 1u) << (4 * nt + e);
  }
  return keep;
}

// The same for a row-major score block (rows: 16 queries from `row0`; columns: keys key0 + 8 nt + 2t + {0, 1},
// key0 a multiple of 4): the four keys 8 nt + 4c..+3 of rows g and g + 8 sit in lanes t = 2c and 2c + 1; the even
// lane computes row g's counter, the odd one row g + 8's, and they swap. kNT <= 8.
template <int kNT>
__device__ __forceinline__ unsigned keep_bits_rows(const AttnParams& p, int b, int h, int row0, int key0) {
  static_assert(kNT <= 8, "4 bits per n-tile in one word");
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2;
  const int t = lane & 3;
  const int odd = t & 1;
  const int i = row0 + g + 8 * odd;
  unsigned own = 0;
#pragma unroll 1  // one Philox evaluation live at a time
  for (int nt = 0; nt < kNT; ++nt) {
    own |= keep_bits4(p.seed_lo, p.seed_hi, p.dropout_threshold, b, h, i, (key0 + 8 * nt + 4 * (t >> 1)) >> 2)
           << (4 * nt);
  }
  const unsigned other = shfl_idx(own, lane ^ 1);
  const unsigned row_g = odd ? other : own;
  const unsigned row_g8 = odd ? own : other;
  unsigned keep = 0;
#pragma unroll
  for (int nt = 0; nt < kNT; ++nt) {
    const int w = 4 * nt + 2 * odd;
    keep |= ((row_g >> w) & 3u) << (4 * nt);
    keep |= ((row_g8 >> w) & 3u) << (4 * nt + 2);
  }
  return keep;
}

// Raw dot -> score, as ScoreMod::apply, with the mask test only when kMask and the extras (softcap, ALiBi) only
// when kExtras; `cap_grad` receives softcap's derivative (1 without it, 0 where masked).
template <bool kMask, bool kExtras>
__device__ __forceinline__ float score_of(const ScoreMod& mod, float dot, int i, int j, float& cap_grad) {
  if constexpr (kMask) {
    if (!mod.visible(i, j)) {
      cap_grad = 0.f;
      return -INFINITY;
    }
  }
  float s = dot * mod.scale;
  cap_grad = 1.f;
  if constexpr (kExtras) {
    if (mod.softcap > 0.f) {
      const float th = tanhf(s / mod.softcap);
      s = mod.softcap * th;
      cap_grad = 1.f - th * th;
    }
    if (mod.slope != 0.f) s -= mod.slope * fabsf(static_cast<float>(i + mod.len_k - mod.len_q - j));
  }
  return s;
}

// Whether tile rows [row0, row0 + m) x keys [key0, key0 + n) needs the mask: a sequence end or (kWindow) a
// causal/window boundary crosses it. Query i sees key j iff i + off - left <= j <= i + off + right.
template <bool kWindow>
__device__ __forceinline__ bool tile_needs_mask(const ScoreMod& mod, int row0, int m, int key0, int n) {
  if (row0 + m > mod.len_q || key0 + n > mod.len_k) return true;
  if constexpr (kWindow) {
    const int off = mod.len_k - mod.len_q;
    if (mod.left >= 0 && key0 < row0 + m - 1 + off - mod.left) return true;
    if (mod.right >= 0 && key0 + n - 1 > row0 + off + mod.right) return true;
  }
  return false;
}

}  // namespace bwd2
}  // namespace fa
