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

namespace fa {

// The fa2 forward (kernel_fwd_fa2.cuh), f16/bf16: flash-attention 2's tiling. A block owns kBM = 128 query rows
// of one head. At head dims up to 128 four warps own 32 rows each, two m16 mma atoms that share every B fragment
// (K and V are read from shared memory once per two atoms); above 128 eight warps own 16 rows each, which keeps
// the output accumulator (kD / 2 floats per thread) in registers. K and V stream through two stages of kBN keys.
// Rows are stored XOR-swizzled when they are whole 128-byte groups of 16-byte chunks (head dims 64, 128, 192, 256:
// conflict-free ldmatrix with no padding), else padded by 16 bytes (32, 96).
template <typename E, int kD>
struct Fa2FwdTraits {
  using S = typename E::S;
  static constexpr int kBM = 128;
  static constexpr int kBN = kD <= 128 ? 64 : 32;
  static constexpr int kAtoms = kD <= 128 ? 2 : 1;  // m16 row blocks per warp
  // Keys per sub-tile: the scores of one sub-tile are live at a time. With two atoms, 32 keeps the output (up to
  // 128 floats per thread at D = 128) and the scores (32) within 255 registers; ptxas spilled 100-300 bytes at
  // D = 96 and 128 with 64-key sub-tiles (README, fa2 forward).
  static constexpr int kSubN = kAtoms == 2 ? 32 : kBN;
  static constexpr int kWarps = kBM / (16 * kAtoms);
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kChunks = kD * static_cast<int>(sizeof(S)) / 16;  // 16-byte chunks per row
  static constexpr bool kSwizzle = kChunks % 8 == 0;
  static constexpr int kPitch = kSwizzle ? kD : pitch_of<S, kD>();
  static constexpr int kQBytes = kBM * kPitch * static_cast<int>(sizeof(S));
  static constexpr int kKVBytes = 2 * kBN * kPitch * static_cast<int>(sizeof(S));  // one K and one V tile
  static constexpr int kStages = 2;
  static constexpr int kSmemBytes = kQBytes + kStages * kKVBytes;
  static_assert(kSmemBytes <= kMaxSmemBytes, "fa2 forward tile does not fit in shared memory");
  static_assert(kD % 16 == 0 && kBN % 16 == 0, "mma shapes");
};

}  // namespace fa
