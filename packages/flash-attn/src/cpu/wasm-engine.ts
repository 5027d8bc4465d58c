import { type AttnProblem, type HostTensor, lowerProblem, maxSeqlenOf } from '@fa/core';
import { decodeInto, decodeViewInto, encodeFrom, type FloatStorage, sumHeadGroups } from './convert.js';
import {
  type BackwardResult,
  CallQueue,
  type Engine,
  type ForwardResult,
  gradHeadsOf,
  hostTensorOf,
} from './engine.js';
import { availableThreads } from './node-builtins.js';
import { backwardWork, forwardWork, type WorkList } from './plan.js';
import { ArenaLayout, ensureMemory } from './wasm/arena.js';
import { JOB_HEADER_BYTES, type JobHeader, KIND_BACKWARD, KIND_FORWARD, writeJob } from './wasm/job.js';
import {
  instantiateKernel,
  type KernelExports,
  kernelModule,
  SHARED_MAXIMUM_PAGES,
  sharedMemorySupported,
} from './wasm/load.js';
import { type ThreadTally, WorkerPool } from './wasm/pool.js';

/** Query rows per tile (the vector lanes of the forward's transposed scores) and keys per tile. */
export const WASM_BLOCK_Q = 64;
export const WASM_BLOCK_K = 64;

/** Bytes kept free after every input: kernels read whole vectors, up to 3 floats past the last row. */
const INPUT_SLACK = 16;

/** Below this many multiply-adds a job runs on the calling thread: waking workers would cost more than it saves. */
export const DEFAULT_PARALLEL_MIN_COST = 1 << 21;

export interface WasmEngineConfig {
  readonly threads: number | 'auto';
  readonly parallelMinCost?: number;
  /** Called before each job runs; tests use it to see which path a job took, or to corrupt the job. */
  readonly onJob?: (job: JobInfo) => void;
  /** Replaces the worker script; tests use it to make a worker die. */
  readonly workerSource?: string;
}

export interface JobInfo {
  readonly kind: 'forward' | 'backward';
  readonly items: number;
  readonly threads: number;
  /** The linear memory the job is laid out in, and the byte offset of its header. */
  readonly memory: WebAssembly.Memory;
  readonly header: number;
}

export interface WasmEngineStats {
  /** Bytes of linear memory (one memory, shared by the calling thread's instance and every worker's). */
  readonly memoryBytes: number;
  /** Worker threads started and not yet exited, including any of a pool that was replaced. */
  readonly workers: number;
}

interface State {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** The calling thread's instance, for jobs too small to share. */
  readonly kernel: KernelExports;
  readonly heapBase: number;
  readonly threads: number;
  readonly shared: boolean;
  pool: WorkerPool | null;
  /** Set once a pool could not be created here, so that jobs stop asking. */
  poolUnavailable: boolean;
}

/**
 * Runs the AssemblyScript kernels: lays out each call's tensors in linear memory, converts inputs to float32
 * on the way in, runs the job on the calling thread or on worker threads sharing the memory, and converts the
 * outputs on the way out.
 */
export class WasmEngine implements Engine {
  readonly #config: WasmEngineConfig;
  readonly #queue = new CallQueue();
  #state: Promise<State> | null = null;
  /** `#state` once it has resolved, for synchronous accounting. */
  #held: State | null = null;
  readonly #threadTally: ThreadTally = { alive: 0 };

  constructor(config: WasmEngineConfig) {
    this.#config = config;
  }

