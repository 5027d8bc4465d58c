// The emulator's scheduler and runtime (see device.h). Each CUDA thread of a block is a fiber with its own
// stack, switched with _setjmp/_longjmp (entered once with setcontext), cooperatively: a fiber runs until it
// reaches a barrier, then the next one runs. Barriers count only threads that have not exited, as on current
// GPUs. A round in which no fiber arrives anywhere, releases anything or exits is a deadlock (a barrier some
// threads never reach) and aborts with a message rather than hanging.
#include <setjmp.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "cuda_runtime_api.h"
#include "device.h"
#include "../dtype.h"

namespace fa_emu {
void check_global_alignment(const void* address, int alignment, const char* what) {
  if (reinterpret_cast<uintptr_t>(address) % alignment != 0) {
    std::fprintf(stderr, "fa emulator: misaligned %s (%p, alignment %d)\n", what, address, alignment);
    std::abort();
  }
}

namespace {
// Live "device" allocations, start -> bytes. Calls run on libuv's worker threads, so the map is shared.
std::mutex allocations_mutex;
std::map<uintptr_t, size_t> allocations;

void register_allocation(const void* ptr, size_t bytes) {
  std::lock_guard<std::mutex> lock(allocations_mutex);
  allocations[reinterpret_cast<uintptr_t>(ptr)] = bytes;
}

void unregister_allocation(const void* ptr) {
  std::lock_guard<std::mutex> lock(allocations_mutex);
  allocations.erase(reinterpret_cast<uintptr_t>(ptr));
}
}  // namespace

void check_global(const void* address, long long bytes, const char* what) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
  std::lock_guard<std::mutex> lock(allocations_mutex);
  auto it = allocations.upper_bound(begin);
  const bool inside = it != allocations.begin() && bytes >= 0 &&
                      begin + static_cast<uintptr_t>(bytes) <= std::prev(it)->first + std::prev(it)->second;
  if (!inside) {
    std::fprintf(stderr, "fa emulator: %s of %lld bytes at %p is outside every allocation\n", what, bytes, address);
    std::abort();
  }
}

