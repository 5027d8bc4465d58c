// The one struct every kernel receives by value. The binding fills it after validating every field (see
// binding.cc); kernels trust it and check nothing again.
#pragma once

#include <cstdint>

namespace fa {

enum class DType : int { kF32 = 0, kF16 = 1, kBF16 = 2 };

// Which kernel design a call runs. One build carries every design so that a single GPU session can time them
// against each other (the backend's `kernels` option; docs/benchmarks.md). kFa2 is the default.
enum class FwdKernel : int {
  kBaseline = 0,  // the first design: 64-row query tiles, 16 rows per warp, every feature a runtime branch
  kFa2 = 1,       // flash-attention 2's: 128-row tiles, 32 rows per warp, ldmatrix.x4, specialised, one barrier
};
enum class BwdKernel : int { kBaseline = 0, kFa2 = 1 };
// A/B switches inside the kFa2 designs; each turns one of their changes off. Not for production use.
enum TuningFlag : unsigned {
  kTuneMaskEveryTile = 1u,  // apply the mask on every tile, not only on the tiles a mask boundary crosses
  kTuneNoSpecialise = 2u,   // run the instantiation with every feature as a runtime branch
  kTuneAlwaysRescale = 4u,  // rescale the output whenever a row's max grows (not only past 2^8)
  kTuneAll = 7u,
};

// Shapes are the packed varlen ones of @fa/core:
//   q: (total_q, h, dim)   k: (total_k, h_k, dim)   v: (total_k, h_k, dim_v)
//   out, dout: (total_q, h, dim_v)   lse, dsum: (h, total_q) f32
//   dq: (total_q, h, dim)   dk: (total_k, h_k, dim)   dv: (total_k, h_k, dim_v)
// q, k and v may be strided views (the parts of a packed qkv: (T, 3, H, D) are three views of one buffer):
// element (t, h, d) of q is at q[t * q_row_stride + h * q_head_stride + d], the view's offset already added to
// the pointer, as flash-attention's Flash_fwd_params. Everything else is contiguous.
struct AttnParams {
  int dtype;  // a DType
  const void* q;
  const void* k;
  const void* v;
  // In elements; only the head dim of an input is contiguous.
  long long q_row_stride;
  long long q_head_stride;
  long long k_row_stride;
  long long k_head_stride;
  long long v_row_stride;
  long long v_head_stride;
  void* out;
  float* lse;

  // Backward only.
  const void* dout;
  const void* out_in;
  const float* lse_in;
  float* dsum;  // D_i = dO_i . O_i, written by the preprocess kernel.
  // (total_q, h, dim) f32, zeroed: when set, the dK/dV kernel also adds each key tile's share of dQ here with
  // atomics (flash-attention's default; the order of those additions varies run to run) and a last kernel
  // scales and converts it. Null for `deterministic`: the dQ kernel then owns each dQ tile.
  float* dq_accum;
  void* dq;
  void* dk;
  void* dv;

  // Device copies of the host arrays: cu_seqlens (batch + 1 each), ALiBi slopes (h) or null, and the work list:
  // `tiles[2 * t]` is the sequence and `tiles[2 * t + 1]` the first query row of tile t (forward, dQ).
  const int* cu_seqlens_q;
  const int* cu_seqlens_k;
  const float* alibi_slopes;
  const int* tiles;
  int num_tiles;
  // Backward only: the dK/dV work list, `key_tiles[2 * t]` the sequence and `key_tiles[2 * t + 1]` the first key.
  const int* key_tiles;
  int num_key_tiles;

  int batch;
  int total_q;
  int total_k;
  int h;
  int h_k;
  int dim;    // head_dim of q and k
  int dim_v;  // head_dim of v

  // Whether every tile row starts on a 16-byte boundary, which lets tile loads use 16-byte cp.async: the head dims,
  // and the offsets, row strides and head strides of q, k and v, are all multiples of 16 bytes (allocations are
  // 256-byte aligned; out, dout and dq are contiguous). One misaligned view sends every load of the call down
  // the element-wise path.
  bool vec_loads;

  int fwd_kernel;   // a FwdKernel
  int bwd_kernel;   // a BwdKernel
  unsigned tuning;  // TuningFlag bits

  float scale;
  float softcap;  // 0 = off
  int window_left;   // -1 = unbounded
  int window_right;  // -1 = unbounded; 0 when causal

  // Dropout: keep a score iff its Philox word >= threshold; kept weights are scaled by keep_scale = 1 / (1 - p).
  bool dropout;
  uint32_t dropout_threshold;
  float keep_scale;
  uint32_t seed_lo;
  uint32_t seed_hi;
};

}  // namespace fa
