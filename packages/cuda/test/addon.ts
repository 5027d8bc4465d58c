import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AttentionBackend } from '@fa/core';
import type { DeviceBuffer, FaCudaAddon } from '../src/addon.js';
import type { CudaBackend } from '../src/backend.js';
import { buildOutputPath, defaultPackageDir, tryLoadAddon } from '../src/loader.js';

/**
 * The built addon for tests that call it directly, or the reason it is absent. With FA_REQUIRE_CUDA_BUILD=1 (CI)
 * an absent addon is a failure, asserted in build.test.ts; elsewhere those tests skip with this reason.
 */
export const required = process.env.FA_REQUIRE_CUDA_BUILD === '1';

const loaded = tryLoadAddon({ env: {} });

export const addon: FaCudaAddon | undefined = 'addon' in loaded ? loaded.addon : undefined;

export const missingReason =
  'attempts' in loaded
    ? `the addon is not built (${buildOutputPath()}: ${loaded.attempts[0]?.message}); run \`pnpm --filter @fa/cuda build\``
    : '';

/** The CPU emulator build of the same sources (csrc/emu), when it was built. */
export const emulatorPath: string | undefined = (() => {
  const path = join(defaultPackageDir(), 'build', 'emu', 'Release', 'fa_cuda_emu.node');
  return existsSync(path) ? path : undefined;
})();

export const emulatorMissingReason =
  'the CPU emulator of the kernels is not built; run `FA_CUDA_EMULATOR=1 pnpm --filter @fa/cuda build`';

/**
 * The same backend with `deterministic: true` forced on every call, so one conformance run covers the dQ-kernel
 * backward and another (the default) the atomic-dQ one.
 */
export function forcingDeterministic(backend: CudaBackend): AttentionBackend<DeviceBuffer> {
  return {
    name: `${backend.name}-deterministic`,
    capabilities: backend.capabilities,
    upload: (tensor) => backend.upload(tensor),
    download: (handle, shape, dtype) => backend.download(handle, shape, dtype),
    dispose: (handle) => backend.dispose(handle),
    forward: (q, k, v, problem) => backend.forward(q, k, v, { ...problem, deterministic: true }),
    backward: (dout, q, k, v, out, lse, problem) =>
      backend.backward(dout, q, k, v, out, lse, { ...problem, deterministic: true }),
    destroy: () => backend.destroy(),
  };
}
