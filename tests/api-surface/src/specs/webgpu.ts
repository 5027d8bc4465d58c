import * as webgpu from '@fa/webgpu';
import type { Spec } from '../sweep.js';

/** Options that pass the checks without starting a device: registration is lazy, creation is not. */
const options = () => [{ checkErrors: true, tilingLimits: { workgroupStorageBytes: 16384 } }];

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
