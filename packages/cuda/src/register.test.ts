import { getBackend, isFaError, listBackends, unregisterBackend } from '@fa/core';
import { flashAttnVarlen, resolveBackend, tensor } from '@fa/flash-attn';
import { afterAll, describe, expect, it } from 'vitest';
import { CUDA_PRIORITY, cudaAvailability, registerCudaBackend } from './index.js';
import { loadAddon } from './loader.js';

const availability = cudaAvailability();

describe('registration', () => {
  afterAll(() => {
    unregisterBackend('cuda');
  });

  it('registers above webgpu (10) and cpu (0) without loading anything', () => {
    registerCudaBackend({ addonPath: '/nonexistent/fa_cuda.node' });
    const entry = listBackends().find((b) => b.name === 'cuda');
    expect(entry?.priority).toBe(CUDA_PRIORITY);
    expect(CUDA_PRIORITY).toBeGreaterThan(10);
  });

  it('rejects a misspelt option before anything loads, naming it and the option meant; env may hold any key', () => {
    for (const call of [registerCudaBackend, cudaAvailability, loadAddon]) {
      expect(() => call({ adonPath: '/nonexistent/fa_cuda.node' } as never)).toThrow(
        expect.objectContaining({
          code: 'E_VALUE',
          argument: 'options.adonPath',
          message: expect.stringContaining('did you mean `addonPath`?'),
        }),
      );
    }
    expect(() => registerCudaBackend({ env: { FA_CUDA_ADDONN: 'x', anything: 'y' } })).not.toThrow();
  });

  it('fails to start with every place the loader tried when the addon is missing', async () => {
    registerCudaBackend({ addonPath: '/nonexistent/fa_cuda.node' });
    const error = await getBackend('cuda').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFaError(error, 'E_BACKEND_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('/nonexistent/fa_cuda.node: no file there');
  });

  it.skipIf(availability.available)(
    `the façade falls back to the next backend and results are right (${availability.available ? 'skipped: a GPU is here' : availability.reason})`,
    async () => {
      registerCudaBackend();
      const cu = Int32Array.of(0, 2, 2, 5);
      const q = tensor(
        Float32Array.from({ length: 5 * 2 * 8 }, (_, i) => Math.sin(i)),
        [5, 2, 8],
      );
      const kv = tensor(
        Float32Array.from({ length: 5 * 1 * 8 }, (_, i) => Math.cos(i)),
        [5, 1, 8],
      );
      const { out, lse } = await flashAttnVarlen(q, kv, kv, { cuSeqlensQ: cu, cuSeqlensK: cu, causal: true });
      expect(out.backend).not.toBe('cuda');
      expect((await resolveBackend()).name).toBe(out.backend);
      const values = await out.toArray();
      expect(values.every(Number.isFinite)).toBe(true);
      expect((await lse.toArray()).length).toBe(2 * 5);
      out.dispose();
      lse.dispose();
    },
  );
});
