import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addon, emulatorMissingReason, emulatorPath, missingReason, required } from '../test/addon.js';
import { fatbinEntries } from '../test/fatbin.js';
import { ADDON_ABI_VERSION, ADDON_EXPORTS } from './addon.js';
import { buildOutputPath } from './loader.js';

/**
 * What CI (FA_REQUIRE_CUDA_BUILD=1, nvcc but no GPU) must prove about the build: the addon exists, loads,
 * exports the binding, and holds device code for sm_80 and sm_90. Elsewhere, a missing build skips with the reason.
 */
const defaultArchs = (process.env.FA_CUDA_ARCHS ?? '80;90') === '80;90';

describe('addon build', () => {
  it.runIf(required)('the addon was built (FA_REQUIRE_CUDA_BUILD=1)', () => {
    expect(existsSync(buildOutputPath()), missingReason).toBe(true);
    expect(addon, missingReason).toBeDefined();
  });

  it.runIf(required)('the CPU emulator of the kernels was built (FA_REQUIRE_CUDA_BUILD=1)', () => {
    expect(emulatorPath, emulatorMissingReason).toBeDefined();
  });

  it.skipIf(!addon)(`exports the binding${addon ? '' : ` (skipped: ${missingReason})`}`, () => {
    expect(addon?.abiVersion).toBe(ADDON_ABI_VERSION);
    for (const name of ADDON_EXPORTS) expect(typeof addon?.[name], name).toBe('function');
    for (const name of ['philox', 'dropoutKeep', 'keySpan', 'rowSpan', 'gemmLayout'] as const) {
      expect(typeof addon?.selftest[name], name).toBe('function');
    }
  });

  it.skipIf(!addon || !defaultArchs)(
    `holds sm_80 and sm_90 cubins and PTX for both${addon ? '' : ` (skipped: ${missingReason})`}`,
    () => {
      expect(addon?.archs).toBe('80,90');
      const entries = fatbinEntries(buildOutputPath());
      const archsOf = (kind: string) => [...new Set(entries.filter((e) => e.kind === kind).map((e) => e.arch))].sort();
      expect(archsOf('cubin')).toEqual([80, 90]);
      expect(archsOf('ptx')).toEqual([80, 90]);
      // Every translation unit with kernels carries both: one cubin per (unit, arch), none empty.
      const cubins = entries.filter((e) => e.kind === 'cubin');
      expect(cubins.filter((e) => e.arch === 80).length).toBe(cubins.filter((e) => e.arch === 90).length);
      expect(cubins.every((e) => e.bytes > 0)).toBe(true);
      // The kernels are in there: the three dtype units are the large ones (the rest hold no kernels).
      expect(cubins.filter((e) => e.bytes > 1_000_000).length).toBe(6);
    },
  );
});
