import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type AttnOptions, isFaError, referenceAttnBackward, resolveAttnProblem } from '@fa/core';
import { type AttnInputs, attnInputs, Random, smallCase } from '@fa/testkit';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  flashAttnVarlen,
  flashAttnVarlenBackward,
  registerBackend,
  type Tensor,
  type TensorInput,
  tensor,
  unregisterBackend,
} from '../index.js';
import { type CpuBackend, type CpuBackendStats, createCpuBackendTuned } from './backend.js';
import { checkAgainstReference, compare, F32_TOLERANCE } from './test-fixtures.js';
import { JOB_FIELDS } from './wasm/job.js';
import { WORKER_SOURCE } from './wasm/worker-source.js';
import type { JobInfo } from './wasm-engine.js';

/**
 * What the cpu backend owns goes back to where it was: handles (host copies), the kernels' WebAssembly memory,
 * worker threads, and this thread's array buffers and heap after a garbage collection (both are per isolate, so
 * test files running in other workers do not move them). Checked over 10,000 calls and after calls that fail
 * half-way.
 */

// V8 flags are process-wide; `gc` becomes reachable in a fresh context once the flag is set.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function settledMemory(): { arrayBuffers: number; heapUsed: number } {
  gc();
  gc();
  const { arrayBuffers, heapUsed } = process.memoryUsage();
  return { arrayBuffers, heapUsed };
}

/**
 * What may come and go once warm, whatever the number of calls (measured: array buffers by under 2 KiB, the heap
 * by about 100 KiB of compiled code and inline caches). Keeping one small result per call (typed arrays this
 * small live on the heap) would exceed the heap's slack by the last round. Warming up creates what is made once
 * and kept: the 256 KiB table of f16 values, the compiled kernel module, the worker pool, linear memory for the
 * largest problem.
 */
const ARRAY_BUFFER_SLACK = 64 * 1024;
const HEAP_SLACK = 1024 * 1024;
/**
 * The kernels lay every call out from the same base, so linear memory grows to the largest call and stays there;
 * for these small problems that is at most a few 64 KiB pages.
 */
const WASM_MEMORY_BOUND = 4 * 65536;

const created: CpuBackend[] = [];
afterAll(async () => {
  for (const backend of created) await backend.destroy?.();
});

let registered = 0;
/** A cpu backend registered under a fresh name, so that calls can pick it with `backend`. */
function register(backend: CpuBackend): string {
  const name = `cpu-resources-${registered++}`;
  created.push(backend);
  registerBackend(name, () => backend, { priority: -10 });
  return name;
}

function optionsOf(inputs: AttnInputs, backend: string): AttnOptions & { backend: string } {
  return { ...inputs.options, backend };
}

function expectNothingHeld(stats: CpuBackendStats): void {
  expect({ handles: stats.liveHandles, bytes: stats.liveBytes }).toEqual({ handles: 0, bytes: 0 });
}

/** One call, as an application makes it: host data or tensors in, everything disposed after. */
async function oneCall(inputs: AttnInputs, backend: string, i: number): Promise<void> {
  const options = optionsOf(inputs, backend);
  // Half the calls pass tensors (uploaded, then disposed here), half plain host data (the call's temporaries).
  const asTensors = i % 2 === 0;
  const arg = (t: AttnInputs['q']): TensorInput => (asTensors ? tensor(t) : t);
  const [q, k, v] = [arg(inputs.q), arg(inputs.k), arg(inputs.v)];
  const { out, lse } = await flashAttnVarlen(q, k, v, options);
  if (i % 4 === 1) {
    const grads = await flashAttnVarlenBackward(inputs.dout, q, k, v, out, lse, options);
    for (const g of [grads.dq, grads.dk, grads.dv]) g.dispose();
  }
  for (const t of [out, lse, ...(asTensors ? [q, k, v] : [])]) (t as Tensor).dispose();
}

