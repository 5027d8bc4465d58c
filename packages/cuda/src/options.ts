import { checkKnownKeys, checkOptionsBag, describeValue, expectationError, optionKeys } from '@fa/core';

export interface LoaderOptions {
  /** A prebuilt `fa_cuda.node` to load; tried first. */
  readonly addonPath?: string;
  /** Environment to read `FA_CUDA_ADDON` from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** @internal Where the package's own build output lives (tests point it elsewhere). */
  readonly packageDir?: string;
}

export interface CudaAvailabilityOptions extends LoaderOptions {
  /** Which CUDA device to use (default 0). */
  readonly deviceIndex?: number;
}

/** `env` is one of them, but not a bag of options: an environment such as process.env holds any keys. */
const OPTION_KEYS = optionKeys<CudaAvailabilityOptions>()(['addonPath', 'deviceIndex', 'env', 'packageDir']);

/**
 * Checks the loader/backend options where they are given: a typo must not read as "the addon is missing".
 * `extraKeys`: keys the caller checks itself (the backend's `kernels`).
 */
export function checkCudaOptions(
  options: unknown,
  extraKeys: readonly string[] = [],
): asserts options is CudaAvailabilityOptions {
  checkOptionsBag(options, 'options', 'an options object { addonPath?, deviceIndex?, env? }');
  checkKnownKeys(options, 'options', [...OPTION_KEYS, ...extraKeys]);
  for (const key of ['addonPath', 'packageDir'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
      throw expectationError('E_VALUE', `options.${key}`, 'a non-empty path', describeValue(value));
    }
  }
  const { deviceIndex, env } = options;
  if (
    deviceIndex !== undefined &&
    !(typeof deviceIndex === 'number' && Number.isInteger(deviceIndex) && deviceIndex >= 0 && deviceIndex <= 2147483647)
  ) {
    throw expectationError('E_VALUE', 'options.deviceIndex', 'a non-negative integer', describeValue(deviceIndex));
  }
  if (env !== undefined) checkOptionsBag(env, 'options.env', 'an environment object such as process.env');
}

/** A positive tile extent: zero would make a work-list loop never advance. */
export function checkTileExtent(value: unknown, argument: string): number {
  if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= 65536)) {
    throw expectationError('E_VALUE', argument, 'an integer in [1, 65536]', describeValue(value));
  }
  return value;
}

/** A problem as `resolveAttnProblem` makes it; the work lists and the addon read its offsets directly. */
export function checkProblem(problem: unknown): void {
  const p = problem as { cuSeqlensQ?: unknown; cuSeqlensK?: unknown; batch?: unknown } | null;
  const ok =
    p !== null &&
    typeof p === 'object' &&
    p.cuSeqlensQ instanceof Int32Array &&
    p.cuSeqlensK instanceof Int32Array &&
    typeof p.batch === 'number' &&
    p.batch === p.cuSeqlensQ.length - 1 &&
    p.batch === p.cuSeqlensK.length - 1;
  if (!ok) {
    throw expectationError('E_VALUE', 'problem', 'an AttnProblem made by resolveAttnProblem', describeValue(problem));
  }
}
