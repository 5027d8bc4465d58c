// Per-element-type launchers, the head-dim half of the dispatch. Defined here and instantiated once per type in
// launch_f32.cu, launch_f16.cu and launch_bf16.cu, so that the three heavy translation units compile in
// parallel; launch.cu holds the dtype half.
#pragma once

#include <utility>

#include "kernel_bwd_convert.cuh"
#include "kernel_bwd_dkdv.cuh"
#include "kernel_bwd_dq.cuh"
#include "kernel_bwd_fa2_dkdv.cuh"
#include "kernel_bwd_fa2_dq.cuh"
#include "kernel_bwd_preprocess.cuh"
#include "kernel_fwd.cuh"
#include "kernel_fwd_fa2.cuh"
#include "launch.h"

namespace fa {

template <typename E>
bool tile_shape_for(int dim, KernelChoice kernels, TileShape* shape);
template <typename E>
cudaError_t forward_for(const AttnParams& p, cudaStream_t stream);
template <typename E>
cudaError_t backward_for(const AttnParams& p, cudaStream_t stream);

#ifdef FA_LAUNCH_DEFINITIONS

template <int kD>
using Dim = std::integral_constant<int, kD>;

// Calls f(Dim<kD>{}) for the smallest bucket that holds `dim`; false when none does.
template <typename F>
bool dispatch_dim(int dim, F&& f) {
  if (dim < 1) return false;
  if (dim <= 32) return f(Dim<32>{}), true;
  if (dim <= 64) return f(Dim<64>{}), true;
  if (dim <= 96) return f(Dim<96>{}), true;
  if (dim <= 128) return f(Dim<128>{}), true;
  if (dim <= 192) return f(Dim<192>{}), true;
  if (dim <= 256) return f(Dim<256>{}), true;
  return false;
}

// Launches `kernel` over `blocks` blocks, first raising its dynamic shared memory limit when it needs more than
// the default 48 KiB.
template <typename Kernel>
cudaError_t launch_kernel(Kernel kernel, long long blocks, int threads, int smem, const AttnParams& p,
                          cudaStream_t stream) {
  if (blocks <= 0) return cudaSuccess;
  if (smem > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (err != cudaSuccess) return err;
  }
#ifdef FA_EMULATE
  FA_LAUNCH(kernel, blocks, threads, smem, p);
  (void)stream;
#else
  kernel<<<static_cast<unsigned>(blocks), threads, smem, stream>>>(p);
#endif
  return cudaGetLastError();
}

inline int bucket_dim(const AttnParams& p) { return p.dim > p.dim_v ? p.dim : p.dim_v; }

// The baseline designs (FwdKernel::kBaseline, BwdKernel::kBaseline): fwd_kernel, and preprocess -> dK/dV ->
// dQ (or the conversion of the atomic dQ accumulator).
template <typename E, int kD>
cudaError_t forward_baseline(const AttnParams& p, cudaStream_t stream) {
  using T = FwdTraits<E, kD>;
  // Blocks of one tile for every head are adjacent: block = tile * h + head.
  return launch_kernel(fwd_kernel<E, kD>, static_cast<long long>(p.num_tiles) * p.h, T::kThreads, T::kSmemBytes, p,
                       stream);
}

template <typename E, int kD>
cudaError_t backward_baseline(const AttnParams& p, cudaStream_t stream) {
  const long long pairs = static_cast<long long>(p.total_q) * p.h;
  cudaError_t err = launch_kernel(bwd_preprocess_kernel<E>, (pairs + kPreprocessWarps - 1) / kPreprocessWarps,
                                  kPreprocessWarps * 32, 0, p, stream);
  if (err != cudaSuccess) return err;
  using Tk = DkdvTraits<E, kD>;
  err = launch_kernel(bwd_dkdv_kernel<E, kD>, static_cast<long long>(p.num_key_tiles) * p.h_k, Tk::kThreads,
                      Tk::kSmemBytes, p, stream);
  if (err != cudaSuccess) return err;
  if (p.dq_accum != nullptr) {
    // The dK/dV kernel has added dQ's shares; scale and convert.
    const long long n = static_cast<long long>(p.total_q) * p.h * p.dim;
    return launch_kernel(bwd_dq_convert_kernel<E>, (n + kConvertThreads - 1) / kConvertThreads, kConvertThreads, 0, p,
                         stream);
  }
  using Tq = DqTraits<E, kD>;
  return launch_kernel(bwd_dq_kernel<E, kD>, static_cast<long long>(p.num_tiles) * p.h, Tq::kThreads, Tq::kSmemBytes,
                       p, stream);
}

template <typename E, int kD>
void forward_shape_baseline(TileShape* shape) {
  shape->fwd_rows = FwdTraits<E, kD>::kBM;
  shape->fwd_smem = FwdTraits<E, kD>::kSmemBytes;
}

template <typename E, int kD>
void backward_shape_baseline(TileShape* shape) {
  constexpr int kDq = DqTraits<E, kD>::kSmemBytes, kDkdv = DkdvTraits<E, kD>::kSmemBytes;
  shape->dq_rows = DqTraits<E, kD>::kBM;
  shape->dkdv_keys = DkdvTraits<E, kD>::kBN;
  shape->bwd_smem = kDq > kDkdv ? kDq : kDkdv;
}

// The fa2 forward (kernel_fwd_fa2.cuh) for f16/bf16; f32 keeps the baseline (no tensor cores). Instantiations per
// (dtype, bucket): kWindow (causal/local) x kExtras (softcap, ALiBi, dropout) with 16-byte tile loads, and one
// generic <true, true> with element-wise loads for misaligned calls (p.vec_loads false: views at odd offsets, head
// dims that are not whole 16 bytes); kTuneNoSpecialise runs the generic vector-load one for every aligned call.
template <typename E, int kD>
cudaError_t forward_fa2(const AttnParams& p, cudaStream_t stream) {
  if constexpr (!E::kMma) {
    return forward_baseline<E, kD>(p, stream);
  } else {
    using T = Fa2FwdTraits<E, kD>;
    const bool generic = (p.tuning & kTuneNoSpecialise) != 0;
    const bool window = generic || p.window_left >= 0 || p.window_right >= 0;
    const bool extras = generic || p.softcap > 0.f || p.alibi_slopes != nullptr || p.dropout;
    const long long blocks = static_cast<long long>(p.num_tiles) * p.h;
    auto run = [&](auto kernel) { return launch_kernel(kernel, blocks, T::kThreads, T::kSmemBytes, p, stream); };
    if (!p.vec_loads) return run(fwd_fa2_kernel<E, kD, true, true, false>);
    if (window) {
      return extras ? run(fwd_fa2_kernel<E, kD, true, true, true>) : run(fwd_fa2_kernel<E, kD, true, false, true>);
    }
    return extras ? run(fwd_fa2_kernel<E, kD, false, true, true>) : run(fwd_fa2_kernel<E, kD, false, false, true>);
  }
}
template <typename E, int kD>
void forward_shape_fa2(TileShape* shape) {
  if constexpr (!E::kMma) {
    forward_shape_baseline<E, kD>(shape);
  } else {
    shape->fwd_rows = Fa2FwdTraits<E, kD>::kBM;
    shape->fwd_smem = Fa2FwdTraits<E, kD>::kSmemBytes;
  }
}
// fa2 backward (f16/bf16; f32 runs the baseline): preprocess -> fa2 dK/dV (with the atomic dQ shares) -> convert,
// or -> fa2 dQ kernel for `deterministic`. Three instantiations of each kernel: plain, window (causal/local mask)
// and generic (window + extras: softcap, ALiBi, dropout as runtime branches), which also serves extras without a
// window and every call under kTuneNoSpecialise.
template <typename E, int kD, template <typename, int, bool, bool> class Kernel>
struct Fa2Variant {
  template <typename F>
  static cudaError_t pick(const AttnParams& p, F&& launch) {
    const bool window = p.window_left >= 0 || p.window_right >= 0;
    const bool extras = p.softcap > 0.f || p.alibi_slopes != nullptr || p.dropout;
    if ((p.tuning & kTuneNoSpecialise) != 0 || extras) return launch(Kernel<E, kD, true, true>::get());
    if (window) return launch(Kernel<E, kD, true, false>::get());
    return launch(Kernel<E, kD, false, false>::get());
  }
};
template <typename E, int kD, bool kWindow, bool kExtras>
struct Fa2DkdvEntry {
  static decltype(&bwd_fa2_dkdv_kernel<E, kD, kWindow, kExtras>) get() {
    return bwd_fa2_dkdv_kernel<E, kD, kWindow, kExtras>;
  }
};
template <typename E, int kD, bool kWindow, bool kExtras>
struct Fa2DqEntry {
  static decltype(&bwd_fa2_dq_kernel<E, kD, kWindow, kExtras>) get() { return bwd_fa2_dq_kernel<E, kD, kWindow, kExtras>; }
};

template <typename E, int kD>
cudaError_t backward_fa2(const AttnParams& p, cudaStream_t stream) {
  if constexpr (!E::kMma) {
    return backward_baseline<E, kD>(p, stream);
  } else {
    const long long pairs = static_cast<long long>(p.total_q) * p.h;
    cudaError_t err = launch_kernel(bwd_preprocess_kernel<E>, (pairs + kPreprocessWarps - 1) / kPreprocessWarps,
                                    kPreprocessWarps * 32, 0, p, stream);
    if (err != cudaSuccess) return err;
    using Tk = Fa2DkdvTraits<E, kD>;
    err = Fa2Variant<E, kD, Fa2DkdvEntry>::pick(p, [&](auto kernel) {
      return launch_kernel(kernel, static_cast<long long>(p.num_key_tiles) * p.h_k, Tk::kThreads, Tk::kSmemBytes, p,
                           stream);
    });
    if (err != cudaSuccess) return err;
    if (p.dq_accum != nullptr) {
      const long long n = static_cast<long long>(p.total_q) * p.h * p.dim;
      return launch_kernel(bwd_dq_convert_kernel<E>, (n + kConvertThreads - 1) / kConvertThreads, kConvertThreads, 0,
                           p, stream);
    }
    using Tq = Fa2DqTraits<E, kD>;
    return Fa2Variant<E, kD, Fa2DqEntry>::pick(p, [&](auto kernel) {
      return launch_kernel(kernel, static_cast<long long>(p.num_tiles) * p.h, Tq::kThreads, Tq::kSmemBytes, p, stream);
    });
  }
}
template <typename E, int kD>
void backward_shape_fa2(TileShape* shape) {
  if constexpr (!E::kMma) {
    backward_shape_baseline<E, kD>(shape);
  } else {
    constexpr int kDq = Fa2DqTraits<E, kD>::kSmemBytes, kDkdv = Fa2DkdvTraits<E, kD>::kSmemBytes;
    shape->dq_rows = Fa2DqTraits<E, kD>::kBM;
    shape->dkdv_keys = Fa2DkdvTraits<E, kD>::kBN;
    shape->bwd_smem = kDq > kDkdv ? kDq : kDkdv;
  }
}

template <typename E>
bool tile_shape_for(int dim, KernelChoice kernels, TileShape* shape) {
  return dispatch_dim(dim, [&](auto kd) {
    constexpr int kD = decltype(kd)::value;
    shape->bucket = kD;
    if (kernels.fwd == FwdKernel::kFa2) {
      forward_shape_fa2<E, kD>(shape);
    } else {
      forward_shape_baseline<E, kD>(shape);
    }
    if (kernels.bwd == BwdKernel::kFa2) {
      backward_shape_fa2<E, kD>(shape);
    } else {
      backward_shape_baseline<E, kD>(shape);
    }
  });
}

template <typename E>
cudaError_t forward_for(const AttnParams& p, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
  dispatch_dim(bucket_dim(p), [&](auto kd) {
    constexpr int kD = decltype(kd)::value;
    err = static_cast<FwdKernel>(p.fwd_kernel) == FwdKernel::kFa2 ? forward_fa2<E, kD>(p, stream)
                                                                   : forward_baseline<E, kD>(p, stream);
  });
  return err;
}

template <typename E>
cudaError_t backward_for(const AttnParams& p, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
  dispatch_dim(bucket_dim(p), [&](auto kd) {
    constexpr int kD = decltype(kd)::value;
    err = static_cast<BwdKernel>(p.bwd_kernel) == BwdKernel::kFa2 ? backward_fa2<E, kD>(p, stream)
                                                                   : backward_baseline<E, kD>(p, stream);
  });
  return err;
}

#define FA_INSTANTIATE_LAUNCHERS(E)                                               \
  template bool tile_shape_for<E>(int, KernelChoice, TileShape*);                 \
  template cudaError_t forward_for<E>(const AttnParams&, cudaStream_t);           \
  template cudaError_t backward_for<E>(const AttnParams&, cudaStream_t);

#endif  // FA_LAUNCH_DEFINITIONS

}  // namespace fa
