import {
  type AttentionBackend,
  type AttnProblem,
  type BackendCapabilities,
  checkKnownKeys,
  checkOptionsBag,
  type DType,
  describeValue,
  expectationError,
  FaError,
  type HostTensor,
  interleaveHost,
  isFaError,
  MAX_HEAD_DIM,
  optionKeys,
} from '@fa/core';
import type { Engine } from './engine.js';
import { JsEngine } from './js-engine.js';
import { relaxedSimdSupported, sharedMemorySupported, wasmKernelsSupported } from './wasm/load.js';
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

const CPU_BACKEND_OPTION_KEYS = optionKeys<CpuBackendOptions>()(['threads', 'simd']);

/** What the JavaScript engine this backend runs in offers the kernels. */
export interface CpuFeatures {
  /** WebAssembly SIMD128 with atomics: what the `wasm-simd` kernels need. */
  readonly wasmSimd: boolean;
  /** Shared WebAssembly memories, so worker threads over one memory. */
  readonly sharedMemory: boolean;
  /** WebAssembly relaxed SIMD (Node >= 22, Chromium, Firefox). Detected and reported; no kernel uses it yet. */
  readonly relaxedSimd: boolean;
}

/** The `cpu` backend; `kernels` says which kernels this instance runs, `features` what the engine offered. */
export interface CpuBackend extends AttentionBackend<HostTensor> {
  readonly kernels: 'wasm-simd' | 'js';
  readonly features: CpuFeatures;
  /** What this backend holds now, to check that calls give back what they take. */
  stats(): CpuBackendStats;
}

export interface CpuBackendStats {
  /** Handles (uploads and results) not yet disposed, and the bytes of their data. */
  readonly liveHandles: number;
  readonly liveBytes: number;
  /**
   * Bytes of the WebAssembly kernels' linear memory, one memory shared by the calling thread and every worker.
   * It grows to the largest call so far and is reused by every later call (WebAssembly memories never shrink);
   * 0 until the first call and after `destroy()`.
   */
  readonly wasmMemoryBytes: number;
  /**
   * Worker threads started and not yet exited: 0 until a call is large enough to share, then the thread count
   * (a pool replaced after a worker died counts until its threads have really exited).
   */
  readonly workers: number;
}

/** Knobs tests use to force code paths; not part of the public options. */
export interface CpuBackendTuning {
  /** Smallest job (in estimated multiply-adds) worth handing to worker threads. */
  readonly parallelMinCost?: number;
  readonly onJob?: (job: JobInfo) => void;
  readonly workerSource?: string;
}

const CAPABILITIES: BackendCapabilities = {
  dtypes: ['f32', 'f16', 'bf16'],
  maxHeadDim: MAX_HEAD_DIM,
  backward: true,
  dropout: true,
  deterministic: true,
  // The engines read q, k and v through problem.layouts as they copy them into kernel memory.
  stridedInputs: true,
};

function checkOptions(options: CpuBackendOptions): void {
  checkOptionsBag(options, 'options', 'an options object');
  checkKnownKeys(options, 'options', CPU_BACKEND_OPTION_KEYS);
  const { threads, simd } = options as CpuBackendOptions;
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

/**
 * Which handles are live. Handles are host tensors the garbage collector frees, so the ledger holds none of
 * them: it counts, and remembers disposed ones weakly so that using one is E_DISPOSED rather than silent.
 */
class HandleLedger {
  readonly #live = new WeakSet<HostTensor>();
  readonly #disposed = new WeakSet<HostTensor>();
  count = 0;
  bytes = 0;

  add(handle: HostTensor): HostTensor {
    this.#live.add(handle);
    this.count++;
    this.bytes += handle.data.byteLength;
    return handle;
  }

  /** Disposing twice, or a handle this backend did not make, is harmless. */
  remove(handle: HostTensor): void {
    if (!this.#live.delete(handle)) return;
    this.#disposed.add(handle);
    this.count--;
    this.bytes -= handle.data.byteLength;
  }

  check(handle: HostTensor, argument: string): HostTensor {
    if (this.#disposed.has(handle)) {
      throw new FaError('E_DISPOSED', `Expected a live handle for \`${argument}\`, received one that was disposed.`, {
        argument,
        expected: 'a live handle',
        received: 'a disposed handle',
      });
    }
    return handle;
  }

  checkAll(handles: Record<string, HostTensor>): void {
    for (const [argument, handle] of Object.entries(handles)) this.check(handle, argument);
  }
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

  const handles = new HandleLedger();

  return {
    name: 'cpu',
    kernels: wasm ? 'wasm-simd' : 'js',
    features: Object.freeze({
      wasmSimd: wasmKernelsSupported(),
      sharedMemory: sharedMemorySupported(),
      relaxedSimd: relaxedSimdSupported(),
    }),
    capabilities: CAPABILITIES,
    upload: (tensor) => handles.add(copyTensor(tensor)),
    download: async (handle, shape, dtype) => copyTensor(handles.check(handle, 'tensor'), shape, dtype),
    dispose: (handle) => handles.remove(handle),
    forward: async (q, k, v, problem: AttnProblem) => {
      handles.checkAll({ q, k, v });
      const result = await withFallback((engine) => engine.forward(q, k, v, problem));
      return { out: handles.add(result.out), lse: handles.add(result.lse) };
    },
    backward: async (dout, q, k, v, out, lse, problem: AttnProblem) => {
      handles.checkAll({ dout, q, k, v, out, lse });
      const grads = await withFallback((engine) => engine.backward(dout, q, k, v, out, lse, problem));
      return { dq: handles.add(grads.dq), dk: handles.add(grads.dk), dv: handles.add(grads.dv) };
    },
    interleave: async (parts, rows, rowElements, dtype) => {
      const sources = parts.map(({ handle, offset }, p) => ({ handle: handles.check(handle, `parts[${p}]`), offset }));
      return handles.add(interleaveHost(sources, rows, rowElements, dtype));
    },
    stats: () => {
      const engine = wasm?.stats();
      return {
        liveHandles: handles.count,
        liveBytes: handles.bytes,
        wasmMemoryBytes: engine?.memoryBytes ?? 0,
        workers: engine?.workers ?? 0,
      };
    },
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
