// Global -> shared memory tile loads. Rows past the end of a sequence and columns past the head dim are
// zero-filled, so the products never see garbage and padded head dims cost nothing but the padding.
// Fast path: 16-byte cp.async (sm_80), asynchronous, so the next K/V tile loads while this one is used. It needs
// 16-byte aligned rows, which the host checks once per call (`vec`: head dims, and the offsets, row strides and
// head strides of the q/k/v views, multiples of 16 bytes); otherwise plain element loads (odd head dims such as
// 72 in f32 or 33 in f16, or views at an odd offset or with a padded head stride such as D + 3).
#pragma once

#include <cstdint>
#include <cstring>

namespace fa {

#ifdef FA_EMULATE
// The emulator copies at once: a later wait has nothing left to wait for.
inline void cp_async_16(void* smem, const void* gmem, bool valid) {
  ::fa_emu::check_shared(smem, 16, 16, "cp.async destination");
  if (valid) ::fa_emu::check_global_alignment(gmem, 16, "cp.async source");
  if (valid) {
    std::memcpy(smem, gmem, 16);
  } else {
    std::memset(smem, 0, 16);
  }
}
inline void cp_async_commit() {}
template <int kPending>
inline void cp_async_wait() {}
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

// Loads rows [0, kRows) x columns [0, kCols) of a row-major global matrix (row stride `stride` elements) into
// shared memory with row pitch kPitch; only rows < `rows` and columns < `cols` are read.
template <typename S, int kRows, int kCols, int kPitch, int kThreads>
__device__ __forceinline__ void load_tile(S* smem, const S* gmem, long long stride, int rows, int cols, bool vec) {
#ifdef FA_EMULATE
  // Every row this tile reads lies in one live allocation: a view's layout must not carry a load out of its
  // buffer (on the GPU, an illegal-address fault or another tensor's data).
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
    for (int idx = threadIdx.x; idx < kRows * kChunksPerRow; idx += kThreads) {
      const int r = idx / kChunksPerRow;
      const int c = (idx % kChunksPerRow) * kVec;
      // cols is a multiple of kVec on this path, so a chunk is entirely inside or entirely outside.
      const bool valid = r < rows && c < cols;
      cp_async_16(smem + r * kPitch + c, valid ? gmem + r * stride + c : gmem, valid);
    }
  } else {
    for (int idx = threadIdx.x; idx < kRows * kCols; idx += kThreads) {
      const int r = idx / kCols;
      const int c = idx % kCols;
      smem[r * kPitch + c] = (r < rows && c < cols) ? gmem[r * stride + c] : S(0);
    }
  }
}

// Loads `n` floats (a tile's lse or D values) with `fill` past the end.
template <int kN, int kThreads>
__device__ __forceinline__ void load_row_values(float* smem, const float* gmem, int n, float fill) {
  for (int i = threadIdx.x; i < kN; i += kThreads) smem[i] = i < n ? gmem[i] : fill;
}

}  // namespace fa