namespace {

constexpr size_t kStackBytes = 256 * 1024;

struct Barrier {
  int arrived = 0;
  unsigned generation = 0;
};

struct Fiber {
  ThreadContext ctx;
  ucontext_t start;
  jmp_buf jump;
  std::unique_ptr<char[]> stack;
  bool started = false;
  bool done = false;
  bool at_block_barrier = false;  // inside __syncthreads, waiting for generation `barrier_generation` to pass
  unsigned barrier_generation = 0;
};

struct Block {
  KernelEntry entry = nullptr;
  const void* params = nullptr;
  std::vector<Fiber> fibers;
  std::vector<unsigned char> smem;
  // The block's dynamic shared memory starts smem_offset bytes into `smem`, 128-byte aligned as on the GPU (the
  // shared window starts at 0), which the kernels' swizzled address arithmetic relies on.
  size_t smem_offset = 0;
  size_t smem_bytes = 0;
  int live = 0;
  std::vector<int> warp_live;
  Barrier block_barrier;
  std::vector<Barrier> warp_barriers;
  std::vector<LaneSlot> slots;  // [warp][parity][lane]
  unsigned long long epoch = 0;  // bumps on every arrival, release and exit: progress, for deadlock detection
};

thread_local Block* tls_block = nullptr;
thread_local Fiber* tls_fiber = nullptr;
thread_local jmp_buf tls_scheduler;

// The only two places that call _setjmp, each in its own non-inlined function with no locals live across it,
// so nothing can be clobbered by the jumps.
__attribute__((noinline)) void yield() {
  if (!_setjmp(tls_fiber->jump)) _longjmp(tls_scheduler, 1);
}

__attribute__((noinline)) void resume(Fiber& fiber) {
  tls_fiber = &fiber;
  if (!_setjmp(tls_scheduler)) {
    if (!fiber.started) {
      fiber.started = true;
      setcontext(&fiber.start);
    }
    _longjmp(fiber.jump, 1);
  }
}

void release_if_complete(Barrier& barrier, int participants, Block& block) {
  if (barrier.arrived > 0 && barrier.arrived >= participants) {
    barrier.arrived = 0;
    barrier.generation++;
    block.epoch++;
  }
}

void arrive(Barrier& barrier, const int& participants) {
  Block& block = *tls_block;
  const unsigned generation = barrier.generation;
  barrier.arrived++;
  block.epoch++;
  release_if_complete(barrier, participants, block);
  while (barrier.generation == generation) yield();
}

void fiber_main() {
  Fiber* fiber = tls_fiber;
  tls_block->entry(tls_block->params);
  fiber->done = true;
  _longjmp(tls_scheduler, 1);
}

// getcontext returns twice in principle; kept apart so that no caller's locals are live across it.
__attribute__((noinline)) void prepare(Fiber& fiber) {
  fiber.stack.reset(new char[kStackBytes]);
  getcontext(&fiber.start);
  fiber.start.uc_stack.ss_sp = fiber.stack.get();
  fiber.start.uc_stack.ss_size = kStackBytes;
  fiber.start.uc_link = nullptr;
  makecontext(&fiber.start, fiber_main, 0);
}

// Fibers run in a different pseudo-random order every round, so that a write in one thread and a read in
// another with no barrier between them is caught in both orders (a read before the write sees the NaN fill).
// Every other block runs warp-serially instead: each round takes the warps in a random order and runs one warp
// (its lanes interleaved at its own collectives) until all of its threads wait at __syncthreads or exit, before
// the next; warps then drift apart as far as the barriers allow, which exposes a race between warps that the
// lockstep order above hides (a warp refilling a buffer another warp has not finished reading).
__attribute__((noinline)) void run_block(Block& block, uint32_t seed) {
  std::vector<int> order(block.fibers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  uint32_t state = seed | 1u;
  const bool warp_serial = ((seed >> 9) & 1u) != 0;
  const int warps = static_cast<int>(block.warp_live.size());
  std::vector<int> warp_order(static_cast<size_t>(warps));
  for (int w = 0; w < warps; ++w) warp_order[static_cast<size_t>(w)] = w;
  auto run = [&](Fiber& fiber) {
    resume(fiber);
    if (fiber.done) {
      // An exited thread no longer holds up barriers.
      block.live--;
      block.warp_live[fiber.ctx.warp]--;
      block.epoch++;
      release_if_complete(block.block_barrier, block.live, block);
      release_if_complete(block.warp_barriers[fiber.ctx.warp], block.warp_live[fiber.ctx.warp], block);
    }
  };
  for (;;) {
    bool alive = false;
    const unsigned long long before = block.epoch;
    for (size_t i = order.size(); i > 1; --i) {
      state = state * 1664525u + 1013904223u;
      std::swap(order[i - 1], order[(state >> 8) % i]);
    }
    if (warp_serial) {
      for (size_t i = warp_order.size(); i > 1; --i) {
        state = state * 1664525u + 1013904223u;
        std::swap(warp_order[i - 1], warp_order[(state >> 8) % i]);
      }
      for (int w : warp_order) {
        for (;;) {
          const unsigned long long start = block.epoch;
          bool ran = false;
          for (int index : order) {
            Fiber& fiber = block.fibers[index];
            if (fiber.ctx.warp != w || fiber.done) continue;
            alive = true;
            if (fiber.at_block_barrier && block.block_barrier.generation == fiber.barrier_generation) continue;
            ran = true;
            run(fiber);
          }
          if (!ran || block.epoch == start) break;
        }
      }
    } else {
      for (int index : order) {
        Fiber& fiber = block.fibers[index];
        if (fiber.done) continue;
        alive = true;
        run(fiber);
      }
    }
    if (!alive) return;
    if (block.epoch == before) {
      std::fprintf(stderr, "fa emulator: deadlock in block %u: a barrier some threads never reach\n",
                   block.fibers[0].ctx.block_idx.x);
      std::abort();
    }
  }
}

}  // namespace

ThreadContext& current() { return tls_fiber->ctx; }

unsigned char* dynamic_smem() { return tls_block->smem.data() + tls_block->smem_offset; }

void check_shared(const void* address, int bytes, int alignment, const char* what) {
  if (tls_block == nullptr) return;  // host code (the selftests) shares these helpers
  const auto* p = static_cast<const unsigned char*>(address);
  const unsigned char* begin = tls_block->smem.data() + tls_block->smem_offset;
  const unsigned char* end = begin + tls_block->smem_bytes;
  if (p < begin || p + bytes > end || reinterpret_cast<uintptr_t>(p) % alignment != 0) {
    std::fprintf(stderr, "fa emulator: %s at shared offset %lld (%d bytes, alignment %d) in block %u, thread %u\n", what,
                 static_cast<long long>(p - begin), bytes, alignment, tls_fiber->ctx.block_idx.x,
                 tls_fiber->ctx.thread_idx.x);
    std::abort();
  }
}

void block_sync() {
  Fiber* fiber = tls_fiber;
  fiber->barrier_generation = tls_block->block_barrier.generation;
  fiber->at_block_barrier = true;
  arrive(tls_block->block_barrier, tls_block->live);
  fiber->at_block_barrier = false;
}

void warp_sync() {
  const int warp = tls_fiber->ctx.warp;
  arrive(tls_block->warp_barriers[warp], tls_block->warp_live[warp]);
}

LaneSlot* warp_slots(int parity) { return &tls_block->slots[(tls_fiber->ctx.warp * 2 + parity) * 32]; }

// Double-buffered exchange: a lane writes buffer p, meets the warp, reads buffer p. Its next collective
// operation uses the other buffer, and reaching the one after needs every lane past the next barrier, so nobody
// overwrites a buffer another lane is still reading.
float shfl_xor(float value, int lane_mask) {
  ThreadContext& ctx = current();
  LaneSlot* slots = warp_slots(ctx.parity);
  slots[ctx.lane].value = value;
  warp_sync();
  const float result = slots[ctx.lane ^ lane_mask].value;
  ctx.parity ^= 1;
  return result;
}

// __any_sync(0xffffffff, predicate): true on every lane iff it is true on one.
bool vote_any(bool predicate) {
  ThreadContext& ctx = current();
  LaneSlot* slots = warp_slots(ctx.parity);
  slots[ctx.lane].flag = predicate;
  warp_sync();
  bool any = false;
  for (int lane = 0; lane < 32; ++lane) any = any || slots[lane].flag;
  ctx.parity ^= 1;
  return any;
}

// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: D = A B + C, from the PTX ISA's fragment tables. Lane l
// (g = l / 4, t = l % 4) holds A register i, half h = A[g + 8 (i % 2)][2t + h + 8 (i / 2)],
// B register i, half h = B[2t + h + 8i][g], and C element e = C[g + 8 (e / 2)][2t + e % 2].
void mma_m16n8k16(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], bool bf16) {
  auto to_float = [](uint16_t bits, bool is_bf16) {
    return is_bf16 ? fa::bf16_bits_to_float(bits) : fa::f16_bits_to_float(bits);
  };
  ThreadContext& ctx = current();
  LaneSlot* slots = warp_slots(ctx.parity);
  std::memcpy(slots[ctx.lane].a, a, sizeof(slots[ctx.lane].a));
  std::memcpy(slots[ctx.lane].b, b, sizeof(slots[ctx.lane].b));
  warp_sync();
  auto a_at = [&](int row, int k) {
    const LaneSlot& s = slots[(row % 8) * 4 + (k % 8) / 2];
    return to_float(static_cast<uint16_t>(s.a[row / 8 + 2 * (k / 8)] >> (16 * (k % 2))), bf16);
  };
  auto b_at = [&](int k, int col) {
    const LaneSlot& s = slots[col * 4 + (k % 8) / 2];
    return to_float(static_cast<uint16_t>(s.b[k / 8] >> (16 * (k % 2))), bf16);
  };
  const int g = ctx.lane / 4;
  const int t = ctx.lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e / 2);
    const int col = 2 * t + e % 2;
    float sum = c[e];
    // Products of 16-bit floats are exact in f32; the hardware's summation order is unspecified.
    for (int k = 0; k < 16; ++k) sum += a_at(row, k) * b_at(k, col);
    c[e] = sum;
  }
  ctx.parity ^= 1;
}

// ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16, from the PTX ISA: lanes 8i..8i+7 give the row
// addresses of matrix i (eight 16-bit values each, 16-byte aligned). Lane l (g = l / 4, t = l % 4) receives in
// register i elements (row g, cols 2t, 2t + 1) of matrix i, the lower column in the low half; with .trans,
// elements (row 2t, col g) and (row 2t + 1, col g), the lower row in the low half. Lanes past 8 * count give no
// address (their operand is ignored), so only the lanes that do are checked.
void ldmatrix(uint32_t* r, int count, bool trans, const void* row_address) {
  ThreadContext& ctx = current();
  LaneSlot* slots = warp_slots(ctx.parity);
  if (ctx.lane < 8 * count) check_shared(row_address, 16, 16, "ldmatrix row");
  slots[ctx.lane].address = row_address;
  warp_sync();
  const int g = ctx.lane / 4;
  const int t = ctx.lane % 4;
  for (int i = 0; i < count; ++i) {
    if (trans) {
      const uint16_t* row0 = static_cast<const uint16_t*>(slots[8 * i + 2 * t].address);
      const uint16_t* row1 = static_cast<const uint16_t*>(slots[8 * i + 2 * t + 1].address);
      r[i] = static_cast<uint32_t>(row0[g]) | (static_cast<uint32_t>(row1[g]) << 16);
    } else {
      const uint16_t* row = static_cast<const uint16_t*>(slots[8 * i + g].address);
      r[i] = static_cast<uint32_t>(row[2 * t]) | (static_cast<uint32_t>(row[2 * t + 1]) << 16);
    }
  }
  ctx.parity ^= 1;
}

