import { type AttnProblem, describeValue, expectationError, type FloatDType, lowerProblem } from '@fa/core';
import type { AddonProblemArgs } from './addon.js';
import { DEFAULT_KERNELS, type KernelChoice } from './kernels.js';
import { checkProblem } from './options.js';

/** The addon's dtype codes (csrc/params.h `DType`). */
export const DTYPE_CODES: Readonly<Record<FloatDType, number>> = { f32: 0, f16: 1, bf16: 2 };

/**
 * Flattens core's kernel plan of a validated problem into the addon's argument object: dropout as core's integer
 * threshold and the seed as Philox's two key words, so the kernels make exactly core's keep/drop decisions, and
 * the layouts of q, k and v, so that views of a packed qkv/kv reach the kernels as they are.
 */
export function packProblem(
  problem: AttnProblem,
  device: number,
  tiles: Int32Array,
  kernels: KernelChoice = DEFAULT_KERNELS,
): AddonProblemArgs {
  checkProblem(problem);
  if (!(typeof device === 'number' && Number.isInteger(device) && device >= 0 && device <= 2147483647)) {
    throw expectationError('E_VALUE', 'device', 'a non-negative device index', describeValue(device));
  }
  if (!(tiles instanceof Int32Array)) {
    throw expectationError('E_VALUE', 'tiles', 'an Int32Array work list', describeValue(tiles));
  }
  const plan = lowerProblem(problem);
  const { layouts } = plan;
  return {
    device,
    dtype: DTYPE_CODES[plan.dtype],
    batch: plan.batch,
    totalQ: plan.totalQ,
    totalK: plan.totalK,
    numHeads: plan.numHeads,
    numHeadsK: plan.numHeadsK,
    headDim: plan.headDim,
    headDimV: plan.headDimV,
    softmaxScale: plan.scores.softmaxScale,
    softcap: plan.scores.softcap,
    windowLeft: plan.scores.windowLeft,
    windowRight: plan.scores.windowRight,
    dropout: plan.dropout.enabled,
    dropoutThreshold: plan.dropout.threshold,
    keepScale: plan.dropout.keepScale,
    seedLo: plan.dropout.seedLo,
    seedHi: plan.dropout.seedHi,
    cuSeqlensQ: plan.cuSeqlensQ,
    cuSeqlensK: plan.cuSeqlensK,
    alibiSlopes: plan.scores.alibiSlopes,
    qOffset: layouts.q.offset,
    qTokenStride: layouts.q.tokenStride,
    qHeadStride: layouts.q.headStride,
    kOffset: layouts.k.offset,
    kTokenStride: layouts.k.tokenStride,
    kHeadStride: layouts.k.headStride,
    vOffset: layouts.v.offset,
    vTokenStride: layouts.v.tokenStride,
    vHeadStride: layouts.v.headStride,
    tiles,
    deterministic: plan.deterministic,
    forwardKernel: kernels.forwardKernel,
    backwardKernel: kernels.backwardKernel,
    tuning: kernels.tuning,
  };
}
