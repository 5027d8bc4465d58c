/**
 * The raw surface of `fa_cuda.node` (csrc/binding.cc and csrc/binding/). Every function validates its arguments
 * before touching the device and throws an `AddonArgumentError`; device failures reject with `code: 'E_CUDA'` and
 * the CUDA error name. Only this package talks to it; users see `AttentionBackend` and `FaError`s.
 */

/** One `cudaMalloc` allocation owned by a JS object. `free()` is idempotent and deferred while a call uses it. */
export interface DeviceBuffer {
  readonly bytes: number;
  readonly device: number;
  readonly freed: boolean;
  free(): void;
}

export interface DeviceCountResult {
  readonly count: number;
  /** `cudaErrorXxx: description` when the runtime could not count devices (no driver, no device). */
  readonly error: string | null;
  readonly errorName: string | null;
}

export interface DeviceProperties {
  readonly name: string;
  readonly major: number;
  readonly minor: number;
  readonly totalMemory: number;
  readonly multiprocessors: number;
  readonly sharedMemoryPerBlockOptin: number;
}

/** Compile-time tile shapes of the kernels a (dtype, head dims) call uses. */
export interface TileShape {
  /** The head dim the kernels are compiled for: max(headDim, headDimV) rounded up to 32, 64, 96, 128, 192, 256. */
  readonly bucket: number;
  readonly forwardRows: number;
  readonly dqRows: number;
  readonly dkdvKeys: number;
  /** Dynamic shared memory per block, in bytes, of the forward kernel and of the larger backward kernel. */
  readonly forwardSharedMemory: number;
  readonly backwardSharedMemory: number;
}

/** Everything a kernel call needs, flat (see `packProblem`). */
export interface AddonProblemArgs {
  readonly device: number;
  readonly dtype: number;
  readonly batch: number;
  readonly totalQ: number;
  readonly totalK: number;
  readonly numHeads: number;
  readonly numHeadsK: number;
  readonly headDim: number;
  readonly headDimV: number;
  readonly softmaxScale: number;
  readonly softcap: number;
  readonly windowLeft: number;
  readonly windowRight: number;
  readonly dropout: boolean;
  readonly dropoutThreshold: number;
  readonly keepScale: number;
  readonly seedLo: number;
  readonly seedHi: number;
  readonly cuSeqlensQ: Int32Array;
  readonly cuSeqlensK: Int32Array;
  readonly alibiSlopes: Float32Array | null;
  /**
   * Where q, k and v sit in their buffers, in elements (core's `TensorLayout`): element (t, h, d) of q is at
   * `qOffset + t·qTokenStride + h·qHeadStride + d`. The parts of a packed qkv are views of one buffer; out, dout and
   * the gradients are always contiguous.
   */
  readonly qOffset: number;
  readonly qTokenStride: number;
  readonly qHeadStride: number;
  readonly kOffset: number;
  readonly kTokenStride: number;
  readonly kHeadStride: number;
  readonly vOffset: number;
  readonly vTokenStride: number;
  readonly vHeadStride: number;
  /** (sequence, first row) pairs of the forward's (or, in backward, the dQ kernel's) query tiles. */
  readonly tiles: Int32Array;
  /** Backward: the dQ kernel (bit-identical runs) instead of f32 atomics in the dK/dV kernel. */
  readonly deterministic: boolean;
  /** Kernel designs and A/B switches (`resolveKernelChoice`; csrc/params.h `FwdKernel`, `BwdKernel`, `TuningFlag`). */
  readonly forwardKernel: number;
  readonly backwardKernel: number;
  readonly tuning: number;
}

export interface AddonForwardArgs extends AddonProblemArgs {
  readonly q: DeviceBuffer;
  readonly k: DeviceBuffer;
  readonly v: DeviceBuffer;
  readonly out: DeviceBuffer;
  readonly lse: DeviceBuffer;
}

