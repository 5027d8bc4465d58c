import { registerBackend } from '@fa/core';
import type { CudaBackendOptions } from './backend.js';
import { checkCudaOptions } from './options.js';

/** Above `webgpu` (10) and `cpu` (0): a CUDA GPU, when present, is the fastest backend of the library. */
export const CUDA_PRIORITY = 20;

/**
 * Registers the `cuda` backend with priority 20. Nothing loads until the backend is first used; on a machine
 * without the addon or a GPU, it then fails with the reason and automatic selection falls back to the next
 * backend (`resolveBackend` lists why each one it skipped could not start).
 */
export function registerCudaBackend(options: CudaBackendOptions = {}): void {
  checkCudaOptions(options);
  registerBackend('cuda', async () => (await import('./backend.js')).createCudaBackend(options), {
    priority: CUDA_PRIORITY,
  });
}