void ldmatrix_x2_trans(uint32_t (&r)[2], const void* row_address) { ldmatrix(r, 2, true, row_address); }

void launch(KernelEntry entry, const void* params, long long blocks, int threads, int smem_bytes) {
  const int warps = (threads + 31) / 32;
  for (long long b = 0; b < blocks; ++b) {
    Block block;
    block.entry = entry;
    block.params = params;
    // Shared memory starts as all-ones bytes (NaN in f32, f16 and bf16), so reading what no thread wrote shows.
    block.smem.assign(static_cast<size_t>(smem_bytes) + 128, 0xff);
    block.smem_offset = (128 - reinterpret_cast<uintptr_t>(block.smem.data()) % 128) % 128;
    block.smem_bytes = static_cast<size_t>(smem_bytes);
    block.live = threads;
    block.warp_live.assign(warps, 0);
    block.warp_barriers.assign(warps, Barrier{});
    block.slots.assign(static_cast<size_t>(warps) * 2 * 32, LaneSlot{});
    block.fibers.resize(threads);
    for (int t = 0; t < threads; ++t) {
      Fiber& fiber = block.fibers[t];
      fiber.ctx.thread_idx.x = t;
      fiber.ctx.block_idx.x = static_cast<unsigned>(b);
      fiber.ctx.warp = t / 32;
      fiber.ctx.lane = t % 32;
      block.warp_live[t / 32]++;
      prepare(fiber);
    }
    tls_block = &block;
    run_block(block, static_cast<uint32_t>(b) * 2654435761u + 12345u);
    tls_block = nullptr;
    tls_fiber = nullptr;
  }
}

}  // namespace fa_emu

