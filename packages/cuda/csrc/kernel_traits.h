// Tile shapes, per element type and head-dim bucket. Everything here is compile time; launch.cu picks the
// instantiation. Shapes are chosen to fit sm_80's 163 KiB of opt-in shared memory per block with a register
// budget that does not spill (checked with --resource-usage, see README), not tuned on a GPU yet.
#pragma once

#include "dtype.h"

namespace fa {

constexpr int kMaxSmemBytes = 163 * 1024;  // sm_80 opt-in limit per block (sm_90: 227 KiB)

// Shared-memory row pitch: 16 bytes of padding keep rows 16-byte aligned for cp.async and shift successive rows
// across banks.
template <typename S, int kCols>
constexpr int pitch_of() {
  return kCols + 16 / static_cast<int>(sizeof(S));
}

// Forward: a block owns kBM query rows (16 per warp) of one head and streams kBN-key tiles of K and V through
// shared memory, double-buffered when two stages fit.
template <typename E, int kD>
struct FwdTraits {
  using S = typename E::S;
  static constexpr int kBM = 64;
  static constexpr int kBN = kD <= 128 ? 64 : 32;
  static constexpr int kWarps = kBM / 16;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kPitch = pitch_of<S, kD>();
  static constexpr int kPitchP = pitch_of<S, kBN>();
  static constexpr int kQBytes = kBM * kPitch * sizeof(S);
  static constexpr int kKVBytes = 2 * kBN * kPitch * sizeof(S);  // one K tile and one V tile
  // f32 stages P through shared memory to become an A operand; the mma path keeps it in registers.
  static constexpr int kPBytes = E::kMma ? 0 : kBM * kPitchP * sizeof(S);
  static constexpr int kStages = kQBytes + 2 * kKVBytes + kPBytes <= 110 * 1024 ? 2 : 1;
  static constexpr int kSmemBytes = kQBytes + kStages * kKVBytes + kPBytes;
  static_assert(kSmemBytes <= kMaxSmemBytes, "forward tile does not fit in shared memory");
  static_assert(kD % 16 == 0 && kBN % 16 == 0, "mma shapes");
};

// dQ: like the forward (query tile resident, K/V streamed), plus dO and the dS tile; single-buffered.
template <typename E, int kD>
struct DqTraits {
  using S = typename E::S;
  static constexpr int kBM = (sizeof(S) == 4 && kD > 128) ? 32 : 64;
  static constexpr int kBN = kD <= 128 ? 64 : 32;
  static constexpr int kWarps = kBM / 16;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kPitch = pitch_of<S, kD>();
  static constexpr int kPitchS = pitch_of<S, kBN>();
  // As in the forward, only the f32 path stages dS through shared memory.
  static constexpr int kDsRows = E::kMma ? 0 : kBM;
  static constexpr int kSmemBytes =
      (2 * kBM * kPitch + 2 * kBN * kPitch + kDsRows * kPitchS) * sizeof(S) + 2 * kBM * sizeof(float);
  static_assert(kSmemBytes <= kMaxSmemBytes, "dQ tile does not fit in shared memory");
};

// dK/dV: a block owns kBN keys of one key head (K and V resident) and streams kBM-row tiles of Q and dO for every
// query head of its GQA group, so dK and dV are summed over the group without atomics. Eight warps: kBN / 16 row
// blocks times kSplit column slices, both for the transposed scores (keys x queries) and for the dK/dV
// accumulators (keys x head dim), which keeps each thread's accumulators at kD / (2 * kSplit) * 2 floats.
template <typename E, int kD>
struct DkdvTraits {
  using S = typename E::S;
  static constexpr int kWarps = 8;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kBN = (sizeof(S) == 4 && kD > 128) ? 32 : 64;
  static constexpr int kBM = (kD > 128 || (sizeof(S) == 4 && kD > 96)) ? 32 : 64;
  static constexpr int kRowBlocks = kBN / 16;
  static constexpr int kSplit = kWarps / kRowBlocks;
  static constexpr int kPitch = pitch_of<S, kD>();
  static constexpr int kPitchT = pitch_of<S, kBM>();
  static constexpr int kSmemBytes =
      (2 * kBN * kPitch + 2 * kBM * kPitch + 2 * kBN * kPitchT) * sizeof(S) + 2 * kBM * sizeof(float);
  static_assert(kSmemBytes <= kMaxSmemBytes, "dK/dV tile does not fit in shared memory");
  static_assert((kBM / kSplit) % 8 == 0 && (kD / kSplit) % 8 == 0, "column slices are whole n8 tiles");
  static_assert(kBM % 16 == 0, "mma shapes");
};

}  // namespace fa
