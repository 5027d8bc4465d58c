// One warp's share of a tile product, C (16 x 8*kNT, f32) += A (16 x kK) * B (kK x 8*kNT), operands in shared
// memory. Every matrix product of the forward and backward kernels goes through here, so the accumulator layout
// is the same everywhere: it is mma.sync m16n8k16's,
//   acc[nt][0..1] = C(g,     8*nt + 2*t + {0,1}),   acc[nt][2..3] = C(g + 8, 8*nt + 2*t + {0,1}),
// with g = lane / 4 and t = lane % 4. Operands are addressed through compile-time strides, so a transposed
// operand (K^T in S = Q K^T, Q^T in dK = dS^T Q) is only another stride and never a copy.
//
// f16/bf16: tensor cores (mma.sync.m16n8k16, f32 accumulation, sm_80+); fragments are read with 32-bit loads
// where the two halves a register holds are adjacent in memory, else with two 16-bit loads.
// f32: plain FMAs in the same layout. TF32 tensor cores would round inputs to 10 mantissa bits, far outside the
// conformance suite's f32 bound (2e-5 relative), so f32 stays exact-f32 arithmetic.
#pragma once

#include <cmath>
#include <cstdint>

#include "dtype.h"
#include "hd.h"

namespace fa {

// A read-only view of a matrix in shared memory: element (r, c) at p[r * kRS + c * kCS].
template <typename S, int kRS, int kCS>
struct SmemMat {
  using Elem = S;
  static constexpr int kRowStride = kRS;
  static constexpr int kColStride = kCS;
  const S* p;
  FA_HD S at(int r, int c) const { return p[r * kRS + c * kCS]; }
  // Elements (r, c) and (r, c + 1) as one 32-bit register, the lower column in the low half.
  FA_HD uint32_t pair_along_cols(int r, int c) const {
    if constexpr (kCS == 1) {
#ifdef FA_EMULATE
      ::fa_emu::check_shared(p + r * kRS + c, 4, 4, "32-bit fragment load");
#endif
      return *reinterpret_cast<const uint32_t*>(p + r * kRS + c);
    } else {
      return static_cast<uint32_t>(at(r, c)) | (static_cast<uint32_t>(at(r, c + 1)) << 16);
    }
  }
  // Elements (r, c) and (r + 1, c), the lower row in the low half.
  FA_HD uint32_t pair_along_rows(int r, int c) const {
    if constexpr (kRS == 1) {
#ifdef FA_EMULATE
      ::fa_emu::check_shared(p + r + c * kCS, 4, 4, "32-bit fragment load");
#endif
      return *reinterpret_cast<const uint32_t*>(p + r + c * kCS);
    } else {
      return static_cast<uint32_t>(at(r, c)) | (static_cast<uint32_t>(at(r + 1, c)) << 16);
    }
  }
};

// Lane `lane`'s A fragment of rows 0..15, columns k0..k0+15 (row-major 16x16 in mma.m16n8k16's layout):
// a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..), with g = lane / 4, t = lane % 4.
template <typename MatA>
FA_HD void load_a_fragment(uint32_t (&fa)[4], const MatA& a, int k0, int lane) {
  const int g = lane >> 2;
  const int t = lane & 3;
  fa[0] = a.pair_along_cols(g, k0 + 2 * t);
  fa[1] = a.pair_along_cols(g + 8, k0 + 2 * t);
  fa[2] = a.pair_along_cols(g, k0 + 2 * t + 8);
  fa[3] = a.pair_along_cols(g + 8, k0 + 2 * t + 8);
}

// Lane `lane`'s B fragment of rows k0..k0+15, columns 8nt..8nt+7 (16x8, "col"): b0 = (k 2t..2t+1, n g),
// b1 = (k 2t+8..2t+9, n g).
template <typename MatB>
FA_HD void load_b_fragment(uint32_t (&fb)[2], const MatB& b, int k0, int nt, int lane) {
  const int g = lane >> 2;
  const int t = lane & 3;
  fb[0] = b.pair_along_rows(k0 + 2 * t, 8 * nt + g);
  fb[1] = b.pair_along_rows(k0 + 2 * t + 8, 8 * nt + g);
}

// The f32 path for one lane: the same accumulator elements as the mma layout, by FMAs.
template <int kNT, int kK, typename MatA, typename MatB>
FA_HD void fma_gemm_lane(float (&acc)[kNT][4], const MatA& a, const MatB& b, int lane) {
  const int g = lane >> 2;
  const int t = lane & 3;
#ifdef __CUDA_ARCH__
#pragma unroll 4
#endif
  for (int k = 0; k < kK; ++k) {
    const float a0 = a.at(g, k);
    const float a1 = a.at(g + 8, k);
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
    for (int nt = 0; nt < kNT; ++nt) {
      const float b0 = b.at(k, 8 * nt + 2 * t);
      const float b1 = b.at(k, 8 * nt + 2 * t + 1);
      acc[nt][0] = fmaf(a0, b0, acc[nt][0]);
      acc[nt][1] = fmaf(a0, b1, acc[nt][1]);
      acc[nt][2] = fmaf(a1, b0, acc[nt][2]);
      acc[nt][3] = fmaf(a1, b1, acc[nt][3]);
    }
  }
}

// Row and column (within a warp's 16 x 8*kNT block) of lane `lane`'s accumulator element acc[nt][e].
FA_HD int acc_row_of(int lane, int e) { return (lane >> 2) + (e >= 2 ? 8 : 0); }
FA_HD int acc_col_of(int lane, int nt, int e) { return 8 * nt + 2 * (lane & 3) + (e & 1); }

template <typename E>
__device__ __forceinline__ void mma_m16n8k16(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);

// D = A B with no accumulator to read: the first k-step of a product, so the accumulator need not be zeroed first
// (C is one zero register for all four inputs, not four zeroed accumulators).
template <typename E>
__device__ __forceinline__ void mma_m16n8k16_first(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);

#ifdef FA_EMULATE
template <typename E>
inline void mma_m16n8k16_first(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  d[0] = d[1] = d[2] = d[3] = 0.f;
  mma_m16n8k16<E>(d, a, b);
}
template <>
inline void mma_m16n8k16<F16>(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  ::fa_emu::mma_m16n8k16(c, a, b, false);
}
template <>
inline void mma_m16n8k16<BF16>(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  ::fa_emu::mma_m16n8k16(c, a, b, true);
}
#else
template <>
__device__ __forceinline__ void mma_m16n8k16<F16>(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <>
__device__ __forceinline__ void mma_m16n8k16<BF16>(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <>
__device__ __forceinline__ void mma_m16n8k16_first<F16>(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %10, %10, %10};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(0.f));
}

template <>
__device__ __forceinline__ void mma_m16n8k16_first<BF16>(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %10, %10, %10};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(0.f));
}
#endif

