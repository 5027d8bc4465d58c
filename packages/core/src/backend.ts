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
  /** Releases everything the backend holds (workers, devices). */
  destroy?(): void | Promise<void>;
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
