import { type AttnProblem, resolveAttnProblem, type TensorMeta } from '@fa/core';

export type VarlenMask = Pick<
  AttnProblem,
  'batch' | 'cuSeqlensQ' | 'cuSeqlensK' | 'maxSeqlenQ' | 'maxSeqlenK' | 'causal' | 'windowLeft' | 'windowRight'
>;

/**
 * Validates a pair of cu_seqlens and resolves `causal`/`windowSize` through core's `resolveAttnProblem`, with
 * stand-in single-head tensors: tile maps and FLOP counts then see exactly the problem a kernel would, with the
 * same errors for the same mistakes, instead of a second copy of the rules.
 */
export function resolveVarlenMask(
  cuSeqlensQ: unknown,
  cuSeqlensK: unknown,
  causal: unknown,
  windowSize: unknown,
): VarlenMask {
  const tokens = (cu: unknown): TensorMeta => ({
    shape: [cu instanceof Int32Array && cu.length > 0 ? (cu[cu.length - 1] as number) : 0, 1, 1],
    dtype: 'f32',
  });
  return resolveAttnProblem(tokens(cuSeqlensQ), tokens(cuSeqlensK), tokens(cuSeqlensK), {
    cuSeqlensQ: cuSeqlensQ as Int32Array,
    cuSeqlensK: cuSeqlensK as Int32Array,
    causal: causal as boolean | undefined,
    windowSize: windowSize as readonly [number, number] | undefined,
  });
}
