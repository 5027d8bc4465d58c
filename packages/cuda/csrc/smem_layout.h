// Where element (row, col) of a shared-memory tile lives, and the loads and stores that fill and drain such
// tiles. Rows of whole 128-byte groups are XOR-swizzled: 16-byte chunk c of row r is stored at chunk c ^ (r % 8),
// so the eight rows one ldmatrix phase reads (same logical chunk, consecutive rows) fall in eight different bank
// groups with no padding, and rows stay a power-of-two bytes apart. Other widths (head dims 32 and 96 in 16-bit)
// keep the 16-byte row padding of kernel_traits.h's pitch_of, which spreads those rows over the banks instead.
#pragma once

#include <cstdint>
#include <cstring>

#include "copy.h"
#include "hd.h"

namespace fa {

template <typename S, int kCols, bool kSwizzle, int kPitch>
struct SmemLayout {
  static constexpr int kVec = 16 / static_cast<int>(sizeof(S));  // elements per 16-byte chunk
  static_assert(!kSwizzle || (kCols / kVec) % 8 == 0, "the swizzle permutes chunks within groups of eight");
  static_assert(kPitch % kVec == 0 && kPitch >= kCols, "rows are whole chunks");
  // Element offset of chunk `chunk` of row `row`.
  FA_HD static int chunk(int row, int chunk) { return row * kPitch + (kSwizzle ? (chunk ^ (row & 7)) : chunk) * kVec; }
  FA_HD static int at(int row, int col) { return chunk(row, col / kVec) + col % kVec; }
  static constexpr int kPitchElems = kPitch;
};

// A lane's ldmatrix address of chunk 2s + h (s = 0, 1, ...; h = 0 or 1 fixed per lane) of its row, for the hot
// loops. In a swizzled tile whose rows start 128-byte aligned, chunk c of a row with key k (row % 8) sits at byte
// 128 (c / 8) + 16 ((c % 8) ^ k) of it, and for c = 2s + h that is (a0 ^ 32 (s % 4)) + 128 (s / 4) with a0 the
// address of chunk h: with s a compile-time constant after unrolling, one XOR with an immediate per load (shared
// by every load of that s) and an offset the load folds in. Anything added later that is a multiple of 128 bytes
// (other rows, atoms, stages) commutes with the XOR. A padded tile (no swizzle) is a0 + 32 s.
#include "gemm.h"

// The XOR is volatile asm on the device: computed where it is used (one instruction), not hoisted out of the key
// loop into one register per (operand, s), which at D = 128 pushed ptxas into spilling.
FA_HD SmemAddr xor_in_place(SmemAddr a, uint32_t bits) {
#ifdef FA_EMULATE
  return a ^ bits;
#else
  uint32_t out;
  asm volatile("xor.b32 %0, %1, %2;" : "=r"(out) : "r"(a), "r"(bits));
  return out;
#endif
}

template <bool kSwizzle>
struct FragAddr {
  SmemAddr a0;
  FA_HD FragAddr(SmemAddr row, int h, int key) : a0(row + (kSwizzle ? ((h ^ key) * 16) : h * 16)) {}
  FA_HD explicit FragAddr(SmemAddr a) : a0(a) {}
  // The same lane's address in a tile `bytes` further on (another stage or sub-tile): a multiple of 128 bytes,
  // which commutes with the XOR.
  FA_HD FragAddr plus(int bytes) const { return FragAddr(a0 + bytes); }
  FA_HD SmemAddr at(int s) const {
    if constexpr (kSwizzle) {
      return (s % 4 == 0 ? a0 : xor_in_place(a0, 32u * (s % 4))) + 128 * (s / 4);
    } else {
      return a0 + 32 * s;
    }
  }
};

// Copies 16 bytes from shared memory to global memory (one st.global.v4 on the device).
#ifdef FA_EMULATE
inline void copy16_shared_to_global(void* gmem, const void* smem) {
  ::fa_emu::check_shared(smem, 16, 16, "16-byte shared load");
  ::fa_emu::check_global(gmem, 16, "16-byte output store");
  ::fa_emu::check_global_alignment(gmem, 16, "16-byte output store");
  std::memcpy(gmem, smem, 16);
}
#else
__device__ __forceinline__ void copy16_shared_to_global(void* gmem, const void* smem) {
  *reinterpret_cast<uint4*>(gmem) = *reinterpret_cast<const uint4*>(smem);
}
#endif

// load_tile (copy.h) into a SmemLayout: rows [0, kRows) x columns [0, kCols) of a row-major global matrix (row
// stride `stride` elements); rows >= `rows` and columns >= `cols` are zero-filled.
template <typename S, int kRows, int kCols, typename Layout, int kThreads>
__device__ __forceinline__ void load_tile_to(S* smem, const S* gmem, long long stride, int rows, int cols, bool vec) {
#ifdef FA_EMULATE
  if (threadIdx.x == 0) {
    for (int r = 0; r < rows && r < kRows && cols > 0; ++r) {
      const long long bytes = static_cast<long long>(cols < kCols ? cols : kCols) * sizeof(S);
      ::fa_emu::check_global(gmem + r * stride, bytes, "tile row");
    }
  }
#endif
  constexpr int kVec = Layout::kVec;
  constexpr int kChunksPerRow = kCols / kVec;
  static_assert(kCols % kVec == 0, "tiles are whole 16-byte chunks");
  if constexpr (kThreads % kChunksPerRow == 0 && (kThreads / kChunksPerRow) % 8 == 0) {
    if (vec) {
      // Each thread owns one chunk column and every kStep-th row: one 64-bit pointer stepped by kStep rows and a
      // shared offset that only grows by a constant (kStep is a multiple of 8, so the swizzle key stays), instead
      // of an address per copy, which the compiler would keep live across the key loop.
      // A chunk past `cols` (a head dim padded up to the bucket) is zero-filled on every row: `live_rows` 0. Rows
      // past `rows` read nothing (src-size 0) and are pointed at the tile's first row all the same, which the
      // PTX ISA does not require but costs one select.
      constexpr int kStep = kThreads / kChunksPerRow;
      const int c = threadIdx.x % kChunksPerRow;
      const int r0 = threadIdx.x / kChunksPerRow;
      const int live_rows = c * kVec < cols ? rows - r0 : 0;
      const S* src = gmem + r0 * stride + c * kVec;
      const long long step = kStep * stride;
      S* dst = smem + Layout::chunk(r0, c);
#pragma unroll
      for (int k = 0; k < kRows / kStep; ++k) {
        const bool valid = k * kStep < live_rows;
        cp_async_16(dst + k * kStep * Layout::kPitchElems, valid ? src : gmem, valid);
        src += step;
      }
      return;
    }
  }
  if (vec) {
    for (int idx = threadIdx.x; idx < kRows * kChunksPerRow; idx += kThreads) {
      const int r = idx / kChunksPerRow;
      const int c = idx % kChunksPerRow;
      // cols is a multiple of kVec on this path, so a chunk is entirely inside or entirely outside.
      const bool valid = r < rows && c * kVec < cols;
      cp_async_16(smem + Layout::chunk(r, c), valid ? gmem + r * stride + c * kVec : gmem, valid);
    }
  } else {
    for (int idx = threadIdx.x; idx < kRows * kCols; idx += kThreads) {
      const int r = idx / kCols;
      const int c = idx % kCols;
      smem[Layout::at(r, c)] = (r < rows && c < cols) ? gmem[r * stride + c] : S(0);
    }
  }
}

}  // namespace fa
