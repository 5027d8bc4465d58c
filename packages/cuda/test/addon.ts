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
 * Dtypes of the bad-input sweep's "unusual but valid calls" for this backend: f32 only. That property draws
 * outputs of 1–6 elements and allows twice the same-precision reference's error; with so few elements the
 * reference is sometimes nearly exact by luck, and a tensor-core kernel, which rounds P to 16 bits relative to
 * the running row max (as flash-attention does) rather than after normalising, then lands one 16-bit step
 * away: seen once in about 2000 f16 calls on the emulator (f16, Dv = 1, two rows, error 2.1e-4 against an
 * allowed 6e-5). f16/bf16 numerics are covered by the conformance suite's larger cases.
 */
export const BAD_INPUT_DTYPES = ['f32'] as const;

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