describe('cpu backend resources', () => {
  it('10,000 calls, forward and backward, leave memory where it started', async () => {
    const threaded = createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0 });
    const inline = createCpuBackendTuned({ threads: 1 }, {});
    const names = [register(threaded), register(inline)];
    const random = new Random(20240611);
    const problems = Array.from({ length: 40 }, (_, i) => attnInputs(smallCase(random), 1000 + i));
    for (const [i, inputs] of problems.entries()) for (const name of names) await oneCall(inputs, name, i);
    const warm = { ...settledMemory(), threaded: threaded.stats() };

    const rounds: Array<{ arrayBuffers: number; heapUsed: number; threaded: CpuBackendStats }> = [];
    let calls = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 2500; i++, calls++) {
        await oneCall(problems[calls % problems.length] as AttnInputs, names[calls % 2] as string, calls);
      }
      expectNothingHeld(threaded.stats());
      expectNothingHeld(inline.stats());
      rounds.push({ ...settledMemory(), threaded: threaded.stats() });
    }
    expect(calls).toBe(10_000);

    expect(warm.threaded.wasmMemoryBytes).toBeGreaterThan(0);
    expect(warm.threaded.wasmMemoryBytes).toBeLessThanOrEqual(WASM_MEMORY_BOUND);
    for (const round of rounds) {
      expect(round.threaded.wasmMemoryBytes).toBe(warm.threaded.wasmMemoryBytes);
      expect(round.threaded.workers).toBe(2);
      expect(round.arrayBuffers - warm.arrayBuffers).toBeLessThanOrEqual(ARRAY_BUFFER_SLACK);
      expect(round.heapUsed - warm.heapUsed).toBeLessThanOrEqual(HEAP_SLACK);
    }
    expect(inline.stats().workers).toBe(0);

    await threaded.destroy?.();
    await inline.destroy?.();
    for (const name of names) unregisterBackend(name);
    const end = settledMemory();
    expect(threaded.stats()).toEqual({ liveHandles: 0, liveBytes: 0, wasmMemoryBytes: 0, workers: 0 });
    expect(end.arrayBuffers - warm.arrayBuffers).toBeLessThanOrEqual(ARRAY_BUFFER_SLACK);
  });
});

describe('cpu backends sharing tensors', () => {
  it('1,000 rounds of tensors used on two backends and results moved between them leave memory where it started', async () => {
    const backends = [
      createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0 }),
      createCpuBackendTuned({ threads: 1 }, {}),
    ];
    const [first, second] = backends.map(register) as [string, string];
    const random = new Random(20240612);
    const problems = Array.from({ length: 20 }, (_, i) => attnInputs(smallCase(random), 2000 + i));
    /** The same tensors forward on both at once, first's results moved to second for its backward; all disposed. */
    async function swap(inputs: AttnInputs): Promise<void> {
      const [q, k, v] = [tensor(inputs.q), tensor(inputs.k), tensor(inputs.v)];
      const [a, b] = await Promise.all([
        flashAttnVarlen(q, k, v, optionsOf(inputs, first)),
        flashAttnVarlen(q, k, v, optionsOf(inputs, second)),
      ]);
      const [out, lse] = await Promise.all([a.out.to(second), a.lse.to(second)]);
      const grads = await flashAttnVarlenBackward(inputs.dout, q, k, v, out, lse, optionsOf(inputs, second));
      for (const t of [q, k, v, a.out, a.lse, b.out, b.lse, out, lse, grads.dq, grads.dk, grads.dv]) t.dispose();
    }
    for (const inputs of problems) await swap(inputs);
    const warm = settledMemory();
    for (let i = 0; i < 1000; i++) await swap(problems[i % problems.length] as AttnInputs);
    for (const backend of backends) expectNothingHeld(backend.stats());
    const end = settledMemory();
    expect(end.arrayBuffers - warm.arrayBuffers).toBeLessThanOrEqual(ARRAY_BUFFER_SLACK);
    expect(end.heapUsed - warm.heapUsed).toBeLessThanOrEqual(HEAP_SLACK);
  });
});

