// The host-side entry points of the kernels: what binding.cc calls. No Node here and no device code.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "params.h"

namespace fa {

constexpr int kMaxHeadDim = 256;

// Compile-time tile shapes of the instantiation a call uses, so that the host builds work lists with the same
// tiles the kernels walk.
struct TileShape {
  int bucket;    // head dim the kernels are compiled for (max(dim, dim_v) rounded up to a bucket)
  int fwd_rows;  // query rows per forward block
  int dq_rows;   // query rows per dQ block
  int dkdv_keys; // keys per dK/dV block
  int fwd_smem;   // dynamic shared memory of the forward kernel, bytes
  int bwd_smem;   // the larger of the dK/dV and dQ kernels'
};

// The kernel designs a call runs (AttnParams::fwd_kernel, bwd_kernel): they decide the tile shapes.
struct KernelChoice {
  FwdKernel fwd = FwdKernel::kFa2;
  BwdKernel bwd = BwdKernel::kFa2;
};

// False when no bucket holds max(dim, dim_v) (> kMaxHeadDim or < 1).
bool tile_shape(DType dtype, int dim, int dim_v, KernelChoice kernels, TileShape* shape);

// Enqueue on `stream`; return the launch error, if any (not the kernels' completion).
cudaError_t launch_forward(const AttnParams& p, cudaStream_t stream);
// Preprocess (dsum), then dK/dV, then dQ: the dQ kernel, or (p.dq_accum set) the conversion of what the dK/dV
// kernel added there.
cudaError_t launch_backward(const AttnParams& p, cudaStream_t stream);

// Host copies of device-side helpers, compiled from the same headers (selftest.cu), for the tests.
void philox_host(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
bool dropout_keep_host(uint32_t seed_lo, uint32_t seed_hi, uint32_t threshold, int b, int h, int i, int j);
// Decisions for (i, j) and (i, j + 1), j even, as the forward and dQ kernels make them; bit 0 and bit 1.
int dropout_keep_pair_host(uint32_t seed_lo, uint32_t seed_hi, uint32_t threshold, int b, int h, int i, int j);
void key_span_host(int row0, int row1, int len_q, int len_k, int left, int right, int out[2]);
void row_span_host(int col0, int col1, int len_q, int len_k, int left, int right, int out[2]);
// gemm.h's fragment loaders and accumulator layout against an emulated mma.m16n8k16, for each product the kernels
// make: one line per product, "name<TAB>mismatches<TAB>elements checked".
std::string gemm_layout_report();

}  // namespace fa