  #ready(): Promise<State> {
    this.#state ??= (async () => {
      const threads = this.#config.threads === 'auto' ? await availableThreads() : this.#config.threads;
      const sharedMemory = threads > 1 ? createSharedMemory() : null;
      const shared = sharedMemory !== null;
      const memory = sharedMemory ?? new WebAssembly.Memory({ initial: 1 });
      const module = await kernelModule(shared);
      const kernel = instantiateKernel(module, memory);
      if (kernel.jobHeaderBytes() !== JOB_HEADER_BYTES) {
        throw new Error(
          `The CPU kernel module reads a ${kernel.jobHeaderBytes()}-byte job header, the host writes ${JOB_HEADER_BYTES}: rebuild it with build:wasm.`,
        );
      }
      this.#held = {
        module,
        memory,
        kernel,
        heapBase: kernel.heapBase(),
        threads,
        shared,
        pool: null,
        poolUnavailable: false,
      };
      return this.#held;
    })();
    return this.#state;
  }

  /**
   * What the engine holds. Each call lays its buffers out from the same base, so memory grows only to the
   * largest call so far and every later call reuses it (a WebAssembly memory never shrinks).
   */
  stats(): WasmEngineStats {
    const state = this.#held;
    return { memoryBytes: state?.memory.buffer.byteLength ?? 0, workers: this.#threadTally.alive };
  }

  /** How many threads a job gets: all of them when it is big enough to split, else the calling thread. */
  async #threadsFor(state: State, work: WorkList): Promise<number> {
    const minCost = this.#config.parallelMinCost ?? DEFAULT_PARALLEL_MIN_COST;
    if (state.threads <= 1 || !state.shared || state.poolUnavailable || work.count < 2 || work.cost < minCost) return 1;
    if (state.pool?.broken) {
      await state.pool.destroy();
      state.pool = null;
    }
    state.pool ??= await WorkerPool.create(state.threads, state.module, state.memory, {
      source: this.#config.workerSource,
      tally: this.#threadTally,
    });
    if (!state.pool) {
      state.poolUnavailable = true;
      return 1;
    }
    return state.pool.size;
  }

  async #execute(state: State, job: number, threads: number): Promise<void> {
    if (threads <= 1) state.kernel.run(job, 0);
    else await (state.pool as WorkerPool).run(job);
  }

  forward(q: HostTensor, k: HostTensor, v: HostTensor, problem: AttnProblem): Promise<ForwardResult> {
    return this.#queue.run(async () => {
      const state = await this.#ready();
      const { totalQ, totalK, numHeads, numHeadsK, headDim, headDimV, dtype } = problem;
      const work = forwardWork(problem, WASM_BLOCK_Q);
      const threads = await this.#threadsFor(state, work);
      const scratchStride = alignScratch(
        state.kernel.scratchBytes(
          KIND_FORWARD,
          headDim,
          headDimV,
          WASM_BLOCK_Q,
          WASM_BLOCK_K,
          maxSeqlenOf(problem.cuSeqlensQ),
        ),
      );

      const layout = new ArenaLayout(state.heapBase);
      const common = reserveCommon(layout, problem, work);
      const qPtr = layout.reserve(totalQ * numHeads * headDim * 4, INPUT_SLACK);
      const kPtr = layout.reserve(totalK * numHeadsK * headDim * 4, INPUT_SLACK);
      const vPtr = layout.reserve(totalK * numHeadsK * headDimV * 4, INPUT_SLACK);
      const outPtr = layout.reserve(totalQ * numHeads * headDimV * 4);
      const lsePtr = layout.reserve(numHeads * totalQ * 4);
      const scratch = layout.reserve(scratchStride * threads);
      ensureMemory(state.memory, layout.bytes);

      const buffer = state.memory.buffer;
      writeCommon(buffer, common, problem, work);
      decodeInputs(buffer, problem, { q, k, v }, { q: qPtr, k: kPtr, v: vPtr });
      writeJob(buffer, common.header, {
        ...jobBase(problem, work, common),
        kind: KIND_FORWARD,
        q: qPtr,
        k: kPtr,
        v: vPtr,
        out: outPtr,
        lse: lsePtr,
        dout: 0,
        dq: 0,
        dk: 0,
        dv: 0,
        gradHeadsK: numHeadsK,
        scratch,
        scratchStride,
      });
      this.#config.onJob?.({
        kind: 'forward',
        items: work.count,
        threads,
        memory: state.memory,
        header: common.header,
      });
      await this.#execute(state, common.header, threads);

      const after = state.memory.buffer;
      return {
        out: hostTensorOf(
          encodeFrom(f32View(after, outPtr, totalQ * numHeads * headDimV), dtype),
          [totalQ, numHeads, headDimV],
          dtype,
        ),
        lse: { data: f32View(after, lsePtr, numHeads * totalQ).slice(), shape: [numHeads, totalQ], dtype: 'f32' },
      };
    });
  }

  backward(
    dout: HostTensor,
    q: HostTensor,
    k: HostTensor,
    v: HostTensor,
    out: HostTensor,
    lse: HostTensor,
    problem: AttnProblem,
  ): Promise<BackwardResult> {
    return this.#queue.run(async () => {
      const state = await this.#ready();
      const { totalQ, totalK, numHeads, numHeadsK, headDim, headDimV, dtype } = problem;
      const gradHeadsK = gradHeadsOf(problem);
      const work = backwardWork(problem, WASM_BLOCK_Q);
      const threads = await this.#threadsFor(state, work);
      const scratchStride = alignScratch(
        state.kernel.scratchBytes(
          KIND_BACKWARD,
          headDim,
          headDimV,
          WASM_BLOCK_Q,
          WASM_BLOCK_K,
          maxSeqlenOf(problem.cuSeqlensQ),
        ),
      );

      const layout = new ArenaLayout(state.heapBase);
      const common = reserveCommon(layout, problem, work);
      const qPtr = layout.reserve(totalQ * numHeads * headDim * 4, INPUT_SLACK);
      const kPtr = layout.reserve(totalK * numHeadsK * headDim * 4, INPUT_SLACK);
      const vPtr = layout.reserve(totalK * numHeadsK * headDimV * 4, INPUT_SLACK);
      const outPtr = layout.reserve(totalQ * numHeads * headDimV * 4, INPUT_SLACK);
      const doutPtr = layout.reserve(totalQ * numHeads * headDimV * 4, INPUT_SLACK);
      const lsePtr = layout.reserve(numHeads * totalQ * 4);
      const dqPtr = layout.reserve(totalQ * numHeads * headDim * 4);
      const dkPtr = layout.reserve(totalK * gradHeadsK * headDim * 4);
      const dvPtr = layout.reserve(totalK * gradHeadsK * headDimV * 4);
      const scratch = layout.reserve(scratchStride * threads);
      ensureMemory(state.memory, layout.bytes);

      const buffer = state.memory.buffer;
      writeCommon(buffer, common, problem, work);
      decodeInputs(buffer, problem, { q, k, v }, { q: qPtr, k: kPtr, v: vPtr });
      decodeInto(out.data as FloatStorage, dtype, f32View(buffer, outPtr, out.data.length));
      decodeInto(dout.data as FloatStorage, dtype, f32View(buffer, doutPtr, dout.data.length));
      f32View(buffer, lsePtr, lse.data.length).set(lse.data as Float32Array);
      writeJob(buffer, common.header, {
        ...jobBase(problem, work, common),
        kind: KIND_BACKWARD,
        q: qPtr,
        k: kPtr,
        v: vPtr,
        out: outPtr,
        lse: lsePtr,
        dout: doutPtr,
        dq: dqPtr,
        dk: dkPtr,
        dv: dvPtr,
        gradHeadsK,
        scratch,
        scratchStride,
      });
      this.#config.onJob?.({
        kind: 'backward',
        items: work.count,
        threads,
        memory: state.memory,
        header: common.header,
      });
      await this.#execute(state, common.header, threads);

      const after = state.memory.buffer;
      const dq = f32View(after, dqPtr, totalQ * numHeads * headDim);
      const dk = f32View(after, dkPtr, totalK * gradHeadsK * headDim);
      const dv = f32View(after, dvPtr, totalK * gradHeadsK * headDimV);
      const grouped = gradHeadsK !== numHeadsK;
      const finish = (values: Float32Array, width: number) =>
        grouped
          ? encodeOwned(sumHeadGroups(values, totalK, numHeads, numHeadsK, width), dtype)
          : encodeFrom(values, dtype);
      return {
        dq: hostTensorOf(encodeFrom(dq, dtype), [totalQ, numHeads, headDim], dtype),
        dk: hostTensorOf(finish(dk, headDim), [totalK, numHeadsK, headDim], dtype),
        dv: hostTensorOf(finish(dv, headDimV), [totalK, numHeadsK, headDimV], dtype),
      };
    });
  }

  destroy(): Promise<void> {
    return this.#queue.run(async () => {
      const state = this.#state;
      this.#state = null;
      this.#held = null;
      if (!state) return;
      const ready = await state.catch(() => null);
      await ready?.pool?.destroy();
    });
  }
}

