import { type AttentionBackend, isFaError, registerBackend, resolveAttnProblem, unregisterBackend } from '@fa/core';
import { flashAttnVarlen, flashAttnVarlenBackward, type Tensor, type TensorInput, tensor } from '@fa/flash-attn';
import { type CpuBackend, createCpuBackend } from '@fa/flash-attn/cpu';
import { Random } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { type CountingGpu, countingGpu } from '../test/counting-gpu.js';
import { compareWithReference, type Problem, smallProblem } from '../test/problems.js';
import { createWebGpuBackend, type WebGpuBackend } from './index.js';

/**
 * GPU memory goes back to where it was: after 10,000 calls, after calls rejected half-way (late out-of-memory
 * and validation errors, a size limit, a device lost with calls in flight, tensors disposed during a call).
 * The backend's `stats()` is checked against an independent census of every buffer its devices created and
 * destroyed (test/counting-gpu.ts), so a buffer made or kept outside its accounting shows up as a mismatch.
 */

/** The smallest tiles: SwiftShader runs a workgroup of them several times faster than the default ones. */
const MIN_TILES = { workgroupStorageBytes: 16384, invocations: 64 };

const cleanup: Array<() => void> = [];
afterAll(() => {
  for (const step of cleanup) step();
});

let registered = 0;
async function setUp(): Promise<{ backend: WebGpuBackend; name: string; counting: CountingGpu }> {
  const counting = await countingGpu();
  const backend = await createWebGpuBackend({ gpu: counting.gpu, tilingLimits: MIN_TILES });
  const name = `webgpu-resources-${registered++}`;
  registerBackend(name, () => backend, { priority: -10 });
  cleanup.push(() => {
    backend.destroy();
    unregisterBackend(name);
  });
  return { backend, name, counting };
}

/** The backend's accounting agrees with the census, and holds exactly `buffers` buffers. */
function expectHeld(backend: WebGpuBackend, counting: CountingGpu, buffers: number): void {
  const stats = backend.stats();
  const { census } = counting;
  expect({ buffers: stats.liveBuffers, bytes: stats.liveBytes }).toEqual({
    buffers: census.live,
    bytes: census.liveBytes,
  });
  expect(stats.liveBuffers).toBe(buffers);
}

/** How many of `tensors` hold a buffer (inputs passed only as host data never do). */
function onDevice(tensors: readonly Tensor[]): number {
  return tensors.filter((t) => t.backends.includes('webgpu')).length;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error,
  );
}

/**
 * Forward and backward through the façade on `name`, of `problem` passed as host data or as the tensors `inputs`;
 * checks every result against the reference and frees the results.
 */
async function expectCorrect(
  name: string,
  problem: Problem,
  inputs: Record<'q' | 'k' | 'v' | 'dout', TensorInput> = problem,
): Promise<void> {
  const options = { ...problem.options, backend: name };
  const { q, k, v, dout } = inputs;
  const { out, lse } = await flashAttnVarlen(q, k, v, options);
  const grads = await flashAttnVarlenBackward(dout, q, k, v, out, lse, options);
  const all = { out, lse, ...grads };
  const results = Object.fromEntries(
    await Promise.all(Object.entries(all).map(async ([quantity, t]) => [quantity, await t.toArray()])),
  );
  for (const t of Object.values(all)) t.dispose();
  for (const c of compareWithReference(problem, results)) expect(c.pass, `${c.quantity}: ${c.maxError}`).toBe(true);
}

