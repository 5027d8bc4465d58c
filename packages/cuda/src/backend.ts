import {
  type AttentionBackend,
  type AttnProblem,
  type BackendCapabilities,
  bytesPerElement,
  checkDType,
  checkLayout,
  type DType,
  describeValue,
  expectationError,
  FaError,
  type HostTensor,
  type InterleavePart,
  MAX_HEAD_DIM,
  numel,
} from '@fa/core';
import type { DeviceBuffer, FaCudaAddon, TileShape } from './addon.js';
import { type CudaAvailabilityOptions, type CudaDeviceInfo, deviceAvailability } from './availability.js';
import { toFaError } from './errors.js';
import {
  BASELINE_KERNEL,
  type CudaKernelOptions,
  DEFAULT_KERNELS,
  type KernelChoice,
  resolveKernelChoice,
} from './kernels.js';
import { loadAddon } from './loader.js';
import { checkCudaOptions } from './options.js';
import { DTYPE_CODES, packProblem } from './params.js';
import { keyWorkList, queryWorkList } from './tiles.js';

export interface CudaBackendOptions extends CudaAvailabilityOptions {
  /** Which kernel designs run (default: `fa2` forward and backward); for A/B timing, see `CudaKernelOptions`. */
  readonly kernels?: CudaKernelOptions;
}

export interface CudaBackendStats {
  /** Device buffers alive: tensors not yet disposed. */
  readonly liveBuffers: number;
  readonly liveBytes: number;
}

/** The `cuda` backend. Handles are device allocations (`DeviceBuffer`), f16/bf16 as raw 16-bit values. */
export interface CudaBackend extends AttentionBackend<DeviceBuffer> {
  readonly device: CudaDeviceInfo;
  /** The kernel designs this backend runs, as the addon's codes (`options.kernels`). */
  readonly kernels: KernelChoice;
  /** The fa_cuda.node in use. */
  readonly addonPath: string;
  /** Allocates device memory and copies the tensor's raw bits into it, off the JS thread. */
  upload(tensor: HostTensor): Promise<DeviceBuffer>;
  /**
   * The contract's `interleave`, on the device: a new buffer whose row r holds row r of every part, one strided
   * device-to-device copy per part (`cudaMemcpy2DAsync`), so the façade's packed gradients and the padded lse's
   * axis swap move no data through host memory.
   */
  interleave(
    parts: readonly InterleavePart<DeviceBuffer>[],
    rows: number,
    rowElements: number,
    dtype: DType,
  ): Promise<DeviceBuffer>;
  stats(): CudaBackendStats;
  /** Frees every buffer this backend allocated; a handle used afterwards is refused. */
  destroy(): void;
}

const CAPABILITIES: BackendCapabilities = {
  dtypes: ['f32', 'f16', 'bf16'],
  maxHeadDim: MAX_HEAD_DIM,
  backward: true,
  dropout: true,
  // Honoured: with `deterministic: true` the backward runs the dQ kernel (each dQ tile owned by one block) instead
  // of adding dQ with atomics, and dK/dV never use atomics.
  deterministic: true,
  // The kernels read q, k and v through problem.layouts (row and head strides, the offset folded into the
  // pointer), so the parts of a packed qkv/kv arrive as views of the caller's buffer, not as copies.
  stridedInputs: true,
};

/** A count of `interleave` (rows, row elements, an offset): what core's `interleaveHost` accepts. */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function hostArray(dtype: DType, n: number): Float32Array | Int32Array | Uint16Array {
  if (dtype === 'f32') return new Float32Array(n);
  if (dtype === 'i32') return new Int32Array(n);
  return new Uint16Array(n);
}

/**
 * Creates the CUDA backend: FlashAttention-2 style forward and backward kernels (mma.sync tensor cores for
 * f16/bf16, f32 FMA for f32) for packed variable-length batches. Throws `E_BACKEND_UNAVAILABLE` with the
 * reason and what to do when the addon is missing or no usable GPU is present (see `cudaAvailability`).
 */
export function createCudaBackend(options: CudaBackendOptions = {}): CudaBackend {
  checkCudaOptions(options, ['kernels']);
  // The loader checks its own options again and knows no `kernels`.
  const { kernels: kernelOptions, ...loaderOptions } = options;
  const kernels = resolveKernelChoice(kernelOptions);
  const { addon, path } = loadAddon(loaderOptions);
  const availability = deviceAvailability(addon, path, options.deviceIndex ?? 0);
  if (!availability.available) {
    throw new FaError('E_BACKEND_UNAVAILABLE', availability.message, { argument: 'backend' });
  }
  return backendWithAddon(addon, path, availability.device, kernels);
}

/** @internal The backend over a given addon and device: lets tests drive the TS layer with a fake addon. */
export function backendWithAddon(
  addon: FaCudaAddon,
  addonPath: string,
  device: CudaDeviceInfo,
  kernels: KernelChoice = DEFAULT_KERNELS,
): CudaBackend {
  return new CudaBackendImpl(addon, addonPath, device, kernels);
}

