import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFaError } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { ADDON_EXPORTS } from './addon.js';
import { cudaAvailability, findNvcc } from './availability.js';
import { createCudaBackend } from './backend.js';
import { buildOutputPath, loadAddon, prebuildPath, tryLoadAddon } from './loader.js';

const built = 'addon' in tryLoadAddon({ env: {} });
const emptyPackage = mkdtempSync(join(tmpdir(), 'fa-cuda-loader-'));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('loader', () => {
  it('reports every place it tried and concrete fixes when an explicit path does not exist', () => {
    const error = thrown(() =>
      loadAddon({ addonPath: '/nonexistent/fa_cuda.node', env: {}, packageDir: emptyPackage }),
    );
    expect(isFaError(error, 'E_BACKEND_UNAVAILABLE')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('addonPath option /nonexistent/fa_cuda.node: no file there');
    expect(message).toContain('pnpm --filter @fa/cuda build');
    expect(message).toContain('FA_CUDA_ADDON');
    expect(message).toContain('Check the path given by the addonPath option');
  });

  it('tries only an explicit choice (option over FA_CUDA_ADDON), else the build output and a prebuild', () => {
    const sources = (options: Parameters<typeof tryLoadAddon>[0]) => {
      const result = tryLoadAddon({ packageDir: emptyPackage, ...options });
      return 'attempts' in result ? result.attempts.map((a) => [a.source, a.path]) : [];
    };
    expect(sources({ addonPath: '/a/fa_cuda.node', env: { FA_CUDA_ADDON: '/b/fa_cuda.node' } })).toEqual([
      ['option', '/a/fa_cuda.node'],
    ]);
    expect(sources({ env: { FA_CUDA_ADDON: '/b/fa_cuda.node' } })).toEqual([['env', '/b/fa_cuda.node']]);
    expect(sources({ env: {} })).toEqual([
      ['build', buildOutputPath(emptyPackage)],
      ['prebuild', prebuildPath(emptyPackage)],
    ]);
    const error = thrown(() => loadAddon({ env: {}, packageDir: emptyPackage }));
    expect((error as Error).message).toContain(`package build output ${buildOutputPath(emptyPackage)}: no file there`);
    expect((error as Error).message).toContain(`prebuilt binary ${prebuildPath(emptyPackage)}: no file there`);
    const viaEnv = cudaAvailability({ env: { FA_CUDA_ADDON: '/b/fa_cuda.node' }, packageDir: emptyPackage });
    expect(viaEnv.available).toBe(false);
    expect(!viaEnv.available && viaEnv.reason).toBe('load-error');
    expect(!viaEnv.available && viaEnv.message).toContain('Check the path given by the FA_CUDA_ADDON');
  });

  it('reports a file that is not a loadable addon as a load error, with the loader message', () => {
    const bogus = join(emptyPackage, 'bogus.node');
    writeFileSync(bogus, 'not an ELF file');
    const result = tryLoadAddon({ addonPath: bogus, env: {}, packageDir: emptyPackage });
    expect('attempts' in result).toBe(true);
    const attempt = 'attempts' in result ? result.attempts[0] : undefined;
    expect(attempt?.failure).toBe('load-error');
    expect(attempt?.message.length).toBeGreaterThan(0);
    const availability = cudaAvailability({ addonPath: bogus, env: {}, packageDir: emptyPackage });
    expect(availability.available).toBe(false);
    expect(!availability.available && availability.reason).toBe('load-error');
  });

  it('reports a module that is not the fa_cuda addon as a load error', () => {
    const other = join(emptyPackage, 'other.cjs');
    writeFileSync(other, 'module.exports = { hello: 1 };');
    const result = tryLoadAddon({ addonPath: other, env: {}, packageDir: emptyPackage });
    expect('attempts' in result && result.attempts[0]?.message).toMatch(/not the fa_cuda addon \(missing alloc/);
  });

  it('refuses an addon built for another ABI version with a rebuild hint', () => {
    const stale = join(emptyPackage, 'stale.cjs');
    // Every export the loader requires, so that only the ABI version is wrong.
    writeFileSync(stale, `module.exports = { abiVersion: 0, ${ADDON_EXPORTS.map((f) => `${f}() {}`).join(', ')} };`);
    const result = tryLoadAddon({ addonPath: stale, env: {}, packageDir: emptyPackage });
    expect('attempts' in result && result.attempts[0]?.message).toMatch(/another version .* rebuild it/);
  });

  it('says not-built or no-toolkit when nothing was built, depending on whether nvcc exists', () => {
    const noBuild = mkdtempSync(join(tmpdir(), 'fa-cuda-nobuild-'));
    const withNvcc = cudaAvailability({ env: { PATH: '', CUDACXX: process.execPath }, packageDir: noBuild });
    expect(!withNvcc.available && withNvcc.reason).toBe('not-built');
    expect(!withNvcc.available && withNvcc.message).toContain('pnpm --filter @fa/cuda build');
    const fakeRoot = mkdtempSync(join(tmpdir(), 'fa-cuda-nonvcc-'));
    mkdirSync(join(fakeRoot, 'bin'));
    const env = { PATH: join(fakeRoot, 'bin'), CUDA_HOME: fakeRoot };
    if (findNvcc(env) === undefined) {
      const without = cudaAvailability({ env, packageDir: noBuild });
      expect(!without.available && without.reason).toBe('no-toolkit');
      expect(!without.available && without.message).toContain('Install the CUDA toolkit');
    }
  });

  it.skipIf(!built)('loads the built addon through FA_CUDA_ADDON and finds no device on this machine', () => {
    const path = buildOutputPath();
    const result = tryLoadAddon({ env: { FA_CUDA_ADDON: path }, packageDir: emptyPackage });
    expect('addon' in result && result.path).toBe(path);
    const availability = cudaAvailability({ env: {} });
    if (availability.available) return; // a machine with a GPU: nothing to check here
    expect(availability.reason).toBe('no-device');
    expect(availability.message).toMatch(/No CUDA device is usable: cuda\w+/);
    expect(availability.message).toContain('nvidia-smi');
    const error = thrown(() => createCudaBackend({ env: {} }));
    expect(isFaError(error, 'E_BACKEND_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toBe(availability.message);
  });
});
