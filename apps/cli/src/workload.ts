import { encodeFromFloat, type FloatDType } from '@fa/core';
import { attentionFlops, cuSeqlensFromLengths, packDocuments } from '@fa/seqpack';
import { Random } from '@fa/testkit';

/**
 * Workloads: packed batches of documents and the random tensors that go with them. Everything is drawn from a
 * seeded generator so that a run is reproducible from its flags alone.
 */

/**
 * The CLI's generator for `seed`: the test kit's, returning both normals of each Box–Muller pair (input tensors
 * need millions of draws), which is how every workload the CLI builds has been drawn. Math.random would make each
 * run a different batch; a run that looks odd is reproduced exactly with the same flags.
 */
export function seededRandom(seed: number): Random {
  return new Random(seed, { normalPairs: true });
}

export interface Batch {
  /** Document lengths in packing order. */
  readonly lengths: readonly number[];
  readonly cuSeqlens: Int32Array;
  readonly tokens: number;
  readonly maxSeqlen: number;
}

export function batchFromLengths(lengths: readonly number[]): Batch {
  const cuSeqlens = cuSeqlensFromLengths(lengths);
  return {
    lengths: [...lengths],
    cuSeqlens,
    tokens: cuSeqlens[lengths.length] as number,
    maxSeqlen: lengths.reduce((m, l) => Math.max(m, l), 0),
  };
}

export interface PaddingStats {
  /** Slots of the same batch laid out padded: sequences × longest. */
  readonly paddedSlots: number;
  readonly packedSlots: number;
  /** Share of the padded layout that is padding, which packing avoids. */
  readonly paddingFraction: number;
  /** paddedSlots / packedSlots. */
  readonly ratio: number;
}

export function paddingStats(batch: Batch): PaddingStats {
  const paddedSlots = batch.lengths.length * batch.maxSeqlen;
  const packedSlots = batch.tokens;
  return {
    paddedSlots,
    packedSlots,
    paddingFraction: paddedSlots === 0 ? 0 : 1 - packedSlots / paddedSlots,
    ratio: packedSlots === 0 ? 1 : paddedSlots / packedSlots,
  };
}

export interface LengthStats {
  readonly shortest: number;
  readonly median: number;
  readonly longest: number;
}

export function lengthStats(lengths: readonly number[]): LengthStats {
  const sorted = [...lengths].sort((a, b) => a - b);
  return {
    shortest: sorted[0] ?? 0,
    median: sorted[Math.floor((sorted.length - 1) / 2)] ?? 0,
    longest: sorted[sorted.length - 1] ?? 0,
  };
}

export interface LognormalOptions {
  /** Median document length in tokens (exp μ). */
  readonly median: number;
  /** Shape σ of the lognormal: 0 gives equal lengths, 1 or more a heavy tail of long documents. */
  readonly sigma: number;
  /** Documents are clipped to [minLength, maxLength], as a data pipeline drops stubs and chunks long texts. */
  readonly minLength: number;
  readonly maxLength: number;
}

function drawLength(rng: Random, options: LognormalOptions): number {
  const raw = Math.round(rng.lognormal(options.median, options.sigma));
  return Math.min(options.maxLength, Math.max(options.minLength, raw));
}

export interface PackedDemoBatch {
  readonly batch: Batch;
  /** Which batch of the plan this is (0-based), and the corpus it was packed from. */
  readonly index: number;
  readonly corpus: CorpusStats;
  readonly budget: number;
}

/**
 * Packing at the scale of the corpus, from `packDocuments`' stats: `paddedSlots` is what a trainer without
 * packing spends (documents in corpus order, in as many batches, each padded to its longest document),
 * `packedSlots` what the packed batches take (batches × budget).
 */
export interface CorpusStats {
  readonly documents: number;
  readonly tokens: number;
  readonly batches: number;
  readonly packedSlots: number;
  readonly paddedSlots: number;
  /** Share of the padded trainer's slots that are padding, which packing avoids. */
  readonly paddingFraction: number;
  /** paddedSlots / packedSlots. */
  readonly ratio: number;
}

