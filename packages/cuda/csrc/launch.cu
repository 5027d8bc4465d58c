// Dispatch: the one place where runtime facts become template arguments. The dtype is switched here, the head
// dim (rounded up to a bucket: 32, 64, 96, 128, 192, 256) in launch_impl.cuh. Softcap, ALiBi, dropout and the
// mask stay runtime flags inside the kernels (uniform branches), which keeps the build at 3 dtypes x 6 buckets
// x 3 templated kernels.
#include "launch_impl.cuh"

namespace fa {

bool tile_shape(DType dtype, int dim, int dim_v, KernelChoice kernels, TileShape* shape) {
  const int d = dim > dim_v ? dim : dim_v;
  switch (dtype) {
    case DType::kF32:
      return tile_shape_for<F32>(d, kernels, shape);
    case DType::kF16:
      return tile_shape_for<F16>(d, kernels, shape);
    case DType::kBF16:
      return tile_shape_for<BF16>(d, kernels, shape);
  }
  return false;
}

cudaError_t launch_forward(const AttnParams& p, cudaStream_t stream) {
  switch (static_cast<DType>(p.dtype)) {
    case DType::kF32:
      return forward_for<F32>(p, stream);
    case DType::kF16:
      return forward_for<F16>(p, stream);
    case DType::kBF16:
      return forward_for<BF16>(p, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_backward(const AttnParams& p, cudaStream_t stream) {
  switch (static_cast<DType>(p.dtype)) {
    case DType::kF32:
      return backward_for<F32>(p, stream);
    case DType::kF16:
      return backward_for<F16>(p, stream);
    case DType::kBF16:
      return backward_for<BF16>(p, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace fa