describe('cpu backend after a call fails half-way', () => {
  const random = new Random(7);
  const problem = attnInputs({ name: 'after failure', lengthsQ: [37, 0, 20], numHeads: 4, numHeadsK: 2 }, 99);

  /** The next calls still compute the right thing, and give back what they take. */
  async function expectHealthy(backend: string): Promise<void> {
    const inputs = attnInputs({ name: 'healthy', lengthsQ: [29, 3], headDim: 11 }, 5);
    const exact = referenceAttnBackward(inputs.dout, inputs.q, inputs.k, inputs.v, inputs.options);
    const options = optionsOf(inputs, backend);
    const { out, lse } = await flashAttnVarlen(inputs.q, inputs.k, inputs.v, options);
    const grads = await flashAttnVarlenBackward(inputs.dout, inputs.q, inputs.k, inputs.v, out, lse, options);
    for (const [quantity, t] of Object.entries({ out, lse, ...grads })) {
      const tolerance = quantity === 'out' || quantity === 'lse' ? F32_TOLERANCE.out : F32_TOLERANCE.grad;
      expect(
        compare(quantity, await t.toArray(), exact[quantity as 'out' | 'lse' | 'dq' | 'dk' | 'dv'], tolerance),
      ).toBeNull();
      t.dispose();
    }
  }

  for (const threads of [1, 2]) {
    it(`rejects a job whose kernel traps and recovers (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      let trap = false;
      // Points the job's item list far outside linear memory: every thread that starts on it traps.
      const corrupt = (job: JobInfo) => {
        if (!trap) return;
        new Int32Array(job.memory.buffer, job.header, JOB_FIELDS.length)[JOB_FIELDS.indexOf('items')] = 0x7fff0000;
      };
      const backend = createCpuBackendTuned({ threads }, { parallelMinCost: 0, onJob: corrupt });
      const name = register(backend);
      await oneCall(problem, name, 0);
      const warm = backend.stats();

      trap = true;
      const q = tensor(problem.q);
      const error = await flashAttnVarlen(q, problem.k, problem.v, optionsOf(problem, name)).catch((e: unknown) => e);
      expect(String(error)).toMatch(/out of bounds/);
      q.dispose();
      trap = false;

      expectNothingHeld(backend.stats());
      expect(backend.stats().wasmMemoryBytes).toBe(warm.wasmMemoryBytes);
      expect(backend.stats().workers).toBe(warm.workers);
      await expectHealthy(name);
    });
  }

  // Thread 1 dies on its first job (after answering it, so while idle) or on its second (before the kernel sees
  // it), in workers started while the variable is set: a worker copies the environment when it starts, so the
  // pool that replaces them is healthy.
  const KILL = 'FA_TEST_KILL_CPU_WORKER';
  const dying = `
    const { parentPort: port } = require('node:worker_threads');
    let jobs = 0;
    port.on('message', (message) => {
      if (message.thread !== 1) return;
      jobs++;
      if (process.env.${KILL} === 'idle' && jobs === 1) setTimeout(() => process.exit(7), 0);
      if (process.env.${KILL} === 'during' && jobs === 2) process.exit(7);
    });
    ${WORKER_SOURCE}`;

  it('rejects a job whose worker thread dies, and replaces the pool without leaking a thread', async () => {
    const backend = createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0, workerSource: dying });
    const name = register(backend);
    process.env[KILL] = 'during';
    try {
      await oneCall(problem, name, 0);
      expect(backend.stats().workers).toBe(2);
      const error = await flashAttnVarlen(problem.q, problem.k, problem.v, optionsOf(problem, name)).catch(
        (e: unknown) => e,
      );
      expect(String(error)).toMatch(/exited with code 7/);
    } finally {
      delete process.env[KILL];
    }
    expectNothingHeld(backend.stats());
    expect(backend.stats().workers).toBe(1);

    // The broken pool's threads are gone before the new pool starts: never more than two at a time.
    await expectHealthy(name);
    expect(backend.stats().workers).toBe(2);
    await oneCall(problem, name, 1);
    expectNothingHeld(backend.stats());
  });

  it('replaces a pool whose worker died between jobs instead of waiting for it forever', async () => {
    const backend = createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0, workerSource: dying });
    const name = register(backend);
    process.env[KILL] = 'idle';
    try {
      await oneCall(problem, name, 0);
    } finally {
      delete process.env[KILL];
    }
    await vi.waitFor(() => expect(backend.stats().workers).toBe(1), { timeout: 5000 });
    await expectHealthy(name);
    expect(backend.stats().workers).toBe(2);
  }, 20_000);

  it('falls back to the JavaScript kernels when linear memory cannot grow (E_LIMIT), and grows later', async () => {
    const backend = createCpuBackendTuned({ threads: 1 }, {});
    const name = register(backend);
    await oneCall(attnInputs(smallCase(random), 1), name, 0);
    const small = backend.stats().wasmMemoryBytes;
    const big = { name: 'needs more memory', lengthsQ: [300, 211], numHeads: 2, headDim: 64 };

    const grow = WebAssembly.Memory.prototype.grow;
    let refused = 0;
    WebAssembly.Memory.prototype.grow = function refuse(): number {
      refused++;
      throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
    };
    try {
      expect(await checkAgainstReference(backend, big, 3)).toEqual([]);
    } finally {
      WebAssembly.Memory.prototype.grow = grow;
    }
    expect(refused).toBeGreaterThan(0);
    expect(backend.stats().wasmMemoryBytes).toBe(small);

    expect(await checkAgainstReference(backend, big, 4)).toEqual([]);
    expect(backend.stats().wasmMemoryBytes).toBeGreaterThan(small);
  });

  it('keeps a tensor disposed during a call alive until the call ends, then frees it', async () => {
    let duringJob: (() => void) | undefined;
    const backend = createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0, onJob: () => duringJob?.() });
    const name = register(backend);
    const options = optionsOf(problem, name);
    const alone = await flashAttnVarlen(problem.q, problem.k, problem.v, options);
    const expected = await alone.out.toArray();
    alone.out.dispose();
    alone.lse.dispose();

    const [q, k, v] = [tensor(problem.q), tensor(problem.k), tensor(problem.v)];
    duringJob = () => {
      q.dispose();
      k.dispose();
      k.dispose();
    };
    const { out, lse } = await flashAttnVarlen(q, k, v, options);
    duringJob = undefined;
    expect(Array.from(await out.toArray())).toEqual(Array.from(expected));
    // q and k went when the call ended; v, out and lse remain.
    expect(backend.stats().liveHandles).toBe(3);
    for (const [promise, argument] of [
      [q.toArray(), 'tensor'],
      [flashAttnVarlen(q, k, v, options), 'q'],
      [flashAttnVarlenBackward(problem.dout, problem.q, k, v, out, lse, options), 'k'],
    ] as const) {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isFaError(error, 'E_DISPOSED') && error.argument).toBe(argument);
    }
    for (const t of [v, out, lse]) t.dispose();
    expectNothingHeld(backend.stats());
  });

  it('refuses a tensor disposed before the call takes it, holding nothing', async () => {
    const backend = createCpuBackendTuned({ threads: 1 }, {});
    const name = register(backend);
    const [q, k, v] = [tensor(problem.q), tensor(problem.k), tensor(problem.v)];
    const pending = flashAttnVarlen(q, k, v, optionsOf(problem, name));
    v.dispose();
    const error = await pending.catch((e: unknown) => e);
    expect(isFaError(error, 'E_DISPOSED') && error.argument).toBe('v');
    expectNothingHeld(backend.stats());
    // q and k were never uploaded, and still work.
    v.dispose();
    const again = await flashAttnVarlen(q, k, problem.v, optionsOf(problem, name));
    for (const t of [again.out, again.lse, q, k]) t.dispose();
    expectNothingHeld(backend.stats());
  });

  it('refuses a disposed handle at the backend with E_DISPOSED naming it; disposing twice is harmless', async () => {
    const backend = createCpuBackendTuned({ threads: 1 }, {});
    created.push(backend);
    const [q, k, v] = await Promise.all([problem.q, problem.k, problem.v].map((t) => backend.upload(t)));
    const resolved = resolveAttnProblem(problem.q, problem.k, problem.v, problem.options);
    backend.dispose(k as never);
    backend.dispose(k as never);
    const error = await backend.forward(q as never, k as never, v as never, resolved).catch((e: unknown) => e);
    expect(isFaError(error, 'E_DISPOSED') && error.argument).toBe('k');
    const download = await backend.download(k as never, problem.k.shape, 'f32').catch((e: unknown) => e);
    expect(isFaError(download, 'E_DISPOSED')).toBe(true);
    backend.dispose(q as never);
    backend.dispose(v as never);
    expectNothingHeld(backend.stats());
  });
});
