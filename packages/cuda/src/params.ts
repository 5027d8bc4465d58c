import {
  type AttnProblem,
  describeValue,
  dropoutThreshold,
  expectationError,
  type FloatDType,
  splitSeed,
} from '@fa/core';
import type { AddonProblemArgs } from './addon.js';
import { checkProblem } from './options.js';

/** The addon's dtype codes (csrc/params.h `DType`). */
export const DTYPE_CODES: Readonly<Record<FloatDType, number>> = { f32: 0, f16: 1, bf16: 2 };

/**
 * Flattens a validated problem into the addon's argument object: dropout as core's integer threshold and the
 * seed as Philox's two key words, so the kernels make exactly core's keep/drop decisions.
 */
export function packProblem(problem: AttnProblem, device: number, tiles: Int32Array): AddonProblemArgs {
  checkProblem(problem);
  if (!(typeof device === 'number' && Number.isInteger(device) && device >= 0 && device <= 2147483647)) {
    throw expectationError('E_VALUE', 'device', 'a non-negative device index', describeValue(device));
  }
  if (!(tiles instanceof Int32Array)) {
    throw expectationError('E_VALUE', 'tiles', 'an Int32Array work list', describeValue(tiles));
  }
  const dropout = problem.dropoutP > 0;
  const seed = splitSeed(problem.seed);
  return {
    device,
    dtype: DTYPE_CODES[problem.dtype],
    batch: problem.batch,
    totalQ: problem.totalQ,
    totalK: problem.totalK,
    numHeads: problem.numHeads,
    numHeadsK: problem.numHeadsK,
    headDim: problem.headDim,
    headDimV: problem.headDimV,
    softmaxScale: problem.softmaxScale,
    softcap: problem.softcap,
    windowLeft: problem.windowLeft,
    windowRight: problem.windowRight,
    dropout,
    dropoutThreshold: dropout ? dropoutThreshold(problem.dropoutP) : 0,
    keepScale: dropout ? 1 / (1 - problem.dropoutP) : 1,
    seedLo: seed.lo,
    seedHi: seed.hi,
    cuSeqlensQ: problem.cuSeqlensQ,
    cuSeqlensK: problem.cuSeqlensK,
    alibiSlopes: problem.alibiSlopes,
    tiles,
    deterministic: problem.deterministic,
  };
}
