import { type FloatDType, encodeFromFloat } from '@fa/core';
import { attentionFlops, cuSeqlensFromLengths, packDocuments } from '@fa/seqpack';
import type { Random } from './random.js';

/**
 * Workloads: packed batches of documents and the random tensors that go with them. Everything is drawn from a
 * seeded generator so that a run is reproducible from its flags alone.
 */

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
  /** The corpus the batch was packed from: document count, token count, how many batches it packed into. */
  readonly corpus: { readonly documents: number; readonly tokens: number; readonly batches: number };
  readonly budget: number;
}

/**
 * The demo's batch, built the way a training pipeline builds one: draw a corpus of documents with lognormal
 * lengths (clipped to the budget, i.e. long documents chunked), pack it into batches of at most `budget` tokens
 * with first-fit decreasing (`packDocuments`), and take the first batch. First-fit decreasing fills that batch
 * first, around the corpus's longest document, so it is both nearly full and the most skewed of the batches.
 */
export function packedDemoBatch(
  rng: Random,
  budget: number,
  lengths: Omit<LognormalOptions, 'maxLength'>,
  corpusBatches = 4,
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
  const first = plan.batches[0];
  if (!first) throw new Error('packing produced no batch');
  return {
    batch: batchFromLengths(first.documents.map((d) => documents[d] as number)),
    corpus: { documents: documents.length, tokens: total, batches: plan.batches.length },
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
export function randomInputs(rng: Random, tokens: number, numHeads: number, headDim: number, dtype: FloatDType): AttnInputs {
  const n = tokens * numHeads * headDim;
  const draw = () => {
    const values = rng.normalsF32(n);
    return dtype === 'f32' ? values : encodeFromFloat(values, dtype);
  };
  return { q: draw(), k: draw(), v: draw(), dout: draw(), shape: [tokens, numHeads, headDim], dtype };
}
