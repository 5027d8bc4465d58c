import type { Worker } from 'node:worker_threads';
import { importNodeBuiltin } from '../node-builtins.js';
import { WORKER_SOURCE } from './worker-source.js';

export interface PoolOptions {
  /** Replaces the worker script; tests use it to make a worker fail. */
  readonly source?: string;
  /** Counts threads from creation until they have really exited, whichever pool they belonged to. */
  readonly tally?: ThreadTally;
}

export interface ThreadTally {
  alive: number;
}

interface WorkerReply {
  readonly ok: boolean;
  readonly error?: string;
}

/**
 * Worker threads that run kernel jobs over one shared memory. Node only: `node:worker_threads` is imported
 * dynamically, so this module loads anywhere and `create` resolves to null where there are no such threads.
 * Idle workers are unref()'d, so a process that never calls `destroy` still exits; a worker is ref()'d only
 * while it has a job, which keeps the process alive until the job's promise settles.
 */
export class WorkerPool {
  readonly #workers: Worker[];
  #broken: Error | null = null;

  private constructor(workers: Worker[]) {
    this.#workers = workers;
    for (const worker of workers) {
      worker.unref();
      worker.on('error', (error) => {
        this.#broken ??= error instanceof Error ? error : new Error(String(error));
      });
      // A worker that dies between jobs would never answer the next one, which would then wait forever.
      worker.on('exit', (code) => {
        this.#broken ??= new Error(`A CPU kernel worker exited with code ${code}.`);
      });
    }
  }

  static async create(
    size: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    options: PoolOptions = {},
  ): Promise<WorkerPool | null> {
    const threads = await importNodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads');
    if (!threads || typeof threads.Worker !== 'function') return null;
    const { source = WORKER_SOURCE, tally } = options;
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const worker = new threads.Worker(source, {
          eval: true,
          workerData: { module, memory },
          name: 'fa-cpu-kernel',
        });
        workers.push(worker);
        if (tally) {
          tally.alive++;
          worker.once('exit', () => tally.alive--);
        }
      }
    } catch {
      // No more threads to be had here (a resource limit): none of them, rather than a pool that leaks some.
      await Promise.all(workers.map((worker) => worker.terminate()));
      return null;
    }
    return new WorkerPool(workers);
  }

  /** Workers not yet destroyed (a broken pool still counts its dead ones until `destroy`). */
  get size(): number {
    return this.#workers.length;
  }

  /** Whether a worker died; a broken pool must be replaced. */
  get broken(): boolean {
    return this.#broken !== null;
  }

  /** Runs the job at `job` on every worker (worker i uses scratch area i) and resolves when all are done. */
  run(job: number): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      let pending = this.#workers.length;
      let failure: Error | null = null;
      const settle = () => {
        if (--pending > 0) return;
        if (failure) reject(failure);
        else resolve();
      };
      this.#workers.forEach((worker, thread) => {
        const onMessage = (reply: WorkerReply) => {
          detach();
          if (!reply.ok) failure ??= new Error(`A CPU kernel worker failed: ${reply.error}`);
          settle();
        };
        const onExit = (code: number) => {
          detach();
          const error = new Error(`A CPU kernel worker exited with code ${code} during a job.`);
          this.#broken ??= error;
          failure ??= error;
          settle();
        };
        const detach = () => {
          worker.off('message', onMessage);
          worker.off('exit', onExit);
          worker.unref();
        };
        worker.on('message', onMessage);
        worker.on('exit', onExit);
        worker.ref();
        worker.postMessage({ job, thread });
      });
    });
  }

  async destroy(): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