// ---------------------------------------------------------------------------------------------------------------
// Runtime: "device" memory is host memory; there is one device and every call completes before it returns.

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidPitchValue:
      return "cudaErrorInvalidPitchValue";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t error) { return error == cudaSuccess ? "no error" : "emulated error"; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof(prop->name), "fa CUDA emulator (CPU)");
  prop->totalGlobalMem = size_t{16} << 30;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  prop->sharedMemPerBlockOptin = 227 * 1024;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}
// Exactly `bytes` (256-byte aligned, like cudaMalloc), so that an address sanitizer sees every byte past the end.
cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t) {
  *ptr = nullptr;
  if (posix_memalign(ptr, 256, bytes == 0 ? 1 : bytes) != 0) return cudaErrorMemoryAllocation;
  fa_emu::register_allocation(*ptr, bytes);
  return cudaSuccess;
}
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) {
  fa_emu::unregister_allocation(ptr);
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  if (kind == cudaMemcpyDeviceToDevice && bytes > 0) {
    fa_emu::check_global(src, static_cast<long long>(bytes), "cudaMemcpyAsync source");
    fa_emu::check_global(dst, static_cast<long long>(bytes), "cudaMemcpyAsync destination");
  }
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
// `height` rows of `width` bytes, `spitch` apart in the source and `dpitch` apart in the destination. A
// device-to-device copy must lie inside live allocations at both ends (as the GPU would fault otherwise): the
// span from the first row's start to the last row's end is checked against the allocation table.
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t) {
  if (width > dpitch || width > spitch) return cudaErrorInvalidPitchValue;
  if (width == 0 || height == 0) return cudaSuccess;
  if (kind == cudaMemcpyDeviceToDevice) {
    fa_emu::check_global(src, static_cast<long long>((height - 1) * spitch + width), "cudaMemcpy2DAsync source");
    fa_emu::check_global(dst, static_cast<long long>((height - 1) * dpitch + width), "cudaMemcpy2DAsync destination");
  }
  for (size_t r = 0; r < height; ++r) {
    std::memcpy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  }
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

namespace fa_emu {
// __shfl_sync (index mode), 32-bit words, through the same double-buffered exchange as shfl_xor.
unsigned shfl_idx_u32(unsigned value, int src_lane) {
  ThreadContext& ctx = current();
  LaneSlot* slots = warp_slots(ctx.parity);
  slots[ctx.lane].a[0] = value;
  warp_sync();
  const unsigned result = slots[src_lane & 31].a[0];
  ctx.parity ^= 1;
  return result;
}
}  // namespace fa_emu

namespace fa_emu {
namespace {
struct PendingCopy {
  void* dst;
  int bytes;
  unsigned char data[16];
};
thread_local std::vector<std::vector<PendingCopy>> pending_copies;  // [threadIdx.x]
}  // namespace

void cp_async_deferred(void* smem, const void* gmem, int bytes, bool valid) {
  check_shared(smem, bytes, bytes, "cp.async destination");
  PendingCopy copy{smem, bytes, {}};
  if (valid) {
    check_global_alignment(gmem, bytes, "cp.async source");
    std::memcpy(copy.data, gmem, static_cast<size_t>(bytes));
  }
  const unsigned t = current().thread_idx.x;
  if (pending_copies.size() <= t) pending_copies.resize(t + 1);
  pending_copies[t].push_back(copy);
}

void cp_async_wait_all() {
  const unsigned t = current().thread_idx.x;
  if (pending_copies.size() <= t) return;
  for (const PendingCopy& copy : pending_copies[t]) std::memcpy(copy.dst, copy.data, static_cast<size_t>(copy.bytes));
  pending_copies[t].clear();
}
}  // namespace fa_emu
