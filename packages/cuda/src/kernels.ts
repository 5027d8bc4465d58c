import { checkKnownKeys, checkOptionsBag, describeValue, expectationError, optionKeys } from '@fa/core';

/**
 * Which kernel designs the backend runs. Every design is in every build, so that one GPU session can time them
 * against each other and against PyTorch (`scripts/bench.ts --kernels`); `fa2` is the default and the only one
 * meant for use, `baseline` is the first design, kept as the yardstick.
 */
export type CudaForwardKernel = 'fa2' | 'baseline';
export type CudaBackwardKernel = 'fa2' | 'baseline';

export interface CudaKernelOptions {
  /**
   * `fa2` (default): flash-attention 2's forward design: 128-row query tiles (32 rows per warp) at head dims up to
   * 128, fragments through `ldmatrix.x4`, compile-time specialisation on the mask and the score extras, the mask
   * applied only on tiles its boundary crosses, one barrier per key tile. `baseline`: the first design (64-row
   * tiles, 16 rows per warp, every feature a runtime branch on every tile). f32 runs the baseline either way.
   */
  readonly forward?: CudaForwardKernel;
  /** `fa2` (default) or `baseline`, as `forward`. */
  readonly backward?: CudaBackwardKernel;
  /** A/B switch: the fa2 designs apply the mask on every tile (default false: only where a boundary crosses). */
  readonly maskEveryTile?: boolean;
  /** A/B switch: false runs the fa2 designs' generic instantiation (every feature a runtime branch). Default true. */
  readonly specialise?: boolean;
  /**
   * A/B switch: false rescales the fa2 forward's output whenever a row's max grows; true (default) only when it grows
   * by more than 2^8 (flash-attention 4's conditional rescaling; the same result up to rounding).
   */
  readonly conditionalRescale?: boolean;
}

/** The codes the addon reads (csrc/params.h `FwdKernel`, `BwdKernel`, `TuningFlag`). */
export interface KernelChoice {
  readonly forwardKernel: number;
  readonly backwardKernel: number;
  readonly tuning: number;
}

const FORWARD_CODES: Readonly<Record<CudaForwardKernel, number>> = { baseline: 0, fa2: 1 };
const BACKWARD_CODES: Readonly<Record<CudaBackwardKernel, number>> = { baseline: 0, fa2: 1 };
const TUNE_MASK_EVERY_TILE = 1;
const TUNE_NO_SPECIALISE = 2;
const TUNE_ALWAYS_RESCALE = 4;

const KERNEL_OPTION_KEYS = optionKeys<CudaKernelOptions>()([
  'forward',
  'backward',
  'maskEveryTile',
  'specialise',
  'conditionalRescale',
]);

export const DEFAULT_KERNELS: KernelChoice = { forwardKernel: 1, backwardKernel: 1, tuning: 0 };
/** The code of the `baseline` design, forward and backward. */
export const BASELINE_KERNEL = 0;

function designCode<K extends string>(value: unknown, codes: Readonly<Record<K, number>>, argument: string): number {
  if (value === undefined) return 1;
  if (typeof value === 'string' && Object.hasOwn(codes, value)) return codes[value as K];
  const names = Object.keys(codes)
    .map((name) => `'${name}'`)
    .join(' or ');
  throw expectationError('E_VALUE', argument, names, describeValue(value));
}

function flag(value: unknown, argument: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  throw expectationError('E_VALUE', argument, 'a boolean', describeValue(value));
}

/** Checks `options.kernels` and turns it into the addon's codes; undefined means the defaults. */
export function resolveKernelChoice(kernels: unknown, argument = 'options.kernels'): KernelChoice {
  if (kernels === undefined) return DEFAULT_KERNELS;
  checkOptionsBag(
    kernels,
    argument,
    'an object { forward?, backward?, maskEveryTile?, specialise?, conditionalRescale? }',
  );
  checkKnownKeys(kernels, argument, KERNEL_OPTION_KEYS);
  const forwardKernel = designCode(kernels.forward, FORWARD_CODES, `${argument}.forward`);
  const backwardKernel = designCode(kernels.backward, BACKWARD_CODES, `${argument}.backward`);
  const maskEveryTile = flag(kernels.maskEveryTile, `${argument}.maskEveryTile`, false);
  const specialise = flag(kernels.specialise, `${argument}.specialise`, true);
  const conditionalRescale = flag(kernels.conditionalRescale, `${argument}.conditionalRescale`, true);
  const tuning =
    (maskEveryTile ? TUNE_MASK_EVERY_TILE : 0) |
    (specialise ? 0 : TUNE_NO_SPECIALISE) |
    (conditionalRescale ? 0 : TUNE_ALWAYS_RESCALE);
  return { forwardKernel, backwardKernel, tuning };
}
