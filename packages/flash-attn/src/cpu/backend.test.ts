import { type HostTensor, isFaError, resolveAttnProblem } from '@fa/core';
import { attnInputs } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createCpuBackendTuned } from './backend.js';
import { createCpuBackend } from './index.js';

const backend = createCpuBackend({ threads: 2 });

afterAll(async () => {
  await backend.destroy?.();
});

describe('the cpu backend contract', () => {
  it('describes itself', () => {
    expect(backend.name).toBe('cpu');
    expect(backend.capabilities).toEqual({
      dtypes: ['f32', 'f16', 'bf16'],
      maxHeadDim: 256,
      backward: true,
      dropout: true,
      deterministic: true,
      stridedInputs: true,
    });
    expect(backend.kernels).toBe('wasm-simd');
    expect(createCpuBackend({ simd: false }).kernels).toBe('js');
  });

  it('uploads and downloads copies, and disposing is harmless', async () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const handle = await backend.upload({ data, shape: [1, 2, 3], dtype: 'f32' });
    data[0] = 42;
    expect(handle.data[0]).toBe(1);
    const downloaded = await backend.download(handle, [1, 2, 3], 'f32');
    expect(Array.from(downloaded.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    (downloaded.data as Float32Array)[1] = 42;
    expect(handle.data[1]).toBe(2);
    expect(downloaded.shape).toEqual([1, 2, 3]);
    backend.dispose(handle);
    backend.dispose(handle);
    const bits = await backend.upload({ data: Uint16Array.from([0x3c00]), shape: [1, 1, 1], dtype: 'f16' });
    expect((await backend.download(bits, [1, 1, 1], 'f16')).data).toEqual(Uint16Array.from([0x3c00]));
  });

  it('rejects bad options with FaErrors', () => {
    for (const options of [{ threads: 0 }, { threads: 1.5 }, { threads: 'many' }, { simd: 'yes' }]) {
      let error: unknown;
      try {
        createCpuBackend(options as never);
      } catch (e) {
        error = e;
      }
      expect(isFaError(error) && error.code === 'E_VALUE', JSON.stringify(options)).toBe(true);
    }
  });

  it('rejects a misspelt option, naming it and the option meant', () => {
    expect(() => createCpuBackend({ thread: 2 } as never)).toThrow(
      expect.objectContaining({
        code: 'E_VALUE',
        argument: 'options.thread',
        message: expect.stringContaining('`threads`'),
      }),
    );
  });

  it('lets NaN through instead of hiding it', async () => {
    const { q, k, v, dout, options } = attnInputs({ name: 'nan', lengthsQ: [5, 7] }, 1);
    (q.data as Float32Array)[2 * 32 * 2] = Number.NaN; // query row 2, head 0
    const problem = resolveAttnProblem(q, k, v, options);
    for (const simd of [true, false]) {
      const cpu = createCpuBackend({ simd, threads: 1 });
      const { out, lse } = await cpu.forward(q, k, v, problem);
      expect(Number.isNaN((out.data as Float32Array)[2 * 2 * 32])).toBe(true);
      expect(Number.isNaN((lse.data as Float32Array)[2])).toBe(true);
      expect(Number.isNaN((out.data as Float32Array)[0])).toBe(false);
      const grads = await cpu.backward(dout, q, k, v, out, lse, problem);
      expect(Array.from(grads.dk.data as Float32Array).some(Number.isNaN)).toBe(true);
    }
  });

  it('serves calls issued concurrently, each with its own result', async () => {
    const inputs = [1, 2, 3].map((seed) =>
      attnInputs({ name: 'concurrent', lengthsQ: [90, 40], causal: seed === 2 }, seed),
    );
    const calls = inputs.map(({ q, k, v, options }) => backend.forward(q, k, v, resolveAttnProblem(q, k, v, options)));
    const together = await Promise.all(calls);
    for (const [i, { q, k, v, options }] of inputs.entries()) {
      const alone = await backend.forward(q, k, v, resolveAttnProblem(q, k, v, options));
      expect(together[i]?.out.data).toEqual(alone.out.data);
    }
  });

  it('keeps working after destroy, starting its workers again', async () => {
    const jobs: number[] = [];
    const cpu = createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0, onJob: (job) => jobs.push(job.threads) });
    const { q, k, v, options } = attnInputs({ name: 'again', lengthsQ: [70, 70] }, 3);
    const problem = resolveAttnProblem(q, k, v, options);
    const before: HostTensor = (await cpu.forward(q, k, v, problem)).out;
    await cpu.destroy?.();
    await cpu.destroy?.();
    const after: HostTensor = (await cpu.forward(q, k, v, problem)).out;
    await cpu.destroy?.();
    expect(after.data).toEqual(before.data);
    expect(jobs).toEqual([2, 2]);
  });
});
