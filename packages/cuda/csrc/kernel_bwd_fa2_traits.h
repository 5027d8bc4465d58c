// Tile shapes of the fa2 backward (BwdKernel::kFa2, f16/bf16 only; f32 runs the baseline). Chosen so that the
// dK/dV kernel fits two blocks per SM on sm_90 (228 KiB shared memory, 64K registers) up to head dim 192 with
// its Q/dO/lse/D tiles double-buffered, and up to 128 within 128 registers per thread (256 threads); at 256 it
// keeps one block. Checked by the static report (scripts/static-report.ts), not tuned on a GPU.
#pragma once

#include "kernel_traits.h"

namespace fa {

// dK/dV: a block owns kBN = 64 keys of one key head (K and V resident) and streams kBM-row tiles of Q, dO, lse
// and D, double-buffered (the next tile's cp.async runs under this tile's five products), over every query
// head of its GQA group. Eight warps: 4 row blocks of 16 keys x 2 column slices, for the transposed scores
// (keys x kBM / 2 queries) and the dK/dV accumulators (keys x kD / 2 dims); for dQ = dS K the warps split the
// kBM x kD block into kBM / 16 row blocks x (8 / (kBM / 16)) column slices.
template <typename E, int kD>
struct Fa2DkdvTraits {
  using S = typename E::S;
  static constexpr int kWarps = 8;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kBN = 64;
  static constexpr int kBM = kD <= 96 ? 64 : 32;
  static constexpr int kMinBlocks = kD <= 128 ? 2 : 1;  // __launch_bounds__: <= 128 registers up to D = 128
  static constexpr int kRowBlocks = kBN / 16;
  static constexpr int kSplit = kWarps / kRowBlocks;
  static constexpr int kNTs = kBM / kSplit / 8;  // transposed-score n-tiles per warp
  static constexpr int kNTg = kD / kSplit / 8;   // dK/dV n-tiles per warp
  static constexpr int kQRowBlocks = kBM / 16;
  static constexpr int kQSlices = kWarps / kQRowBlocks;
  static constexpr int kNTq = kD / kQSlices / 8;  // dQ n-tiles per warp
  static constexpr int kPitch = pitch_of<S, kD>();
  static constexpr int kPitchT = pitch_of<S, kBM>();
  static constexpr int kKBytes = kBN * kPitch * sizeof(S);
  static constexpr int kQBytes = kBM * kPitch * sizeof(S);
  static constexpr int kTBytes = kBN * kPitchT * sizeof(S);
  // K, V; two stages of Q and dO; P^T and dS^T; two stages of lse and D.
  static constexpr int kSmemBytes = 2 * kKBytes + 4 * kQBytes + 2 * kTBytes + 4 * kBM * sizeof(float);
  static_assert(kSmemBytes <= kMaxSmemBytes, "fa2 dK/dV tile does not fit in shared memory");
  static_assert(kNTs % 2 == 0 && kNTg % 2 == 0 && kNTq % 2 == 0 && kNTq * 8 * kQSlices == kD,
                "ldmatrix.x4 B loads cover n-tiles in pairs");
  static_assert(kD % 16 == 0 && kBM % 16 == 0, "mma shapes");
};

// dQ (deterministic): a block owns kBM = 64 query rows of one head (16 per warp, 4 warps) with Q and dO
// resident, and streams 64-key tiles of K and V, double-buffered where two stages fit two blocks per SM on sm_90.
template <typename E, int kD>
struct Fa2DqTraits {
  using S = typename E::S;
  static constexpr int kWarps = 4;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kBM = 64;
  static constexpr int kBN = kD <= 128 ? 64 : 32;
  static constexpr int kNTs = kBN / 8;
  static constexpr int kNTq = kD / 8;
  static constexpr int kPitch = pitch_of<S, kD>();
  static constexpr int kQBytes = 2 * kBM * kPitch * sizeof(S);  // Q and dO
  static constexpr int kKVBytes = 2 * kBN * kPitch * sizeof(S);  // one K tile and one V tile
  static constexpr int kStages = kQBytes + 2 * kKVBytes + 2 * kBM * 4 <= 112 * 1024 ? 2 : 1;
  static constexpr int kSmemBytes = kQBytes + kStages * kKVBytes + 2 * kBM * sizeof(float);
  static_assert(kSmemBytes <= kMaxSmemBytes, "fa2 dQ tile does not fit in shared memory");
  static_assert(kD % 16 == 0 && kNTs % 2 == 0 && kNTq % 2 == 0, "mma shapes");
};

}  // namespace fa
