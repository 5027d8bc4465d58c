import { registerBackend } from '@fa/core';
import { checkWebGpuOptions, type WebGpuBackendOptions } from './options.js';

/**
 * Registers the `webgpu` backend with priority 10 (above `cpu`). Nothing starts until the backend is first
 * used; the kernels' module is loaded then too.
 */
export function registerWebGpuBackend(options: WebGpuBackendOptions = {}): void {
  checkWebGpuOptions(options);
  registerBackend('webgpu', async () => (await import('./backend.js')).createWebGpuBackend(options), { priority: 10 });
}
