// The CUDA device built-ins the kernels use, emulated on the CPU: force-included (-include) when csrc/ is
// compiled as plain C++ for the emulator addon (fa_cuda_emu.node). A block runs as one fiber per thread on the
// calling OS thread; __syncthreads, __syncwarp, shuffles and mma.sync are collective operations among those
// fibers. This exists so that the real kernel sources run through the conformance suite on machines without a
// GPU: it checks indexing, masking, tiling and numerics, not timing, memory ordering or the hardware's own
// instructions (mma is emulated from the PTX ISA's fragment tables).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#define FA_EMULATE 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

namespace fa_emu {

struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};

struct ThreadContext {
  Dim3 thread_idx;
  Dim3 block_idx;
  int warp = 0;
  int lane = 0;
  int parity = 0;  // which of a warp's two exchange buffers this lane's next collective operation uses
};

ThreadContext& current();
unsigned char* dynamic_smem();
// Aborts with a message unless [address, address + bytes) lies in this block's shared memory and `address` is a
// multiple of `alignment`: what the hardware would fault on (misaligned ldmatrix/cp.async/32-bit loads).
void check_shared(const void* address, int bytes, int alignment, const char* what);
void check_global_alignment(const void* address, int alignment, const char* what);
// Aborts unless [address, address + bytes) lies inside one live allocation of cudaMallocAsync: what the hardware
// reports as an illegal address (strided views make a read past a buffer's end expressible).
void check_global(const void* address, long long bytes, const char* what);
void block_sync();
void warp_sync();

// Exchange slots of one warp: each lane publishes its operands, all meet at a barrier, each reads what it needs.
struct LaneSlot {
  uint32_t a[4];
  uint32_t b[2];
  float value;
  const void* address;
  bool flag;
};
LaneSlot* warp_slots(int parity);  // 32 slots of the current warp

float shfl_xor(float value, int lane_mask);
bool vote_any(bool predicate);
void mma_m16n8k16(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], bool bf16);
void ldmatrix_x2_trans(uint32_t (&r)[2], const void* row_address);
// ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16: `count` 8x8 matrices into r[0..count).
void ldmatrix(uint32_t* r, int count, bool trans, const void* row_address);

// Launch: runs `blocks` blocks of `threads` fibers each, one block after another.
using KernelEntry = void (*)(const void* params);
void launch(KernelEntry entry, const void* params, long long blocks, int threads, int smem_bytes);

}  // namespace fa_emu

#define threadIdx (::fa_emu::current().thread_idx)
#define blockIdx (::fa_emu::current().block_idx)

inline void __syncthreads() { ::fa_emu::block_sync(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::fa_emu::warp_sync(); }
inline float __shfl_xor_sync(unsigned, float value, int lane_mask) { return ::fa_emu::shfl_xor(value, lane_mask); }
// The kernels vote with the full mask only.
inline bool __any_sync(unsigned, bool predicate) { return ::fa_emu::vote_any(predicate); }

// Fibers of a launch run on one OS thread and never interleave inside a statement, so a plain add is atomic.
inline float atomicAdd(float* address, float value) {
  const float old = *address;
  *address = old + value;
  return old;
}

#define FA_DYNAMIC_SMEM(name) unsigned char* name = ::fa_emu::dynamic_smem()

// kernel<<<blocks, threads, smem>>>(params) for a kernel (a function pointer) taking `const AttnParams`.
#define FA_LAUNCH(kernel, blocks, threads, smem, params)                                         \
  do {                                                                                           \
    struct Call {                                                                                \
      void (*fn)(::fa::AttnParams);                                                              \
      const ::fa::AttnParams* p;                                                                 \
    } call{kernel, &(params)};                                                                   \
    ::fa_emu::launch([](const void* x) { static_cast<const Call*>(x)->fn(*static_cast<const Call*>(x)->p); }, \
                     &call, blocks, threads, smem);                                              \
  } while (0)

// The fa2 backward's additions (bwd_fragments.h).
namespace fa_emu {
// red.global.add.v4.f32: four consecutive floats at a 16-byte aligned address inside one live allocation. Fibers
// never interleave inside a statement, so plain adds are atomic here.
inline void red_add_v4(float* address, float a, float b, float c, float d) {
  check_global_alignment(address, 16, "red.global.add.v4.f32");
  check_global(address, 16, "red.global.add.v4.f32");
  address[0] += a;
  address[1] += b;
  address[2] += c;
  address[3] += d;
}
// __shfl_sync (index mode) of a 32-bit word: every lane of the warp reads lane `src_lane`'s value.
unsigned shfl_idx_u32(unsigned value, int src_lane);
}  // namespace fa_emu

namespace fa_emu {
// cp.async as the hardware orders it, for the kernels that opt in (bwd_fragments.h): the source is read at issue,
// but the destination is written only when the issuing thread waits (cp.async.wait_group 0), so another thread
// sees the data only after that wait and a barrier, and a read of a stage whose copies are still in flight sees
// what was there before. Per OS thread (a block's fibers run on one) and per CUDA thread of the block.
void cp_async_deferred(void* smem, const void* gmem, int bytes, bool valid);
void cp_async_wait_all();
}  // namespace fa_emu
