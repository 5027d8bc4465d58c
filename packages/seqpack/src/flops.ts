import { type CuSeqlensInput, optionKeys } from '@fa/core';
import { checkInteger, checkOptions } from './validate.js';
import { resolveVarlenMask } from './varlen-problem.js';

export interface AttentionFlopsOptions {
  /** An `Int32Array` or plain integers, as everywhere cu_seqlens are taken. */
  readonly cuSeqlensQ: CuSeqlensInput;
  readonly cuSeqlensK: CuSeqlensInput;
  readonly numHeads: number;
  readonly headDim: number;
  readonly causal?: boolean;
}

const FLOPS_OPTION_KEYS = optionKeys<AttentionFlopsOptions>()([
  'cuSeqlensQ',
  'cuSeqlensK',
  'numHeads',
  'headDim',
  'causal',
]);

/**
 * Forward FLOPs of varlen attention by the convention of flash-attention's benchmarks: two matmuls (`QKᵀ` and
 * `PV`) at 2 FLOPs per multiply-add, `4 · Σ_b Lq_b · Lk_b · numHeads · headDim`, halved when causal. Softmax is
 * not counted, and the halving is the benchmark's approximation (exact only as Lq = Lk grows), kept so that
 * throughputs compare with published numbers; `tileMap(...).counts.visibleScores` has the exact score count.
 * Backward passes are conventionally counted as 2.5 × forward.
 */
export function attentionFlops(options: AttentionFlopsOptions): number {
  const { cuSeqlensQ, cuSeqlensK, perScore } = resolveFlops(options);
  let scores = 0;
  for (let b = 0; b + 1 < cuSeqlensQ.length; b++) {
    const seqlenQ = (cuSeqlensQ[b + 1] as number) - (cuSeqlensQ[b] as number);
    const seqlenK = (cuSeqlensK[b + 1] as number) - (cuSeqlensK[b] as number);
    scores += seqlenQ * seqlenK;
  }
  return scores * perScore;
}

/** `attentionFlops` of the same batch padded to `batch × maxLq × maxLk`: what a padded kernel spends. */
export function paddedAttentionFlops(options: AttentionFlopsOptions): number {
  const { batch, maxSeqlenQ, maxSeqlenK, perScore } = resolveFlops(options);
  return batch * maxSeqlenQ * maxSeqlenK * perScore;
}

function resolveFlops(options: AttentionFlopsOptions) {
  const opts = checkOptions(
    options,
    'options',
    'an options object { cuSeqlensQ, cuSeqlensK, numHeads, headDim, causal? }',
    FLOPS_OPTION_KEYS,
  );
  const numHeads = checkInteger(opts.numHeads, 'numHeads', 1);
  const headDim = checkInteger(opts.headDim, 'headDim', 1);
  const problem = resolveVarlenMask(opts.cuSeqlensQ, opts.cuSeqlensK, opts.causal, undefined);
  return { ...problem, perScore: (4 * numHeads * headDim) / (problem.causal ? 2 : 1) };
}