/**
 * The demo's batch, built the way a training pipeline builds one: draw a corpus of documents with lognormal
 * lengths (clipped to the budget, as a pipeline chunks documents longer than the context), pack it into batches
 * of at most `budget` tokens with first-fit decreasing (`packDocuments`), and take a typical batch: among the
 * nearly full ones, the one with the median number of documents. (First-fit decreasing builds its first batches
 * around the corpus's longest documents, often one or two of them; its last batches hold the leftovers.)
 */
export function packedDemoBatch(
  rng: Random,
  budget: number,
  lengths: Omit<LognormalOptions, 'maxLength'>,
  corpusBatches = 8,
): PackedDemoBatch {
  const options = { ...lengths, maxLength: budget };
  const documents: number[] = [];
  let total = 0;
  while (total < corpusBatches * budget) {
    const length = drawLength(rng, options);
    documents.push(length);
    total += length;
  }
  const plan = packDocuments(documents, { maxTokens: budget });
  const indexed = plan.batches.map((b, index) => ({ b, index }));
  const full = indexed.filter(({ b }) => b.tokens >= 0.9 * budget);
  const candidates = (full.length > 0 ? full : indexed).sort(
    (x, y) => x.b.documents.length - y.b.documents.length || x.index - y.index,
  );
  const chosen = candidates[Math.floor((candidates.length - 1) / 2)];
  if (!chosen) throw new Error('packing produced no batch');
  return {
    batch: batchFromLengths(chosen.b.documents.map((d) => documents[d] as number)),
    index: chosen.index,
    corpus: {
      documents: documents.length,
      tokens: total,
      batches: plan.batches.length,
      packedSlots: plan.stats.packedSlots,
      paddedSlots: plan.stats.paddedBatchSlots,
      paddingFraction: plan.stats.paddingWasteRatio,
      ratio: plan.stats.paddedBatchSlots / plan.stats.packedSlots,
    },
    budget,
  };
}

/** `count` sequences of equal length summing to `total` (the last ones one token shorter if it does not divide). */
export function uniformBatch(total: number, count: number): Batch {
  const base = Math.floor(total / count);
  const extra = total - base * count;
  return batchFromLengths(Array.from({ length: count }, (_, i) => base + (i < extra ? 1 : 0)));
}

/**
 * A skewed batch of exactly `total` tokens: lognormal lengths drawn until the budget is reached, the last one
 * cut to fit. Lengths are shuffled out of draw order only by the draw itself, like a packer that fills a batch
 * in corpus order.
 */
export function skewedBatch(rng: Random, total: number, options: Omit<LognormalOptions, 'maxLength'>): Batch {
  const lengths: number[] = [];
  let sum = 0;
  while (sum < total) {
    const length = Math.min(total - sum, drawLength(rng, { ...options, maxLength: total }));
    lengths.push(length);
    sum += length;
  }
  return batchFromLengths(lengths);
}

/** Forward FLOPs of a batch by flash-attention's convention (see `attentionFlops`); backward is 2.5× this. */
export function forwardFlops(batch: Batch, numHeads: number, headDim: number, causal: boolean): number {
  return attentionFlops({ cuSeqlensQ: batch.cuSeqlens, cuSeqlensK: batch.cuSeqlens, numHeads, headDim, causal });
}

export const BACKWARD_FLOP_FACTOR = 2.5;

export type Storage = Float32Array | Uint16Array;

/** The inputs of one forward + backward call, in storage form, `(tokens, heads, headDim)` each. */
export interface AttnInputs {
  readonly q: Storage;
  readonly k: Storage;
  readonly v: Storage;
  readonly dout: Storage;
  readonly shape: readonly [number, number, number];
  readonly dtype: FloatDType;
}

/** Standard-normal q, k, v and dout; with the default 1/√D scale the scores are then of order 1, as in a model. */
export function randomInputs(
  rng: Random,
  tokens: number,
  numHeads: number,
  headDim: number,
  dtype: FloatDType,
): AttnInputs {
  const n = tokens * numHeads * headDim;
  const draw = () => {
    const values = rng.normalsF32(n);
    return dtype === 'f32' ? values : encodeFromFloat(values, dtype);
  };
  return { q: draw(), k: draw(), v: draw(), dout: draw(), shape: [tokens, numHeads, headDim], dtype };
}