describe('webgpu resources', () => {
  it('10,000 calls, forward and backward, many in flight, leave no buffer behind', async () => {
    const { backend, name, counting } = await setUp();
    const random = new Random(424242);
    const problems = Array.from({ length: 24 }, () => smallProblem(random, { maxBatch: 3, maxHeads: 2 }));
    // Inputs live on the device as tensors; every tenth call passes host data instead (uploaded, then freed).
    const inputs = problems.map((p) => ({
      q: tensor(p.q),
      k: tensor(p.k),
      v: tensor(p.v),
      dout: tensor(p.dout),
      options: { ...p.options, backend: name },
    }));
    let calls = 0;
    /** One forward; every eighth also a backward; every 97th reads its output back (a staging buffer). */
    async function call(i: number, p: Problem, t: (typeof inputs)[number]): Promise<void> {
      const host = i % 10 === 3;
      const arg = (tensorInput: Tensor, data: Problem['q']): TensorInput => (host ? data : tensorInput);
      const [q, k, v] = [arg(t.q, p.q), arg(t.k, p.k), arg(t.v, p.v)];
      const { out, lse } = await flashAttnVarlen(q, k, v, t.options);
      calls++;
      if (i % 8 === 0) {
        const grads = await flashAttnVarlenBackward(t.dout, q, k, v, out, lse, t.options);
        calls++;
        for (const g of [grads.dq, grads.dk, grads.dv]) g.dispose();
      }
      if (i % 97 === 0) expect((await out.toArray()).length).toBe(out.size);
      out.dispose();
      lse.dispose();
    }

    // Warm-up: compiles the pipelines; not counted.
    for (const [i, p] of problems.entries()) await call(8 * i, p, inputs[i] as (typeof inputs)[number]);
    const held = onDevice(inputs.flatMap((t) => [t.q, t.k, t.v, t.dout]));
    expect(held).toBeGreaterThan(3 * problems.length);
    expectHeld(backend, counting, held);
    calls = 0;

    let issued = 0;
    let checked = 0;
    while (calls < 10_000) {
      const batch: Promise<void>[] = [];
      for (let j = 0; j < 64 && calls + batch.length < 10_000; j++, issued++) {
        const index = issued % problems.length;
        batch.push(call(issued, problems[index] as Problem, inputs[index] as (typeof inputs)[number]));
      }
      await Promise.all(batch);
      // Destroyed buffers are freed once the work that used them has run: keep the queue short.
      await backend.device.queue.onSubmittedWorkDone();
      if (calls >= (checked + 1) * 2500) {
        checked++;
        expectHeld(backend, counting, held);
      }
    }
    expect(calls).toBeGreaterThanOrEqual(10_000);
    expect(checked).toBe(4);

    for (const t of inputs) for (const x of [t.q, t.k, t.v, t.dout]) x.dispose();
    expectHeld(backend, counting, 0);
    expect(counting.census.destroyed).toBe(counting.census.created);
  }, 120_000);
});

