import { type AttnProblem, resolveAttnProblem, resolveCuSeqlens, type TensorMeta } from '@fa/core';

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
  // Converted here (plain arrays included) so that the stand-in tensors can take their token counts from them.
  const offsetsQ = resolveCuSeqlens(cuSeqlensQ, 'cuSeqlensQ');
  const offsetsK = resolveCuSeqlens(cuSeqlensK, 'cuSeqlensK');
  const tokens = (cu: Int32Array): TensorMeta => ({ shape: [cu[cu.length - 1] as number, 1, 1], dtype: 'f32' });
  return resolveAttnProblem(tokens(offsetsQ), tokens(offsetsK), tokens(offsetsK), {
    cuSeqlensQ: offsetsQ,
    cuSeqlensK: offsetsK,
    causal: causal as boolean | undefined,
    windowSize: windowSize as readonly [number, number] | undefined,
  });
}
