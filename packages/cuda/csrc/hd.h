// Marks helpers that are compiled for the device and, in selftest.cu, for the host, so tests without a GPU can
// run the very code the kernels use.
#pragma once

#ifdef __CUDACC__
#define FA_HD __host__ __device__ __forceinline__
#else
#define FA_HD inline
#endif

// Cold regions of a hot loop (masking on boundary tiles, rescaling when a row's max grows): PTX comments the
// static report (scripts/static-report.ts) reads to count the steady-state path of a loop apart from its total.
#if defined(__CUDACC__) && !defined(FA_EMULATE)
#define FA_COLD_BEGIN() asm volatile("// fa-cold-begin")
#define FA_COLD_END() asm volatile("// fa-cold-end")
#else
#define FA_COLD_BEGIN() ((void)0)
#define FA_COLD_END() ((void)0)
#endif

// The dynamic shared memory of a kernel (sized at launch); the emulator hands out its per-block buffer instead.
#ifndef FA_EMULATE
// 128-byte aligned: the swizzled tiles' address arithmetic XORs bits 4-6 (smem_layout.h).
#define FA_DYNAMIC_SMEM(name) extern __shared__ __align__(128) unsigned char name[]
#endif