describe('webgpu after a call fails half-way', () => {
  const random = new Random(99);
  const problem = smallProblem(random);

  it('frees the outputs of a call rejected late by out-of-memory (E_LIMIT) or a validation error', async () => {
    const { backend, name, counting } = await setUp();
    const options = { ...problem.options, backend: name };
    const [q, k, v, dout] = [tensor(problem.q), tensor(problem.k), tensor(problem.v), tensor(problem.dout)];
    const { out, lse } = await flashAttnVarlen(q, k, v, options);
    const grads = await flashAttnVarlenBackward(dout, q, k, v, out, lse, options);
    for (const g of [grads.dq, grads.dk, grads.dv]) g.dispose();
    const held = 6;
    expectHeld(backend, counting, held);

    counting.injectError('out-of-memory');
    const forward = await rejection(flashAttnVarlen(q, k, v, options));
    expect(isFaError(forward, 'E_LIMIT')).toBe(true);
    expect(String(forward)).toMatch(/ran out of memory in forward/);
    expectHeld(backend, counting, held);

    counting.injectError('out-of-memory');
    const backward = await rejection(flashAttnVarlenBackward(dout, q, k, v, out, lse, options));
    expect(isFaError(backward, 'E_LIMIT')).toBe(true);
    expectHeld(backend, counting, held);

    counting.injectError('validation');
    expect(String(await rejection(flashAttnVarlen(q, k, v, options)))).toMatch(/validation error in forward/);
    expectHeld(backend, counting, held);

    // Host data uploaded for the failing call goes too.
    counting.injectError('out-of-memory');
    await rejection(flashAttnVarlen(problem.q, problem.k, problem.v, options));
    expectHeld(backend, counting, held);

    for (const t of [q, k, v, dout, out, lse]) t.dispose();
    expectHeld(backend, counting, 0);
    await expectCorrect(name, problem);
    expectHeld(backend, counting, 0);
  });

  it('frees the uploads of a call refused by the binding size limit (E_LIMIT)', async () => {
    const { backend, name, counting } = await setUp();
    const limit = backend.device.limits.maxStorageBufferBindingSize;
    // `out` = total_q × 256 floats exceeds the limit while q (head_dim 1) and k, v (one key) stay small.
    const totalQ = Math.floor(limit / (256 * 4)) + 1;
    const q = { data: new Float32Array(totalQ).fill(0.5), shape: [totalQ, 1, 1] };
    const k = { data: Float32Array.of(0.25), shape: [1, 1, 1] };
    const v = { data: new Float32Array(256).fill(-0.75), shape: [1, 1, 256] };
    const options = { cuSeqlensQ: Int32Array.of(0, totalQ), cuSeqlensK: Int32Array.of(0, 1), backend: name };
    const error = await rejection(flashAttnVarlen(q, k, v, options));
    expect(isFaError(error, 'E_LIMIT') && error.argument).toBe('out');
    expectHeld(backend, counting, 0);
    await expectCorrect(name, problem);
  });

  it('settles every call in flight when the device is lost, keeps nothing, and works on a new device', async () => {
    const { backend, name, counting } = await setUp();
    const problems = Array.from({ length: 12 }, () => smallProblem(random));
    for (const p of problems.slice(0, 4)) await expectCorrect(name, p);
    const lost = backend.device;
    const tensors: Tensor[] = [];
    let forwardDone: () => void = () => {};
    const firstForward = new Promise<void>((resolve) => {
      forwardDone = resolve;
    });
    const calls = problems.map(async (p) => {
      const options = { ...p.options, backend: name };
      const [q, k, v] = [tensor(p.q), tensor(p.k), tensor(p.v)];
      tensors.push(q, k, v);
      const { out, lse } = await flashAttnVarlen(q, k, v, options);
      forwardDone();
      tensors.push(out, lse);
      const grads = await flashAttnVarlenBackward(p.dout, q, k, v, out, lse, options);
      tensors.push(grads.dq, grads.dk, grads.dv);
      return grads.dq.toArray();
    });
    // Lose the device once a forward has finished, with the other calls anywhere in between.
    await firstForward;
    lost.destroy();
    const settled = await Promise.allSettled(calls);
    for (const s of settled) {
      if (s.status === 'rejected') expect(isFaError(s.reason, 'E_DEVICE_LOST'), String(s.reason)).toBe(true);
    }
    expect(settled.some((s) => s.status === 'rejected')).toBe(true);
    await lost.lost;
    // The lost device's buffers are gone, the tensors that held them included; disposing those is harmless.
    expect(counting.census.live).toBe(0);
    for (const t of tensors) t.dispose();
    expectHeld(backend, counting, 0);

    await expectCorrect(name, problems[0] as Problem);
    expect(backend.device).not.toBe(lost);
    expectHeld(backend, counting, 0);
    expect(counting.census.destroyed).toBe(counting.census.created);
  });

  it('keeps tensors disposed during a call (or during their upload) alive until the call ends', async () => {
    const { backend, counting } = await setUp();
    // The same backend, with a hook where the façade has handed over the handles and the kernels have not run.
    let whileRunning: (() => void) | undefined;
    const hooked: AttentionBackend<GPUBuffer> = {
      name: 'webgpu',
      capabilities: backend.capabilities,
      upload: async (t) => {
        const handle = await backend.upload(t);
        whileRunning?.();
        return handle;
      },
      download: (h, shape, dtype) => backend.download(h, shape, dtype),
      dispose: (h) => backend.dispose(h),
      forward: async (q, k, v, p) => {
        whileRunning?.();
        return backend.forward(q, k, v, p);
      },
      backward: (...args) => backend.backward(...args),
    };
    const name = `webgpu-hooked-${registered++}`;
    registerBackend(name, () => hooked, { priority: -10 });
    cleanup.push(() => unregisterBackend(name));
    const options = { ...problem.options, backend: name };
    const expected = await flashAttnVarlen(problem.q, problem.k, problem.v, options);
    const [expectedOut, expectedLse] = [await expected.out.toArray(), await expected.lse.toArray()];
    expected.out.dispose();
    expected.lse.dispose();

    for (const moment of ['while the kernels are queued', 'while uploading'] as const) {
      const [q, k, v] = [tensor(problem.q), tensor(problem.k), tensor(problem.v)];
      if (moment === 'while uploading') whileRunning = () => v.dispose();
      else {
        const first = await flashAttnVarlen(q, k, v, options);
        first.out.dispose();
        first.lse.dispose();
        whileRunning = () => {
          q.dispose();
          k.dispose();
        };
      }
      const { out, lse } = await flashAttnVarlen(q, k, v, options);
      whileRunning = undefined;
      expect(Array.from(await out.toArray()), moment).toEqual(Array.from(expectedOut));
      expect(Array.from(await lse.toArray()), moment).toEqual(Array.from(expectedLse));
      // The disposed inputs went when the call ended; the rest and the results remain.
      expectHeld(backend, counting, 3 + 2 - (moment === 'while uploading' ? 1 : 2));
      const error = await rejection(flashAttnVarlen(q, k, v, options));
      expect(isFaError(error, 'E_DISPOSED') && error.argument).toBe(moment === 'while uploading' ? 'v' : 'q');
      for (const t of [q, k, v, out, lse]) t.dispose();
      expectHeld(backend, counting, 0);
    }
  });
});