class CudaBackendImpl implements CudaBackend {
  readonly name = 'cuda';
  readonly capabilities = CAPABILITIES;
  readonly #addon: FaCudaAddon;
  readonly #live = new Set<DeviceBuffer>();

  constructor(
    addon: FaCudaAddon,
    readonly addonPath: string,
    readonly device: CudaDeviceInfo,
    readonly kernels: KernelChoice,
  ) {
    this.#addon = addon;
  }

  stats(): CudaBackendStats {
    let liveBytes = 0;
    for (const b of this.#live) liveBytes += b.bytes;
    return { liveBuffers: this.#live.size, liveBytes };
  }

  #alloc(bytes: number, what: string): DeviceBuffer {
    try {
      const buffer = this.#addon.alloc(this.device.index, bytes);
      this.#live.add(buffer);
      return buffer;
    } catch (error) {
      throw toFaError(error, `allocating ${what} (${bytes} bytes)`);
    }
  }

  /**
   * The kernel designs and tiles for this problem. A fa2 design whose tiles need more shared memory than the device
   * allows per block (the large head dims on GPUs with 99 KiB, sm_86/sm_89) gives way to the baseline design of the
   * same pass; when that does not fit either, the call is refused up front.
   */
  #plan(problem: AttnProblem, pass: 'forward' | 'backward'): { shape: TileShape; kernels: KernelChoice } {
    const shapeOf = (kernels: KernelChoice) =>
      this.#addon.tileShape(
        DTYPE_CODES[problem.dtype],
        problem.headDim,
        problem.headDimV,
        kernels.forwardKernel,
        kernels.backwardKernel,
      );
    const neededBy = (shape: TileShape) =>
      pass === 'forward' ? shape.forwardSharedMemory : shape.backwardSharedMemory;
    const limit = this.device.sharedMemoryPerBlockOptin;
    let kernels = this.kernels;
    let shape = shapeOf(kernels);
    if (neededBy(shape) > limit) {
      const baseline =
        pass === 'forward'
          ? { ...kernels, forwardKernel: BASELINE_KERNEL }
          : { ...kernels, backwardKernel: BASELINE_KERNEL };
      const fallback = shapeOf(baseline);
      if (neededBy(fallback) <= limit) [kernels, shape] = [baseline, fallback];
    }
    const needed = neededBy(shape);
    if (needed > limit) {
      throw new FaError(
        'E_UNSUPPORTED',
        `The cuda ${pass} kernels for ${problem.dtype} with head dims (${problem.headDim}, ${problem.headDimV}) need ${needed} bytes of shared memory per block; ${this.device.name} allows ${this.device.sharedMemoryPerBlockOptin}. Use a smaller head dim, f16/bf16, or another backend.`,
        {
          argument: 'q',
          expected: `head dims whose tiles fit ${this.device.sharedMemoryPerBlockOptin} bytes`,
          received: `(${problem.headDim}, ${problem.headDimV})`,
        },
      );
    }
    return { shape, kernels };
  }

  #check(handle: DeviceBuffer, argument: string): DeviceBuffer {
    if (!this.#live.has(handle)) {
      throw new FaError(
        handle?.freed ? 'E_DISPOSED' : 'E_BACKEND_MISMATCH',
        handle?.freed
          ? `Expected \`${argument}\` to be a live buffer, received one that was disposed.`
          : `Expected \`${argument}\` to be a buffer of this cuda backend, received one it does not own.`,
        { argument },
      );
    }
    return handle;
  }

  /**
   * Checks the buffers behind q, k and v against their layouts, as E_SHAPE naming the input: a view's buffer is its
   * owner's whole storage (all of a packed qkv), so it must hold every element the layout reaches, which the
   * buffer's size says, not `totalQ · H · D`. The binding checks the same bytes again before any device work.
   */
  #checkLayouts(
    buffers: { readonly q: DeviceBuffer; readonly k: DeviceBuffer; readonly v: DeviceBuffer },
    problem: AttnProblem,
  ): void {
    const { totalQ, totalK, numHeads, numHeadsK, headDim, headDimV, dtype, layouts } = problem;
    const shapes = {
      q: [totalQ, numHeads, headDim],
      k: [totalK, numHeadsK, headDim],
      v: [totalK, numHeadsK, headDimV],
    };
    for (const name of ['q', 'k', 'v'] as const) {
      checkLayout(layouts[name], name, shapes[name], Math.floor(buffers[name].bytes / bytesPerElement(dtype)));
    }
  }

  async upload(tensor: HostTensor): Promise<DeviceBuffer> {
    const buffer = this.#alloc(tensor.data.byteLength, 'an upload');
    try {
      await this.#addon.upload(buffer, tensor.data);
      return buffer;
    } catch (error) {
      this.dispose(buffer);
      throw toFaError(error, 'upload');
    }
  }

  async download(handle: DeviceBuffer, shape: readonly number[], dtype: DType): Promise<HostTensor> {
    this.#check(handle, 'handle');
    const data = hostArray(dtype, numel(shape));
    try {
      await this.#addon.download(handle, data);
    } catch (error) {
      throw toFaError(error, 'download');
    }
    return { data, shape: [...shape], dtype } as HostTensor;
  }

  dispose(handle: DeviceBuffer): void {
    // Freed on the spot, or when the call still using it completes; a second dispose does nothing.
    this.#live.delete(handle);
    handle.free();
  }

  async forward(
    q: DeviceBuffer,
    k: DeviceBuffer,
    v: DeviceBuffer,
    problem: AttnProblem,
  ): Promise<{ out: DeviceBuffer; lse: DeviceBuffer }> {
    const inputs = { q: this.#check(q, 'q'), k: this.#check(k, 'k'), v: this.#check(v, 'v') };
    this.#checkLayouts(inputs, problem);
    const { shape, kernels } = this.#plan(problem, 'forward');
    const tiles = queryWorkList(problem, shape.forwardRows);
    const es = bytesPerElement(problem.dtype);
    const out = this.#alloc(problem.totalQ * problem.numHeads * problem.headDimV * es, 'out');
    const lse = this.#alloc(problem.numHeads * problem.totalQ * 4, 'lse');
    try {
      await this.#addon.forward({
        ...packProblem(problem, this.device.index, tiles, kernels),
        ...inputs,
        out,
        lse,
      });
      return { out, lse };
    } catch (error) {
      this.dispose(out);
      this.dispose(lse);
      throw toFaError(error, 'forward');
    }
  }

  async backward(
    dout: DeviceBuffer,
    q: DeviceBuffer,
    k: DeviceBuffer,
    v: DeviceBuffer,
    out: DeviceBuffer,
    lse: DeviceBuffer,
    problem: AttnProblem,
  ): Promise<{ dq: DeviceBuffer; dk: DeviceBuffer; dv: DeviceBuffer }> {
    const inputs = {
      dout: this.#check(dout, 'dout'),
      q: this.#check(q, 'q'),
      k: this.#check(k, 'k'),
      v: this.#check(v, 'v'),
      out: this.#check(out, 'out'),
      lse: this.#check(lse, 'lse'),
    };
    this.#checkLayouts(inputs, problem);
    const { shape, kernels } = this.#plan(problem, 'backward');
    const es = bytesPerElement(problem.dtype);
    const dq = this.#alloc(problem.totalQ * problem.numHeads * problem.headDim * es, 'dq');
    const dk = this.#alloc(problem.totalK * problem.numHeadsK * problem.headDim * es, 'dk');
    const dv = this.#alloc(problem.totalK * problem.numHeadsK * problem.headDimV * es, 'dv');
    try {
      await this.#addon.backward({
        ...packProblem(problem, this.device.index, queryWorkList(problem, shape.dqRows), kernels),
        keyTiles: keyWorkList(problem, shape.dkdvKeys),
        ...inputs,
        dq,
        dk,
        dv,
      });
      return { dq, dk, dv };
    } catch (error) {
      this.dispose(dq);
      this.dispose(dk);
      this.dispose(dv);
      throw toFaError(error, 'backward');
    }
  }

  /**
   * Checks as core's `interleaveHost` does and with its errors (E_VALUE for the parts array, the counts and an
   * offset, E_DTYPE, E_SHAPE for a part past its buffer), plus the handles (E_DISPOSED, E_BACKEND_MISMATCH), all
   * before the output is allocated; the binding checks every byte count again before the copies.
   */
  async interleave(
    parts: readonly InterleavePart<DeviceBuffer>[],
    rows: number,
    rowElements: number,
    dtype: DType,
  ): Promise<DeviceBuffer> {
    if (!Array.isArray(parts) || parts.length === 0) {
      throw expectationError('E_VALUE', 'parts', 'a non-empty array of { handle, offset }', describeValue(parts));
    }
    for (const [value, argument] of [
      [rows, 'rows'],
      [rowElements, 'rowElements'],
    ] as const) {
      if (!isCount(value)) throw expectationError('E_VALUE', argument, 'a non-negative integer', describeValue(value));
    }
    checkDType(dtype, 'dtype');
    const es = bytesPerElement(dtype);
    const sources = parts.map((part, p) => {
      const argument = `parts[${p}]`;
      const offset = (part as { offset?: unknown } | null)?.offset;
      if (!isCount(offset)) {
        throw expectationError('E_VALUE', argument, '{ handle, offset: a non-negative integer }', describeValue(part));
      }
      const buffer = this.#check(part.handle, argument);
      const available = Math.floor(buffer.bytes / es);
      if (offset + rows * rowElements > available) {
        throw expectationError(
          'E_SHAPE',
          argument,
          `${rows} rows of ${rowElements} elements from element ${offset}`,
          `a buffer of ${available} elements`,
        );
      }
      return { buffer, offset };
    });
    const out = this.#alloc(rows * parts.length * rowElements * es, 'an interleave');
    try {
      await this.#addon.interleave({
        device: this.device.index,
        elementBytes: es,
        rows,
        rowElements,
        parts: sources,
        out,
      });
      return out;
    } catch (error) {
      this.dispose(out);
      throw toFaError(error, 'interleave');
    }
  }

  destroy(): void {
    for (const buffer of this.#live) buffer.free();
    this.#live.clear();
  }
}
