// Where element (row, col) of a shared-memory tile lives, the ldmatrix addresses of its fragments, and the
// 16-byte store that drains it (copy.h's load_tile_to fills it). Rows of whole 128-byte groups are XOR-swizzled:
// 16-byte chunk c of row r is stored at chunk c ^ (r % 8), so the eight rows one ldmatrix phase reads (same logical chunk, consecutive rows) fall in eight different bank
// groups with no padding, and rows stay a power-of-two bytes apart. Other widths (head dims 32 and 96 in 16-bit)
// keep the 16-byte row padding of kernel_traits.h's pitch_of, which spreads those rows over the banks instead.
#pragma once

#include <cstdint>
#include <cstring>

#include "gemm.h"
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

}  // namespace fa
