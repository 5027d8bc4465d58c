import { checkKnownKeys, checkOptionsBag, describeValue, expectationError, optionKeys } from '@fa/core';
import type { DeviceSource } from './gpu/device.js';
import { type KernelKind, type TileShape, type TilingLimits, tileShapeProblem } from './plan/config.js';

export interface WebGpuBackendOptions extends DeviceSource {
  /**
   * Caps on the limits the tiling may use, below the device's own: e.g. `{ workgroupStorageBytes: 16384 }` runs
   * the tiles every WebGPU device supports. Mostly for tests and tuning.
   */
  readonly tilingLimits?: Partial<Omit<TilingLimits, 'subgroupWidth'>>;
  /**
   * Check every call for WebGPU validation and out-of-memory errors and throw them (default true). Costs one
   * round trip to the device's error queue per call.
   */
  readonly checkErrors?: boolean;
  /**
   * Use subgroup operations where the device offers them and they pass the layout check of gpu/subgroups.ts
   * (default true). `false` keeps every reduction in workgroup memory; the results are the same bits either way.
   */
  readonly subgroups?: boolean;
}

type TilingLimitsOption = NonNullable<WebGpuBackendOptions['tilingLimits']>;

const OPTION_KEYS = optionKeys<WebGpuBackendOptions>()([
  'device',
  'adapter',
  'gpu',
  'tilingLimits',
  'checkErrors',
  'subgroups',
]);
const TILING_LIMIT_KEYS = optionKeys<TilingLimitsOption>()([
  'workgroupStorageBytes',
  'invocations',
  'minChunk',
  'shapes',
  'vec4',
]);
const KINDS = optionKeys<Record<KernelKind, unknown>>()(['forward', 'dq', 'dkdv']);
const TILE_SHAPE_KEYS = optionKeys<TileShape>()(['wg', 'bm', 'bn', 'rm', 'km']);

/** The tiling limits that are counts. */
const COUNT_LIMITS = ['workgroupStorageBytes', 'invocations', 'minChunk'] as const;

/** Duck-typed: browsers and Dawn each have their own classes for these objects. */
function checkHasMethod(value: unknown, argument: string, method: string, what: string): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || typeof (value as Record<string, unknown>)[method] !== 'function') {
    throw expectationError('E_VALUE', argument, what, describeValue(value));
  }
}

/** Checks the backend's options where they are given, so a typo fails at registration rather than at first use. */
export function checkWebGpuOptions(options: unknown): asserts options is WebGpuBackendOptions {
  checkOptionsBag(
    options,
    'options',
    'an options object { device?, adapter?, gpu?, tilingLimits?, checkErrors?, subgroups? }',
  );
  checkKnownKeys(options, 'options', OPTION_KEYS);
  checkHasMethod(options.device, 'options.device', 'createBuffer', 'a GPUDevice');
  checkHasMethod(options.adapter, 'options.adapter', 'requestDevice', 'a GPUAdapter');
  checkHasMethod(options.gpu, 'options.gpu', 'requestAdapter', 'a GPU (navigator.gpu)');
  for (const key of ['checkErrors', 'subgroups'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw expectationError('E_VALUE', `options.${key}`, 'a boolean', describeValue(options[key]));
    }
  }
  const limits = options.tilingLimits;
  if (limits === undefined) return;
  checkOptionsBag(
    limits,
    'options.tilingLimits',
    'an object { workgroupStorageBytes?, invocations?, minChunk?, shapes?, vec4? }',
  );
  checkKnownKeys(limits, 'options.tilingLimits', TILING_LIMIT_KEYS);
  for (const key of COUNT_LIMITS) {
    const value = limits[key];
    if (value !== undefined && !(typeof value === 'number' && Number.isSafeInteger(value) && value > 0)) {
      throw expectationError('E_VALUE', `options.tilingLimits.${key}`, 'a positive integer', describeValue(value));
    }
  }
  if (limits.vec4 !== undefined && typeof limits.vec4 !== 'boolean') {
    throw expectationError('E_VALUE', 'options.tilingLimits.vec4', 'a boolean', describeValue(limits.vec4));
  }
  if (limits.shapes !== undefined) checkShapes(limits.shapes);
}

function checkShapes(shapes: unknown): void {
  checkOptionsBag(shapes, 'options.tilingLimits.shapes', 'an object { forward?, dq?, dkdv? } of tile shape arrays');
  checkKnownKeys(shapes, 'options.tilingLimits.shapes', KINDS);
  for (const kind of KINDS) {
    const list = (shapes as Record<string, unknown>)[kind];
    if (list === undefined) continue;
    const argument = `options.tilingLimits.shapes.${kind}`;
    if (!Array.isArray(list) || list.length === 0) {
      throw expectationError('E_VALUE', argument, 'a non-empty array of { wg, bm, bn, rm, km }', describeValue(list));
    }
    list.forEach((shape: unknown, index) => {
      checkOptionsBag(shape, `${argument}[${index}]`, 'a tile shape { wg, bm, bn, rm, km }');
      checkKnownKeys(shape, `${argument}[${index}]`, TILE_SHAPE_KEYS);
      const problem = tileShapeProblem(kind, shape as unknown as TileShape);
      if (problem) {
        throw expectationError(
          'E_VALUE',
          `${argument}[${index}]`,
          `a shape the kernels can run (${problem})`,
          describeValue(shape),
        );
      }
    });
  }
}