#ifndef FA_LDMATRIX
#define FA_LDMATRIX 1
#endif

// Two 8x8 blocks of 16-bit values, transposed on the way: the B fragment of one n-tile when B's k runs down the
// rows of a row-major tile (V in O = P V, K in dQ = dS K, dO and Q in the dK/dV products), where the pair a
// register holds is not contiguous. Lanes 0..15 give the row addresses (rows k0..k0+15, columns 8nt..8nt+7);
// lane l receives (row 2t..2t+1, column g) of each block, which is b0 and b1 of mma.m16n8k16.
#ifdef FA_EMULATE
inline void ldmatrix_x2_trans(uint32_t (&r)[2], const void* row) { ::fa_emu::ldmatrix_x2_trans(r, row); }
#else
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t (&r)[2], const void* row) {
  const uint32_t address = static_cast<uint32_t>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(address));
}
#endif

// ldmatrix.sync.aligned.m8n8.x{2,4}[.trans].shared.b16: kCount 8x8 blocks of 16-bit values; lanes 8i..8i+7 give
// the addresses of block i's rows (16-byte aligned). Without .trans lane l (g = l / 4, t = l % 4) receives
// (row g, cols 2t..2t+1) of block i in r[i], which is an A fragment register or, when the matrix holds B's
// columns as rows (K in S = Q K^T), a B fragment register; with .trans (row 2t..2t+1, col g), B's fragment where
// its k runs down the rows (V in O = P V). One instruction replaces four (x4) 32-bit shared loads per lane.
// SmemAddr: a shared-memory address the hot loops do arithmetic on: a 32-bit shared-window address on the device
// (what ldmatrix takes, so no 64-bit generic pointer math per load), a byte pointer in the emulator.
// Swizzled tiles XOR these addresses, so the emulator's is an integer too (its shared memory is 128-byte aligned
// like the GPU's).
#ifdef FA_EMULATE
using SmemAddr = uintptr_t;
inline SmemAddr smem_addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }
template <int kCount, bool kTrans>
inline void ldmatrix(uint32_t (&r)[kCount], const void* row) {
  ::fa_emu::ldmatrix(r, kCount, kTrans, row);
}
template <int kCount, bool kTrans>
inline void ldmatrix_at(uint32_t (&r)[kCount], SmemAddr row) {
  ::fa_emu::ldmatrix(r, kCount, kTrans, reinterpret_cast<const void*>(row));
}
#else
using SmemAddr = uint32_t;
__device__ __forceinline__ SmemAddr smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
template <int kCount, bool kTrans>
__device__ __forceinline__ void ldmatrix_at(uint32_t (&r)[kCount], SmemAddr a) {
  static_assert(kCount == 2 || kCount == 4, "x2 or x4");
  if constexpr (kCount == 4 && kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  } else if constexpr (kCount == 4) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  } else if constexpr (kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
  }
}
template <int kCount, bool kTrans>
__device__ __forceinline__ void ldmatrix(uint32_t (&r)[kCount], const void* row) {
  ldmatrix_at<kCount, kTrans>(r, smem_addr(row));
}
#endif

