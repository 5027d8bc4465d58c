import * as webgpu from '@fa/webgpu';
import type { Spec } from '../sweep.js';

/**
 * Options that pass the checks without starting a device: registration is lazy, creation is not. Nested bags down
 * to a tile shape, so that a misspelt key is swept at every level.
 */
const options = () => [
  {
    checkErrors: true,
    tilingLimits: { workgroupStorageBytes: 16384, shapes: { forward: [{ wg: 64, bm: 32, bn: 32, rm: 2, km: 1 }] } },
  },
];

export const webgpuSpecs: Record<string, Spec> = {
  createWebGpuBackend: {
    kind: 'checked',
    call: webgpu.createWebGpuBackend,
    args: options,
    names: ['options'],
    // Omitted options are valid; where no adapter exists the call then rejects with E_BACKEND_UNAVAILABLE naming
    // `backend`, which is not this sweep's business.
    valid: { 0: [undefined, {}] },
  },
  registerWebGpuBackend: {
    kind: 'checked',
    call: webgpu.registerWebGpuBackend,
    args: options,
    names: ['options'],
    valid: { 0: [undefined, {}] },
  },
};