interface CommonBuffers {
  readonly header: number;
  readonly items: number;
  readonly cuSeqlensQ: number;
  readonly cuSeqlensK: number;
  readonly alibiSlopes: number;
}

function reserveCommon(layout: ArenaLayout, problem: AttnProblem, work: WorkList): CommonBuffers {
  return {
    header: layout.reserve(JOB_HEADER_BYTES),
    items: layout.reserve(work.items.byteLength),
    cuSeqlensQ: layout.reserve((problem.batch + 1) * 4),
    cuSeqlensK: layout.reserve((problem.batch + 1) * 4),
    alibiSlopes: problem.alibiSlopes ? layout.reserve(problem.numHeads * 4) : 0,
  };
}

function writeCommon(buffer: ArrayBufferLike, common: CommonBuffers, problem: AttnProblem, work: WorkList): void {
  new Int32Array(buffer, common.items, work.items.length).set(work.items);
  new Int32Array(buffer, common.cuSeqlensQ, problem.batch + 1).set(problem.cuSeqlensQ);
  new Int32Array(buffer, common.cuSeqlensK, problem.batch + 1).set(problem.cuSeqlensK);
  if (problem.alibiSlopes) f32View(buffer, common.alibiSlopes, problem.numHeads).set(problem.alibiSlopes);
}

