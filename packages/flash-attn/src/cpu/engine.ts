import type { AttnProblem, FloatDType, HostTensor } from '@fa/core';

/** What the backend asks of an execution engine (pure JavaScript, or WebAssembly with optional threads). */
export interface Engine {
  /** `out` in `problem.dtype`, `lse` as f32 (H, totalQ). */
  forward(q: HostTensor, k: HostTensor, v: HostTensor, problem: AttnProblem): Promise<ForwardResult>;
  backward(
    dout: HostTensor,
    q: HostTensor,
    k: HostTensor,
    v: HostTensor,
    out: HostTensor,
    lse: HostTensor,
    problem: AttnProblem,
  ): Promise<BackwardResult>;
  destroy(): Promise<void>;
}

export interface ForwardResult {
  readonly out: HostTensor;
  readonly lse: HostTensor<'f32'>;
}

export interface BackwardResult {
  readonly dq: HostTensor;
  readonly dk: HostTensor;
  readonly dv: HostTensor;
}

export function hostTensorOf(
  data: Float32Array | Uint16Array,
  shape: readonly number[],
  dtype: FloatDType,
): HostTensor {
  return { data, shape, dtype } as HostTensor;
}

/** Heads of the dk/dv layout kernels write: per key head, or per query head when groups are summed afterwards. */
export function gradHeadsOf(problem: AttnProblem): number {
  return problem.numHeads === problem.numHeadsK ? problem.numHeadsK : problem.numHeads;
}

/** Runs calls one at a time: engines reuse their buffers across calls, and a call may await worker threads. */
export class CallQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
