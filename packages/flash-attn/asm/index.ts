// Entry point of the CPU attention kernels (AssemblyScript, compiled to WebAssembly with SIMD and threads).
// The host lays out every buffer in linear memory, writes a job header, and calls `run` on as many threads as
// it likes; each thread claims items with an atomic counter until none are left. Nothing here allocates.

import { backwardItem, backwardScratchBytes } from './backward';
import { forwardItem, forwardScratchBytes } from './forward';
import { Job, KIND_FORWARD } from './job';
import { philox4, philoxX0, philoxX1, philoxX2, philoxX3 } from './philox';

export { jobHeaderBytes } from './job';

/** First byte the host may use; everything below belongs to the module's static data. */
export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of per-thread scratch a job of `kind` needs; the host spaces thread scratch areas this far apart. */
export function scratchBytes(kind: i32, headDim: i32, headDimV: i32, blockQ: i32, blockK: i32, maxSeqlenQ: i32): usize {
  return kind == KIND_FORWARD
    ? forwardScratchBytes(headDim, headDimV, blockQ, blockK)
    : backwardScratchBytes(headDim, headDimV, blockQ, blockK, maxSeqlenQ);
}

/** Runs items of the job at `jobPtr` until the shared counter passes the last one. */
export function run(jobPtr: usize, thread: i32): void {
  const job = changetype<Job>(jobPtr);
  const scratch = job.scratch + <usize>thread * job.scratchStride;
  const counter = jobPtr + offsetof<Job>('counter');
  const count = job.numItems;
  const forward = job.kind == KIND_FORWARD;
  while (true) {
    const index = atomic.add<i32>(counter, 1);
    if (index >= count) break;
    const item = job.items + (<usize>index << 4);
    const b = load<i32>(item);
    const h = load<i32>(item, 4);
    if (forward) forwardItem(job, b, h, load<i32>(item, 8), load<i32>(item, 12), scratch);
    else backwardItem(job, b, h, scratch);
  }
}

/**
 * Philox words for counters (c0, c1 + lane, c2, c3): word w of lane l at `out + 16·w + 4·l`. For tests
 * against @fa/core's scalar implementation.
 */
export function philoxWords(out: usize, c0: u32, c1: u32, c2: u32, c3: u32, key0: u32, key1: u32): void {
  philox4(i32x4.splat(c0), i32x4.add(i32x4.splat(c1), i32x4(0, 1, 2, 3)), i32x4.splat(c2), i32x4.splat(c3), key0, key1);
  v128.store(out, philoxX0);
  v128.store(out, philoxX1, 16);
  v128.store(out, philoxX2, 32);
  v128.store(out, philoxX3, 48);
}
