import { type AttnProblem, bytesPerElement, checkLayout, FaError, type FloatDType, lowerProblem } from '@fa/core';
import type { BufferTracker } from '../gpu/buffers.js';
import { Usage } from '../gpu/buffers.js';
import type { Kernel, PipelineCache } from '../gpu/pipelines.js';
import type { TilingLimits } from '../plan/config.js';
import { ITEM_WORDS, type ItemList } from '../plan/tiles.js';
import { packParams } from '../wgsl/params.js';

/** What the kernel runners need from the backend: one device's state. */
export interface GpuContext {
  readonly device: GPUDevice;
  readonly buffers: BufferTracker;
  readonly pipelines: PipelineCache;
  readonly tiling: TilingLimits;
  readonly maxWorkgroupsPerDimension: number;
  /** Receives the compute passes' timestamp writes when profiling (the benchmark's timer). */
  readonly timestampWrites?: (label: string) => GPUComputePassTimestampWrites | undefined;
  /** Whether `checked` watches for validation and out-of-memory errors. */
  readonly checkErrors: boolean;
}

/**
 * Runs `work` (allocations, encoding, submission: synchronous, so that no other call's commands can land in
 * between) inside WebGPU error scopes, and rejects when it caused a validation error or ran out of memory.
 * Error scopes are a per-device stack, which is why nothing may be awaited between the push and the pops.
 * The errors arrive after `work` has returned its outputs, so a rejected call hands them to `discard`.
 */
export async function checked<T>(
  ctx: GpuContext,
  what: string,
  work: () => T,
  discard: (result: T) => void,
): Promise<T> {
  if (!ctx.checkErrors) return work();
  const { device } = ctx;
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T | undefined;
  let thrown: unknown;
  try {
    result = work();
  } catch (error) {
    thrown = error;
  }
  const validation = device.popErrorScope();
  const memory = device.popErrorScope();
  const [validationError, memoryError] = await Promise.all([validation, memory]);
  if (thrown !== undefined) throw thrown;
  if (memoryError || validationError) discard(result as T);
  if (memoryError) {
    throw new FaError('E_LIMIT', `The WebGPU device ran out of memory in ${what}: ${memoryError.message}`, {
      argument: what,
    });
  }
  if (validationError) throw new Error(`WebGPU validation error in ${what}: ${validationError.message}`);
  return result as T;
}

/** Bytes of a tensor with `count` elements of `dtype`. */
export function tensorBytes(count: number, dtype: FloatDType): number {
  return count * bytesPerElement(dtype);
}

/**
 * Checks the buffers behind q, k and v against their layouts. A view's buffer is its owner's whole storage (all of
 * a packed `qkv`), bound as it is: it must hold every element the layout reaches, and be bindable. Sizes come from
 * the buffers, never from `totalQ · H · D`, which a view's storage exceeds.
 */
export function checkInputBuffers(
  ctx: GpuContext,
  buffers: { readonly q: GPUBuffer; readonly k: GPUBuffer; readonly v: GPUBuffer },
  problem: AttnProblem,
): void {
  const { totalQ, totalK, numHeads, numHeadsK, headDim, headDimV, dtype, layouts } = problem;
  const shapes = { q: [totalQ, numHeads, headDim], k: [totalK, numHeadsK, headDim], v: [totalK, numHeadsK, headDimV] };
  for (const name of ['q', 'k', 'v'] as const) {
    const { size } = buffers[name];
    ctx.buffers.checkBindable(size, name);
    checkLayout(layouts[name], name, shapes[name], Math.floor(size / bytesPerElement(dtype)));
  }
}

/**
 * The `info` word buffer of one dispatch: cu_seqlens_q, cu_seqlens_k, the item list, then the ALiBi slopes as
 * f32 bits. Packing the small arrays into one binding keeps every kernel within 8 storage buffers.
 */
export function packInfo(problem: AttnProblem, items: ItemList) {
  const { batch, cuSeqlensQ, cuSeqlensK, alibiSlopes } = problem;
  const cuKOffset = batch + 1;
  const itemsOffset = 2 * (batch + 1);
  const slopesOffset = itemsOffset + items.count * ITEM_WORDS;
  const words = new Uint32Array(slopesOffset + (alibiSlopes ? alibiSlopes.length : 0));
  words.set(cuSeqlensQ, 0);
  words.set(cuSeqlensK, cuKOffset);
  words.set(items.words, itemsOffset);
  if (alibiSlopes)
    words.set(new Uint32Array(alibiSlopes.buffer, alibiSlopes.byteOffset, alibiSlopes.length), slopesOffset);
  return { words, cuKOffset, itemsOffset, slopesOffset };
}

