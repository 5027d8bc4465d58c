import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FaCudaAddon } from '../src/addon.js';
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
