// Global -> shared memory tile loads. Rows past the end of a sequence and columns past the head dim are
// zero-filled, so the products never see garbage and padded head dims cost nothing but the padding.
// Fast path: 16-byte cp.async (sm_80), asynchronous, so the next K/V tile loads while this one is used. It needs
// 16-byte aligned rows, which the host checks once per call (`vec`: head dims, and the offsets, row strides and
// head strides of the q/k/v views, multiples of 16 bytes); otherwise plain element loads (odd head dims such as
// 72 in f32 or 33 in f16, or views at an odd offset or with a padded head stride such as D + 3).
#pragma once

#include <cstdint>
#include <cstring>

#include "smem_layout.h"

namespace fa {

#ifdef FA_EMULATE
// The emulator lands a copy at the issuing thread's next wait, as the hardware may (it reads the source at issue):
// a missing wait, or a barrier missing between a thread's wait and another thread's read, shows as stale data.
// Every wait waits for all of the thread's copies, which is never less than the hardware's wait_group N.
inline void cp_async_16(void* smem, const void* gmem, bool valid) { ::fa_emu::cp_async_deferred(smem, gmem, 16, valid); }
inline void cp_async_commit() {}
template <int kPending>
inline void cp_async_wait() {
  ::fa_emu::cp_async_wait_all();
}
#else
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, bool valid) {
  const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int src_bytes = valid ? 16 : 0;  // 0: nothing is read and the 16 bytes are zero-filled
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem), "r"(src_bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}
#endif

// Loads rows [0, kRows) x columns [0, kCols) of a row-major global matrix (row stride `stride` elements) into a
// shared tile laid out by `Layout` (smem_layout.h); only rows < `rows` and columns < `cols` are read, the rest is
// zero-filled.
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

// load_tile_to into a row-major tile with row pitch kPitch (padded, not swizzled): the baseline kernels' tiles.
template <typename S, int kRows, int kCols, int kPitch, int kThreads>
__device__ __forceinline__ void load_tile(S* smem, const S* gmem, long long stride, int rows, int cols, bool vec) {
  load_tile_to<S, kRows, kCols, SmemLayout<S, kCols, false, kPitch>, kThreads>(smem, gmem, stride, rows, cols, vec);
}

// Loads `n` floats (a tile's lse or D values) with `fill` past the end.
template <int kN, int kThreads>
__device__ __forceinline__ void load_row_values(float* smem, const float* gmem, int n, float fill) {
  for (int i = threadIdx.x; i < kN; i += kThreads) smem[i] = i < n ? gmem[i] : fill;
}

}  // namespace fa