describe('webgpu handles and tensors', () => {
  it('is harmless to dispose twice; a disposed or foreign handle is refused with a typed error naming it', async () => {
    const { backend, counting } = await setUp();
    const other = await setUp();
    const problem = smallProblem(new Random(5));
    const resolved = resolveAttnProblem(problem.q, problem.k, problem.v, problem.options);
    const [q, k, v] = await Promise.all([problem.q, problem.k, problem.v].map((t) => backend.upload(t)));
    const foreign = await other.backend.upload(problem.v);
    backend.dispose(k as GPUBuffer);
    backend.dispose(k as GPUBuffer);
    expectHeld(backend, counting, 2);
    const disposed = await rejection(backend.forward(q as GPUBuffer, k as GPUBuffer, v as GPUBuffer, resolved));
    expect(isFaError(disposed, 'E_DISPOSED') && disposed.argument).toBe('k');
    const download = await rejection(backend.download(k as GPUBuffer, problem.k.shape, problem.k.dtype));
    expect(isFaError(download, 'E_DISPOSED')).toBe(true);
    const mismatch = await rejection(backend.forward(q as GPUBuffer, v as GPUBuffer, foreign, resolved));
    expect(isFaError(mismatch, 'E_BACKEND_MISMATCH') && mismatch.argument).toBe('v');
    for (const h of [q, v]) backend.dispose(h as GPUBuffer);
    other.backend.dispose(foreign);
    expectHeld(backend, counting, 0);
    expectHeld(other.backend, other.counting, 0);
  });

  it('refuses a tensor of another backend (cpu ↔ webgpu) with E_BACKEND_MISMATCH naming it', async () => {
    const { backend, name, counting } = await setUp();
    const problem = smallProblem(new Random(6));
    const onGpu = await flashAttnVarlen(problem.q, problem.k, problem.v, { ...problem.options, backend: name });
    const onCpu = await flashAttnVarlen(problem.q, problem.k, problem.v, { ...problem.options, backend: 'cpu' });
    expect([onGpu.out.backend, onCpu.out.backend]).toEqual(['webgpu', 'cpu']);
    const toGpu = await rejection(
      flashAttnVarlenBackward(problem.dout, problem.q, problem.k, problem.v, onCpu.out, onGpu.lse, {
        ...problem.options,
        backend: name,
      }),
    );
    expect(isFaError(toGpu, 'E_BACKEND_MISMATCH') && toGpu.argument).toBe('out');
    expect(String(toGpu)).toContain(`await out.to('${name}')`);
    const toCpu = await rejection(
      flashAttnVarlenBackward(problem.dout, problem.q, problem.k, problem.v, onCpu.out, onGpu.lse, {
        ...problem.options,
        backend: 'cpu',
      }),
    );
    expect(isFaError(toCpu, 'E_BACKEND_MISMATCH') && toCpu.argument).toBe('lse');
    // Without a named backend the first tensor that lives somewhere decides, and the other one is named.
    const mixed = await rejection(
      flashAttnVarlenBackward(problem.dout, problem.q, problem.k, problem.v, onGpu.out, onCpu.lse, problem.options),
    );
    expect(isFaError(mixed, 'E_BACKEND_MISMATCH') && mixed.argument).toBe('lse');
    for (const t of [onGpu.out, onGpu.lse, onCpu.out, onCpu.lse]) {
      t.dispose();
      t.dispose();
    }
    expectHeld(backend, counting, 0);
    const used = await rejection(onGpu.out.toArray());
    expect(isFaError(used, 'E_DISPOSED') && used.argument).toBe('tensor');
  });
});

describe('one tensor on webgpu and cpu', () => {
  /** A cpu backend beside the webgpu one, whose forward calls wait while `hold` is set. */
  function cpuBeside(): { name: string; cpu: CpuBackend; control: { hold: Promise<void> | undefined } } {
    const cpu = createCpuBackend({ threads: 1 });
    const control: { hold: Promise<void> | undefined } = { hold: undefined };
    const name = `cpu-beside-webgpu-${registered++}`;
    const held: CpuBackend = {
      ...cpu,
      forward: async (q, k, v, p) => {
        await control.hold;
        return cpu.forward(q, k, v, p);
      },
    };
    registerBackend(name, () => held, { priority: -10 });
    cleanup.push(() => {
      unregisterBackend(name);
      void cpu.destroy?.();
    });
    return { name, cpu, control };
  }

  it('used on both and disposed, leaves both backends holding nothing', async () => {
    const { backend, name, counting } = await setUp();
    const beside = cpuBeside();
    const problem = smallProblem(new Random(8));
    const inputs = { q: tensor(problem.q), k: tensor(problem.k), v: tensor(problem.v), dout: tensor(problem.dout) };
    for (const on of [name, beside.name, name]) await expectCorrect(on, problem, inputs);
    // One copy of each input on each backend, however often it was used there.
    expectHeld(backend, counting, 4);
    expect(beside.cpu.stats().liveHandles).toBe(4);
    expect(inputs.q.backends.sort()).toEqual(['cpu', 'webgpu']);
    for (const t of Object.values(inputs)) t.dispose();
    expectHeld(backend, counting, 0);
    expect(beside.cpu.stats()).toMatchObject({ liveHandles: 0, liveBytes: 0 });
  });

  it('disposed during calls on both, is freed on both when the last call ends', async () => {
    const { backend, name, counting } = await setUp();
    const beside = cpuBeside();
    const problem = smallProblem(new Random(9));
    const [q, k, v] = [tensor(problem.q), tensor(problem.k), tensor(problem.v)];
    let release = () => {};
    beside.control.hold = new Promise((resolve) => (release = resolve));
    const onCpu = flashAttnVarlen(q, k, v, { ...problem.options, backend: beside.name });
    const onGpu = await flashAttnVarlen(q, k, v, { ...problem.options, backend: name });
    for (const t of [q, k, v]) t.dispose();
    // The cpu call still holds q, k and v: their buffers stay beside the webgpu call's out and lse.
    expectHeld(backend, counting, 3 + 2);
    expect(beside.cpu.stats().liveHandles).toBe(3);
    release();
    const cpuResult = await onCpu;
    expectHeld(backend, counting, 2);
    expect(beside.cpu.stats().liveHandles).toBe(2);
    for (const t of [onGpu.out, onGpu.lse, cpuResult.out, cpuResult.lse]) t.dispose();
    expectHeld(backend, counting, 0);
    expect(beside.cpu.stats()).toMatchObject({ liveHandles: 0, liveBytes: 0 });
  });
});
