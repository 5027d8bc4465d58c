// Marks helpers that are compiled for the device and, in selftest.cu, for the host, so tests without a GPU can
// run the very code the kernels use.
#pragma once

#ifdef __CUDACC__
#define FA_HD __host__ __device__ __forceinline__
#else
#define FA_HD inline
#endif

// The dynamic shared memory of a kernel (sized at launch); the emulator hands out its per-block buffer instead.
#ifndef FA_EMULATE
#define FA_DYNAMIC_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif
