// The job header the host writes into linear memory before calling `run`. Field order is the wire format:
// src/cpu/wasm/job.ts writes the same fields in the same order, one 4-byte slot each.

export const KIND_FORWARD: i32 = 0;
export const KIND_BACKWARD: i32 = 1;

@unmanaged
export class Job {
  kind: i32;
  /** Next unclaimed item; every thread takes items with an atomic add, longest first. */
  counter: i32;
  numItems: i32;
  items: usize;
  batch: i32;
  totalQ: i32;
  totalK: i32;
  numHeads: i32;
  numHeadsK: i32;
  headDim: i32;
  headDimV: i32;
  cuSeqlensQ: usize;
  cuSeqlensK: usize;
  scale: f32;
  windowLeft: i32;
  windowRight: i32;
  softcap: f32;
  /** 0 when ALiBi is off. */
  alibiSlopes: usize;
  dropout: i32;
  dropoutThreshold: u32;
  seedLo: u32;
  seedHi: u32;
  keepScale: f32;
  q: usize;
  k: usize;
  v: usize;
  /** Forward: written. Backward: the forward output, read for D = rowsum(dO ∘ O). */
  out: usize;
  /** (H, totalQ) f32. Forward: written. Backward: read. */
  lse: usize;
  dout: usize;
  dq: usize;
  dk: usize;
  dv: usize;
  /** Heads in the dk/dv layout: Hk, or H when each query head writes its own slice for the host to sum. */
  gradHeadsK: i32;
  scratch: usize;
  scratchStride: usize;
  blockQ: i32;
  blockK: i32;
  /** Sizes the per-thread D_i and dQ scratch of the backward pass. */
  maxSeqlenQ: i32;
}

/** Bytes of the header, so the host can check that both sides agree on the layout. */
export function jobHeaderBytes(): usize {
  return offsetof<Job>();
}