// This warp's B fragment for k-step k0 and n-tile nt: ldmatrix where B's pairs run down rows of 16-byte aligned
// rows, else the per-lane loader.
template <typename MatB>
__device__ __forceinline__ void warp_load_b_fragment(uint32_t (&fb)[2], const MatB& b, int k0, int nt) {
  const int lane = threadIdx.x & 31;
  if constexpr (FA_LDMATRIX && MatB::kColStride == 1 && MatB::kRowStride != 1 && sizeof(typename MatB::Elem) == 2) {
    const int row = k0 + (lane & 15);  // lanes 16..31 repeat 0..15; .x2 reads addresses from lanes 0..15 only
    ldmatrix_x2_trans(fb, b.p + row * MatB::kRowStride + 8 * nt);
  } else {
    load_b_fragment(fb, b, k0, nt, lane);
  }
}

template <int kNT>
__device__ __forceinline__ void zero(float (&acc)[kNT][4]) {
#pragma unroll
  for (int nt = 0; nt < kNT; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.f;
}

// acc += A * B for this warp. A: rows 0..15 of `a`; B: rows 0..kK-1, columns 0..8*kNT-1 of `b`.
template <typename E, int kNT, int kK, typename MatA, typename MatB>
__device__ __forceinline__ void warp_gemm(float (&acc)[kNT][4], const MatA& a, const MatB& b) {
  const int lane = threadIdx.x & 31;
  if constexpr (E::kMma) {
    static_assert(kK % 16 == 0, "mma.sync m16n8k16 consumes k in steps of 16");
#pragma unroll
    for (int k0 = 0; k0 < kK; k0 += 16) {
      uint32_t fa[4];
      load_a_fragment(fa, a, k0, lane);
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) {
        uint32_t fb[2];
        warp_load_b_fragment(fb, b, k0, nt);
        mma_m16n8k16<E>(acc[nt], fa, fb);
      }
    }
  } else {
    fma_gemm_lane<kNT, kK>(acc, a, b, lane);
  }
}