/** Workgroups (x, y) covering `total` linear workgroups within the per-dimension limit. */
export function grid(total: number, maxPerDimension: number): [number, number] {
  const x = Math.min(total, maxPerDimension);
  return [x, Math.ceil(total / Math.max(1, x))];
}

/**
 * One dispatch's temporary buffers (uniforms and info words) and its bind group. `release()` destroys the
 * temporaries; WebGPU keeps them alive until the submitted work that uses them has run.
 */
export class Dispatch {
  readonly #temporaries: GPUBuffer[] = [];
  readonly grid: [number, number];

  constructor(
    readonly ctx: GpuContext,
    readonly kernel: Kernel,
    readonly label: string,
    readonly problem: AttnProblem,
    items: ItemList,
    /** Linear workgroups to launch (items × heads for the attention kernels). */
    workgroups: number,
  ) {
    this.grid = grid(workgroups, ctx.maxWorkgroupsPerDimension);
    const info = packInfo(problem, items);
    const plan = lowerProblem(problem);
    const params = packParams({
      total_q: plan.totalQ,
      total_k: plan.totalK,
      num_heads: plan.numHeads,
      num_heads_k: plan.numHeadsK,
      group_size: plan.groupSize,
      head_dim: plan.headDim,
      head_dim_v: plan.headDimV,
      batch: plan.batch,
      num_items: items.count,
      grid_x: this.grid[0],
      cu_k_offset: info.cuKOffset,
      items_offset: info.itemsOffset,
      slopes_offset: info.slopesOffset,
      scale: plan.scores.softmaxScale,
      softcap: plan.scores.softcap,
      window_left: plan.scores.windowLeft,
      window_right: plan.scores.windowRight,
      seed_lo: plan.dropout.seedLo,
      seed_hi: plan.dropout.seedHi,
      threshold: plan.dropout.threshold,
      keep_scale: plan.dropout.keepScale,
      q_offset: plan.layouts.q.offset,
      q_token_stride: plan.layouts.q.tokenStride,
      q_head_stride: plan.layouts.q.headStride,
      k_offset: plan.layouts.k.offset,
      k_token_stride: plan.layouts.k.tokenStride,
      k_head_stride: plan.layouts.k.headStride,
      v_offset: plan.layouts.v.offset,
      v_token_stride: plan.layouts.v.tokenStride,
      v_head_stride: plan.layouts.v.headStride,
    });
    ctx.buffers.checkBindable(info.words.byteLength, 'cuSeqlensQ');
    this.#temporaries.push(ctx.buffers.createWithData(new Uint8Array(params), Usage.UNIFORM, `${label}-params`));
    try {
      this.#temporaries.push(ctx.buffers.createWithData(info.words, Usage.STORAGE, `${label}-info`));
    } catch (error) {
      this.release();
      throw error;
    }
  }

  /** Records the dispatch; `tensors` are the kernel's storage buffers after `p` and `info`, in binding order. */
  encode(encoder: GPUCommandEncoder, tensors: readonly GPUBuffer[]): void {
    const [params, info] = this.#temporaries as [GPUBuffer, GPUBuffer];
    const entries = [params, info, ...tensors].map((buffer, binding) => ({ binding, resource: { buffer } }));
    const bindGroup = this.ctx.device.createBindGroup({ label: this.label, layout: this.kernel.layout, entries });
    if (this.grid[0] === 0) return;
    const timestampWrites = this.ctx.timestampWrites?.(this.label);
    const pass = encoder.beginComputePass(
      timestampWrites ? { label: this.label, timestampWrites } : { label: this.label },
    );
    pass.setPipeline(this.kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(this.grid[0], this.grid[1]);
    pass.end();
  }

  release(): void {
    for (const buffer of this.#temporaries) this.ctx.buffers.destroy(buffer);
    this.#temporaries.length = 0;
  }
}
