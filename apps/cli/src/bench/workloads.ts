import {
  type Batch,
  forwardFlops,
  type LengthStats,
  lengthStats,
  type PaddingStats,
  paddingStats,
  seededRandom,
  skewedBatch,
  uniformBatch,
} from '../workload.js';

/**
 * The benchmark's workloads: one token budget T, laid out two ways, uniform (T/512 sequences of 512, or 8 equal
 * ones when T is small) and skewed (lognormal lengths of the same total, a heavy tail of a few long documents
 * among many short ones, as packing real corpora produces), each causal and not, at H = 8, D = 64; plus both
 * layouts at D = 128 (causal). The skewed batch is where padding costs most and packing pays.
 */

export interface BenchWorkload {
  readonly id: string;
  readonly label: string;
  readonly distribution: 'uniform' | 'lognormal';
  /** How the lengths were made, enough to rebuild them: the sequence count, or the lognormal and its seed. */
  readonly generator: Readonly<Record<string, number>>;
  readonly batch: Batch;
  readonly heads: number;
  readonly headDim: number;
  readonly causal: boolean;
  readonly lengths: LengthStats & { readonly sequences: number };
  readonly padding: PaddingStats;
  /** Forward FLOPs of the packed batch (useful work); backward is 2.5× this. */
  readonly forwardFlops: number;
  /** Forward FLOPs a padded kernel executes on the same batch padded to its longest sequence. */
  readonly paddedForwardFlops: number;
}

export interface WorkloadOptions {
  readonly tokens: number;
  readonly heads: number;
  readonly seed: number;
  /** The lognormal's median, as a fraction of T (1/128: 32 tokens at T = 4096) and its shape σ. */
  readonly lognormal?: { readonly medianFraction: number; readonly sigma: number };
}

export const DEFAULT_LOGNORMAL = { medianFraction: 1 / 128, sigma: 1.2 };

function describe(
  distribution: 'uniform' | 'lognormal',
  generator: Readonly<Record<string, number>>,
  batch: Batch,
  heads: number,
  headDim: number,
  causal: boolean,
): BenchWorkload {
  const stats = lengthStats(batch.lengths);
  const shape =
    distribution === 'uniform' ? `${batch.lengths.length}x${batch.maxSeqlen}` : `lognormal-${batch.lengths.length}seq`;
  const padded = uniformBatch(batch.lengths.length * batch.maxSeqlen, batch.lengths.length);
  return {
    id: `${shape}-${causal ? 'causal' : 'full'}-d${headDim}`,
    label: `${distribution === 'uniform' ? `uniform ${batch.lengths.length}×${batch.maxSeqlen}` : `lognormal ${batch.lengths.length} seqs`}, ${causal ? 'causal' : 'non-causal'}, D=${headDim}`,
    distribution,
    generator,
    batch,
    heads,
    headDim,
    causal,
    lengths: { ...stats, sequences: batch.lengths.length },
    padding: paddingStats(batch),
    forwardFlops: forwardFlops(batch, heads, headDim, causal),
    paddedForwardFlops: forwardFlops(padded, heads, headDim, causal),
  };
}

export function benchWorkloads(options: WorkloadOptions): BenchWorkload[] {
  const { tokens, heads } = options;
  const lognormal = options.lognormal ?? DEFAULT_LOGNORMAL;
  const count = tokens >= 4096 ? Math.floor(tokens / 512) : 8;
  const uniform = uniformBatch(tokens, count);
  const params = {
    median: Math.max(1, Math.round(tokens * lognormal.medianFraction)),
    sigma: lognormal.sigma,
    minLength: Math.min(16, Math.max(1, Math.floor(tokens / 64))),
  };
  const skewed = skewedBatch(seededRandom(options.seed), tokens, params);
  const u = { sequences: count };
  const l = { ...params, seed: options.seed };
  return [
    describe('uniform', u, uniform, heads, 64, true),
    describe('uniform', u, uniform, heads, 64, false),
    describe('lognormal', l, skewed, heads, 64, true),
    describe('lognormal', l, skewed, heads, 64, false),
    describe('uniform', u, uniform, heads, 128, true),
    describe('lognormal', l, skewed, heads, 128, true),
  ];
}
