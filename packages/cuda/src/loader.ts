import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaError } from '@fa/core';
import { ADDON_ABI_VERSION, ADDON_EXPORTS, type FaCudaAddon } from './addon.js';
import { checkCudaOptions, type LoaderOptions } from './options.js';

/** Why one place did not yield an addon. */
export interface LoadAttempt {
  readonly path: string;
  readonly source: 'option' | 'env' | 'build' | 'prebuild';
  /** 'missing': no file there; 'load-error': the file did not load or is not this addon (or is stale). */
  readonly failure: 'missing' | 'load-error';
  readonly message: string;
}

export interface LoadedAddon {
  readonly addon: FaCudaAddon;
  readonly path: string;
}

/** This package's root: src/ or dist/ sit one level below it. */
export function defaultPackageDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

export function buildOutputPath(packageDir: string = defaultPackageDir()): string {
  return join(packageDir, 'build', 'Release', 'fa_cuda.node');
}

/** Where a prebuilt binary for this platform would sit inside the package (none ship yet; the slot is reserved). */
export function prebuildPath(packageDir: string = defaultPackageDir()): string {
  return join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`, 'fa_cuda.node');
}

/**
 * An explicit choice (the option, else FA_CUDA_ADDON) is the only place tried: a user who names a binary must
 * never silently get another one. Otherwise the package's own build output, then a prebuild.
 */
function candidates(options: LoaderOptions): { path: string; source: LoadAttempt['source'] }[] {
  const env = options.env ?? process.env;
  if (options.addonPath !== undefined) return [{ path: resolve(options.addonPath), source: 'option' }];
  const fromEnv = env.FA_CUDA_ADDON;
  if (fromEnv) return [{ path: resolve(fromEnv), source: 'env' }];
  return [
    { path: buildOutputPath(options.packageDir), source: 'build' },
    { path: prebuildPath(options.packageDir), source: 'prebuild' },
  ];
}

function checkAddon(value: unknown): string | null {
  if (value === null || typeof value !== 'object') return 'it exports no object';
  const addon = value as Partial<FaCudaAddon>;
  const missing = ADDON_EXPORTS.filter((name) => typeof addon[name] !== 'function');
  if (missing.length > 0) return `it is not the fa_cuda addon (missing ${missing.join(', ')})`;
  if (addon.abiVersion !== ADDON_ABI_VERSION) {
    return `it was built from another version of @fa/cuda (ABI ${String(addon.abiVersion)}, expected ${ADDON_ABI_VERSION}); rebuild it`;
  }
  return null;
}

function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

/**
 * Tries each place the addon may be: `options.addonPath` or else `$FA_CUDA_ADDON` when given (and then only that),
 * otherwise the package's build output and a prebuild. Returns the first that loads, or reports every attempt.
 */
export function tryLoadAddon(options: LoaderOptions = {}): LoadedAddon | { attempts: LoadAttempt[] } {
  const attempts: LoadAttempt[] = [];
  const require = createRequire(import.meta.url);
  for (const { path, source } of candidates(options)) {
    if (!existsSync(path)) {
      attempts.push({ path, source, failure: 'missing', message: 'no file there' });
      continue;
    }
    let loaded: unknown;
    try {
      loaded = require(path);
    } catch (error) {
      attempts.push({ path, source, failure: 'load-error', message: describeError(error) });
      continue;
    }
    const problem = checkAddon(loaded);
    if (problem) {
      attempts.push({ path, source, failure: 'load-error', message: problem });
      continue;
    }
    return { addon: loaded as FaCudaAddon, path };
  }
  return { attempts };
}

const SOURCE_LABEL: Record<LoadAttempt['source'], string> = {
  option: 'addonPath option',
  env: 'FA_CUDA_ADDON',
  build: 'package build output',
  prebuild: 'prebuilt binary',
};

/** Concrete ways out, for the error message and `cudaAvailability()`. */
export function loaderFixes(attempts: readonly LoadAttempt[]): string[] {
  const fixes: string[] = [];
  const explicit = attempts.filter((a) => (a.source === 'option' || a.source === 'env') && a.failure === 'missing');
  for (const a of explicit)
    fixes.push(`Check the path given by the ${SOURCE_LABEL[a.source]}: ${a.path} does not exist.`);
  if (attempts.some((a) => a.failure === 'load-error' && /GLIBC|GLIBCXX|cannot open shared object/.test(a.message))) {
    fixes.push("Rebuild the addon on this machine (its libraries differ from the build machine's).");
  }
  fixes.push(
    'Build the addon: `pnpm --filter @fa/cuda build` (or `node node_modules/@fa/cuda/scripts/build-addon.mjs`); it needs the CUDA toolkit (nvcc >= 12.0) and CMake >= 3.18.',
  );
  fixes.push(
    'Or point at a prebuilt fa_cuda.node: createCudaBackend({ addonPath }) or FA_CUDA_ADDON=/path/to/fa_cuda.node.',
  );
  return fixes;
}

export function formatAttempts(attempts: readonly LoadAttempt[]): string {
  return attempts.map((a) => `  - ${SOURCE_LABEL[a.source]} ${a.path}: ${a.message}`).join('\n');
}

/** Loads the addon or throws one `E_BACKEND_UNAVAILABLE` error listing every place tried and what to do. */
export function loadAddon(options: LoaderOptions = {}): LoadedAddon {
  checkCudaOptions(options);
  const result = tryLoadAddon(options);
  if ('addon' in result) return result;
  const fixes = loaderFixes(result.attempts).map((f) => `  * ${f}`);
  throw new FaError(
    'E_BACKEND_UNAVAILABLE',
    `The CUDA addon (fa_cuda.node) could not be loaded. Tried:\n${formatAttempts(result.attempts)}\nTo fix:\n${fixes.join('\n')}`,
    { argument: 'addonPath' },
  );
}