// acc += A * B where A (16 x kK) is this warp's own accumulator block `a` (16 x kK, f32, from an earlier
// product), rounded to the element type on the way. The accumulator layout of n-tiles 2j and 2j + 1 is exactly
// the A fragment of k-step j (a0 = C(g, 2t..) of tile 2j, a1 = C(g+8, 2t..) of tile 2j, a2, a3 the same of tile
// 2j + 1), so P and dS go from one product into the next without touching shared memory (mma path only).
template <typename E, int kNT, int kK, typename MatB>
__device__ __forceinline__ void warp_gemm_acc_a(float (&acc)[kNT][4], const float (&a)[kK / 8][4], const MatB& b) {
  static_assert(E::kMma, "the f32 path has no register fragments; it stages A through shared memory");
  auto pack = [](float lo, float hi) {
    return static_cast<uint32_t>(E::from_float(lo)) | (static_cast<uint32_t>(E::from_float(hi)) << 16);
  };
#pragma unroll
  for (int j = 0; j < kK / 16; ++j) {
    const uint32_t fa[4] = {pack(a[2 * j][0], a[2 * j][1]), pack(a[2 * j][2], a[2 * j][3]),
                            pack(a[2 * j + 1][0], a[2 * j + 1][1]), pack(a[2 * j + 1][2], a[2 * j + 1][3])};
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
      uint32_t fb[2];
      warp_load_b_fragment(fb, b, 16 * j, nt);
      mma_m16n8k16<E>(acc[nt], fa, fb);
    }
  }
}

// Row and column (within the warp's 16 x 8*kNT block) of accumulator element acc[nt][e].
__device__ __forceinline__ int acc_row(int e) { return acc_row_of(threadIdx.x & 31, e); }
__device__ __forceinline__ int acc_col(int nt, int e) { return acc_col_of(threadIdx.x & 31, nt, e); }

// A warp's accumulator block of one row-major global matrix: 16 rows x 8 kNT columns from column col0, row stride
// `stride`, `cols` columns inside the matrix, every element multiplied by `scale` on the way out.
template <typename E, int kNT>
struct AccOut {
  typename E::S* g;
  long long stride;
  int cols;
  const float (&acc)[kNT][4];
  float scale;
};

// Stores two accumulator blocks of the same rows (dK and dV), rounded to the element type: rows below `rows` only.
// One loop over both, element by element (two loops made ptxas spill the fa2 dK/dV kernel at D = 96).
template <typename E, int kNT>
__device__ __forceinline__ void store_acc_pair_global(const AccOut<E, kNT>& x, const AccOut<E, kNT>& y, int rows,
                                                      int col0) {
#pragma unroll
  for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int r = acc_row(e);
      const int c = col0 + acc_col(nt, e);
      if (r >= rows) continue;
      if (c < x.cols) x.g[r * x.stride + c] = E::from_float(x.acc[nt][e] * x.scale);
      if (c < y.cols) y.g[r * y.stride + c] = E::from_float(y.acc[nt][e] * y.scale);
    }
  }
}

// Stores a warp's accumulator block, converted to the element type, into shared memory at `dst` (row pitch
// `pitch`): how P and dS become the A operand of the next product.
template <typename E, int kNT>
__device__ __forceinline__ void store_acc(typename E::S* dst, int pitch, const float (&acc)[kNT][4]) {
#pragma unroll
  for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) dst[acc_row(e) * pitch + acc_col(nt, e)] = E::from_float(acc[nt][e]);
  }
}

}  // namespace fa
