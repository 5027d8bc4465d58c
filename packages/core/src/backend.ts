import type { DType, FloatDType } from './dtype.js';
import type { AttnProblem } from './options.js';
import type { HostTensor } from './tensor.js';

/**
 * The contract between the façade and a backend. The façade validates every call (see `resolveAttnProblem`) and
 * owns tensor bookkeeping; a backend only moves data and runs kernels on problems that are already valid.
 * `Handle` is the backend's own storage (a typed array, a GPUBuffer, a device pointer).
 */
export interface AttentionBackend<Handle = unknown> {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  /** Copies host data into backend storage. */
  upload(tensor: HostTensor): Handle | Promise<Handle>;
  /** Copies backend storage back to the host, in the dtype it was created with. */
  download(handle: Handle, shape: readonly number[], dtype: DType): Promise<HostTensor>;
  /** Frees storage. Called at most once per handle. */
  dispose(handle: Handle): void;
  /**
   * `q: (total_q, H, D)`, `k: (total_k, Hk, D)`, `v: (total_k, Hk, Dv)` in `problem.dtype`.
   * Returns `out: (total_q, H, Dv)` in `problem.dtype` and `lse: (H, total_q)` in f32.
   */
  forward(q: Handle, k: Handle, v: Handle, problem: AttnProblem): Promise<{ out: Handle; lse: Handle }>;
  /** Gradients in `problem.dtype`, with dk/dv summed over each group of query heads (GQA). */
  backward(
    dout: Handle,
    q: Handle,
    k: Handle,
    v: Handle,
    out: Handle,
    lse: Handle,
    problem: AttnProblem,
  ): Promise<{ dq: Handle; dk: Handle; dv: Handle }>;
  /**
   * Optional, for moving data without leaving the device: a new dense tensor of `rows × parts.length × rowElements`
   * elements in `dtype` whose row r holds row r of every part in order,
   * `out[(r·P + p)·R + i] = part_p.storage[part_p.offset + r·R + i]`. Parts may be views of one handle at several
   * offsets. The packed entry points stack their gradients with it (dq, dk, dv into dqkv) and the padded ones swap
   * lse between `(nheads, batch·seqlen)` and `(batch, nheads, seqlen)`; without it the façade does so in host memory.
   */
  interleave?(
    parts: readonly InterleavePart<Handle>[],
    rows: number,
    rowElements: number,
    dtype: DType,
  ): Promise<Handle>;
  /** Releases everything the backend holds (workers, devices). */
  destroy?(): void | Promise<void>;
}

/** One source of `interleave`: a handle and the element its rows start at. */
export interface InterleavePart<Handle = unknown> {
  readonly handle: Handle;
  readonly offset: number;
}

export interface BackendCapabilities {
  readonly dtypes: readonly FloatDType[];
  readonly maxHeadDim: number;
  readonly backward: boolean;
  readonly dropout: boolean;
  /** Whether `deterministic: true` is honoured (bit-identical results run to run). */
  readonly deterministic: boolean;
  /**
   * Whether the kernels read `q`, `k`, `v` through `problem.layouts` (views into a larger storage, such as the
   * parts of a packed `qkv`). Without it the façade hands this backend contiguous copies.
   */
  readonly stridedInputs?: boolean;
}

/** Creates a backend, or throws (or rejects) with the reason it cannot run here. */
export type BackendFactory = () => AttentionBackend | Promise<AttentionBackend>;
