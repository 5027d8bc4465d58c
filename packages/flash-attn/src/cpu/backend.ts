import {
  type AttentionBackend,
  type AttnProblem,
  type BackendCapabilities,
  type DType,
  describeValue,
  expectationError,
  type HostTensor,
  isFaError,
} from '@fa/core';
import type { Engine } from './engine.js';
import { JsEngine } from './js-engine.js';
import { wasmKernelsSupported } from './wasm/load.js';
import { type JobInfo, WasmEngine } from './wasm-engine.js';

export interface CpuBackendOptions {
  /**
   * Worker threads for the WebAssembly kernels: a count, or `'auto'` (the default) for one per core. 1 runs on
   * the calling thread. Threads need Node's worker_threads and SharedArrayBuffer; elsewhere the backend runs on
   * the calling thread. Results are bit-identical whatever the count.
   */
  readonly threads?: number | 'auto';
  /**
   * Use the WebAssembly SIMD kernels (default true). Where WebAssembly SIMD is missing, or with `false`, the
   * pure-JavaScript kernels run instead, on the calling thread.
   */
  readonly simd?: boolean;
}

/** The `cpu` backend; `kernels` says which kernels this instance runs. */
export interface CpuBackend extends AttentionBackend<HostTensor> {
  readonly kernels: 'wasm-simd' | 'js';
}

/** Knobs tests use to force code paths; not part of the public options. */
export interface CpuBackendTuning {
  /** Smallest job (in estimated multiply-adds) worth handing to worker threads. */
  readonly parallelMinCost?: number;
  readonly onJob?: (job: JobInfo) => void;
}

const CAPABILITIES: BackendCapabilities = {
  dtypes: ['f32', 'f16', 'bf16'],
  maxHeadDim: 256,
  backward: true,
  dropout: true,
  deterministic: true,
};

function checkOptions(options: CpuBackendOptions): void {
  if (options === null || typeof options !== 'object') {
    throw expectationError('E_VALUE', 'options', 'an options object', describeValue(options));
  }
  const { threads, simd } = options;
  if (threads !== undefined && threads !== 'auto' && !(Number.isSafeInteger(threads) && threads >= 1)) {
    throw expectationError('E_VALUE', 'threads', "a positive integer or 'auto'", describeValue(threads));
  }
  if (simd !== undefined && typeof simd !== 'boolean') {
    throw expectationError('E_VALUE', 'simd', 'a boolean', describeValue(simd));
  }
}

function copyTensor(
  tensor: HostTensor,
  shape: readonly number[] = tensor.shape,
  dtype: DType = tensor.dtype,
): HostTensor {
  return { data: tensor.data.slice(), shape: [...shape], dtype } as HostTensor;
}

export function createCpuBackendTuned(options: CpuBackendOptions, tuning: CpuBackendTuning): CpuBackend {
  checkOptions(options);
  const useWasm = options.simd !== false && wasmKernelsSupported();
  const js = new JsEngine();
  const wasm = useWasm ? new WasmEngine({ threads: options.threads ?? 'auto', ...tuning }) : null;

  // Problems too large for wasm32's 4 GiB run on the JavaScript kernels instead of failing.
  async function withFallback<T>(run: (engine: Engine) => Promise<T>): Promise<T> {
    if (!wasm) return run(js);
    try {
      return await run(wasm);
    } catch (error) {
      if (isFaError(error) && error.code === 'E_LIMIT') return run(js);
      throw error;
    }
  }

  return {
    name: 'cpu',
    kernels: wasm ? 'wasm-simd' : 'js',
    capabilities: CAPABILITIES,
    upload: (tensor) => copyTensor(tensor),
    download: async (handle, shape, dtype) => copyTensor(handle, shape, dtype),
    dispose: () => {},
    forward: (q, k, v, problem: AttnProblem) => withFallback((engine) => engine.forward(q, k, v, problem)),
    backward: (dout, q, k, v, out, lse, problem: AttnProblem) =>
      withFallback((engine) => engine.backward(dout, q, k, v, out, lse, problem)),
    destroy: async () => {
      await wasm?.destroy();
    },
  };
}

/**
 * The CPU backend: tiled FlashAttention-2 forward and backward in float32, with WebAssembly SIMD kernels run on
 * worker threads where available and a pure-JavaScript fallback. Handles are host tensors.
 */
export function createCpuBackend(options: CpuBackendOptions = {}): CpuBackend {
  return createCpuBackendTuned(options, {});
}