type BaseFields =
  | 'counter'
  | 'numItems'
  | 'items'
  | 'batch'
  | 'totalQ'
  | 'totalK'
  | 'numHeads'
  | 'numHeadsK'
  | 'headDim'
  | 'headDimV'
  | 'cuSeqlensQ'
  | 'cuSeqlensK'
  | 'scale'
  | 'windowLeft'
  | 'windowRight'
  | 'softcap'
  | 'alibiSlopes'
  | 'dropout'
  | 'dropoutThreshold'
  | 'seedLo'
  | 'seedHi'
  | 'keepScale'
  | 'blockQ'
  | 'blockK'
  | 'maxSeqlenQ';

function jobBase(problem: AttnProblem, work: WorkList, common: CommonBuffers): Pick<JobHeader, BaseFields> {
  const plan = lowerProblem(problem);
  return {
    counter: 0,
    numItems: work.count,
    items: common.items,
    batch: plan.batch,
    totalQ: plan.totalQ,
    totalK: plan.totalK,
    numHeads: plan.numHeads,
    numHeadsK: plan.numHeadsK,
    headDim: plan.headDim,
    headDimV: plan.headDimV,
    cuSeqlensQ: common.cuSeqlensQ,
    cuSeqlensK: common.cuSeqlensK,
    scale: plan.scores.softmaxScale,
    windowLeft: plan.scores.windowLeft,
    windowRight: plan.scores.windowRight,
    softcap: plan.scores.softcap,
    alibiSlopes: common.alibiSlopes,
    dropout: plan.dropout.enabled ? 1 : 0,
    dropoutThreshold: plan.dropout.threshold,
    seedLo: plan.dropout.seedLo,
    seedHi: plan.dropout.seedHi,
    keepScale: plan.dropout.keepScale,
    blockQ: WASM_BLOCK_Q,
    blockK: WASM_BLOCK_K,
    // The real longest sequence, not a caller's larger maxSeqlenQ: scratch is sized by it.
    maxSeqlenQ: maxSeqlenOf(plan.cuSeqlensQ),
  };
}

/**
 * A shared memory for worker threads, or null where there is none: no SharedArrayBuffer (a page that is not
 * cross-origin isolated), or no room to reserve the 4 GiB of address space a growable shared memory declares.
 */
function createSharedMemory(): WebAssembly.Memory | null {
  if (!sharedMemorySupported()) return null;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: SHARED_MAXIMUM_PAGES, shared: true });
  } catch {
    return null;
  }
}

/** q, k and v, through their layouts (the parts of a packed qkv straight from its buffer), into WASM memory. */
function decodeInputs(
  buffer: ArrayBufferLike,
  problem: AttnProblem,
  inputs: { q: HostTensor; k: HostTensor; v: HostTensor },
  at: { q: number; k: number; v: number },
): void {
  const { totalQ, totalK, numHeads, numHeadsK, headDim, headDimV, dtype, layouts } = problem;
  const shapes = {
    q: [totalQ, numHeads, headDim],
    k: [totalK, numHeadsK, headDim],
    v: [totalK, numHeadsK, headDimV],
  } as const;
  for (const name of ['q', 'k', 'v'] as const) {
    const [tokens, heads, dim] = shapes[name];
    const dst = f32View(buffer, at[name], tokens * heads * dim);
    decodeViewInto(inputs[name].data as FloatStorage, dtype, layouts[name], shapes[name], dst);
  }
}

function f32View(buffer: ArrayBufferLike, ptr: number, length: number): Float32Array {
  return new Float32Array(buffer, ptr, length);
}

function alignScratch(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

/** Encodes a float32 array the engine already owns, without the copy `encodeFrom` makes for f32. */
function encodeOwned(values: Float32Array, dtype: AttnProblem['dtype']): FloatStorage {
  return dtype === 'f32' ? values : encodeFrom(values, dtype);
}