export interface AddonBackwardArgs extends AddonProblemArgs {
  /** (sequence, first key) pairs of the dK/dV kernel's key tiles. */
  readonly keyTiles: Int32Array;
  readonly dout: DeviceBuffer;
  readonly q: DeviceBuffer;
  readonly k: DeviceBuffer;
  readonly v: DeviceBuffer;
  readonly out: DeviceBuffer;
  readonly lse: DeviceBuffer;
  readonly dq: DeviceBuffer;
  readonly dk: DeviceBuffer;
  readonly dv: DeviceBuffer;
}

/**
 * The contract's `interleave` (core's `interleaveHost` semantics) on the device: `out`'s row r holds row r of every
 * part in order, `out[(r·P + p)·R + i] = parts[p].buffer[parts[p].offset + r·R + i]` in elements of `elementBytes`.
 * Parts may be views of one buffer; `out` must be none of them and hold `rows · P · R` elements.
 */
export interface AddonInterleaveArgs {
  readonly device: number;
  /** 4 (f32, i32) or 2 (f16, bf16): offsets and `rowElements` count elements of this size. */
  readonly elementBytes: number;
  readonly rows: number;
  readonly rowElements: number;
  readonly parts: readonly { readonly buffer: DeviceBuffer; readonly offset: number }[];
  readonly out: DeviceBuffer;
}

export interface FaCudaAddon {
  readonly abiVersion: number;
  /** Comma-separated SM architectures the kernels were compiled for, e.g. "80,90". */
  readonly archs: string;
  alloc(device: number, bytes: number): DeviceBuffer;
  upload(buffer: DeviceBuffer, data: ArrayBufferView): Promise<void>;
  download(buffer: DeviceBuffer, target: ArrayBufferView): Promise<void>;
  forward(args: AddonForwardArgs): Promise<void>;
  backward(args: AddonBackwardArgs): Promise<void>;
  /** One strided device-to-device copy per part (`cudaMemcpy2DAsync`) on the worker's stream. */
  interleave(args: AddonInterleaveArgs): Promise<void>;
  deviceCount(): DeviceCountResult;
  deviceInfo(device: number): DeviceProperties;
  versions(): { runtime: number; driver: number };
  /** `forwardKernel`/`backwardKernel`: the designs' codes (`KERNEL_CODES`), which decide the tiles. */
  tileShape(dtype: number, headDim: number, headDimV: number, forwardKernel: number, backwardKernel: number): TileShape;
  /** Host builds of the device headers, for tests. */
  readonly selftest: {
    philox(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): Uint32Array;
    dropoutKeep(
      seedLo: number,
      seedHi: number,
      threshold: number,
      b: number,
      h: number,
      i: number,
      j: number,
      pair?: boolean,
    ): boolean | number;
    keySpan(row0: number, row1: number, lenQ: number, lenK: number, left: number, right: number): Int32Array;
    rowSpan(col0: number, col1: number, lenQ: number, lenK: number, left: number, right: number): Int32Array;
    /** One line per kernel product: `name\tmismatches\tchecked` (see csrc/selftest.cu). */
    gemmLayout(): string;
  };
}

/** The ABI this TS code speaks; the addon reports its own, and a mismatch means a stale build. */
export const ADDON_ABI_VERSION = 4;

export const ADDON_EXPORTS = [
  'alloc',
  'upload',
  'download',
  'forward',
  'backward',
  'interleave',
  'deviceCount',
  'deviceInfo',
  'versions',
  'tileShape',
] as const;

/** The shape of errors the binding throws for a bad argument. */
export interface AddonArgumentError extends Error {
  readonly code: 'E_ADDON_ARGUMENT';
  readonly argument: string;
}

export function isAddonArgumentError(error: unknown): error is AddonArgumentError {
  return error instanceof Error && (error as { code?: unknown }).code === 'E_ADDON_ARGUMENT';
}
