import { Rng } from '@fa/autograd';
import { packDocuments, positionIds } from '@fa/seqpack';

/** The line that separates documents in a corpus file. */
export const DOCUMENT_SEPARATOR = '<|endoftext|>';

/** Token 0 starts every sequence; the others are the bytes that occur in the corpus, in byte order. */
export const BOS = 0;

export function parseDocuments(text: string): string[] {
  return text
    .split(`\n${DOCUMENT_SEPARATOR}\n`)
    .map((d) => d.replace(/\n$/, ''))
    .filter((d) => d.length > 0);
}

export function formatDocuments(documents: readonly string[]): string {
  return `${documents.join(`\n${DOCUMENT_SEPARATOR}\n`)}\n`;
}

/** A byte-level vocabulary: the bytes present in the corpus, plus BOS. */
export class Vocabulary {
  /** `bytes[id - 1]` is the byte of token `id`. */
  readonly bytes: Uint8Array;
  readonly #ids = new Int32Array(256).fill(-1);

  constructor(documents: readonly Uint8Array[]) {
    const present = new Uint8Array(256);
    for (const doc of documents) for (const b of doc) present[b] = 1;
    this.bytes = Uint8Array.from(Array.from(present).flatMap((p, b) => (p ? [b] : [])));
    this.bytes.forEach((b, i) => {
      this.#ids[b] = i + 1;
    });
  }

  get size(): number {
    return this.bytes.length + 1;
  }

  encode(bytes: Uint8Array): Int32Array {
    return Int32Array.from(bytes, (b) => {
      const id = this.#ids[b]!;
      if (id < 0) throw new Error(`byte ${b} is not in the vocabulary`);
      return id;
    });
  }

  decode(ids: ArrayLike<number>): string {
    const out: number[] = [];
    for (let i = 0; i < ids.length; i++) if (ids[i]! > 0) out.push(this.bytes[ids[i]! - 1]!);
    return new TextDecoder().decode(Uint8Array.from(out));
  }
}

/**
 * One training sequence: `inputs = [BOS, t1 … t(n−1)]`, `targets = [t1 … tn]`, so a document of n bytes is a
 * sequence of n tokens. Documents longer than the token budget are cut into pieces of at most that length, each
 * a sequence of its own (packing never splits a sequence).
 */
export interface Sequence {
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
}

/** A packed batch: sequences back to back, with cu_seqlens and per-sequence positions. No padding. */
export interface Batch {
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
  readonly cuSeqlens: Int32Array;
  readonly positions: Int32Array;
  readonly maxSeqlen: number;
  readonly tokens: number;
}

export interface PreparedCorpus {
  readonly vocab: Vocabulary;
  readonly train: readonly Batch[];
  readonly validation: readonly Batch[];
  readonly documents: { readonly train: number; readonly validation: number };
  readonly lengths: { readonly min: number; readonly max: number; readonly mean: number };
  /** Entropy (nats) of the byte distribution of the training targets: the loss of the best context-free model. */
  readonly unigramLoss: number;
  /** Share of each batch's token budget that holds real tokens (the rest of the budget is simply not used). */
  readonly utilization: number;
}

function sequencesOf(vocab: Vocabulary, documents: readonly Uint8Array[], maxTokens: number): Sequence[] {
  const sequences: Sequence[] = [];
  for (const doc of documents) {
    const ids = vocab.encode(doc);
    for (let start = 0; start < ids.length; start += maxTokens) {
      const targets = ids.subarray(start, Math.min(ids.length, start + maxTokens));
      const inputs = new Int32Array(targets.length);
      inputs[0] = BOS;
      inputs.set(targets.subarray(0, targets.length - 1), 1);
      sequences.push({ inputs, targets: targets.slice() });
    }
  }
  return sequences;
}

function batchesOf(sequences: readonly Sequence[], maxTokens: number): { batches: Batch[]; utilization: number } {
  const plan = packDocuments(
    sequences.map((s) => s.inputs.length),
    { maxTokens },
  );
  const batches = plan.batches.map((b): Batch => {
    const inputs = new Int32Array(b.tokens);
    const targets = new Int32Array(b.tokens);
    b.documents.forEach((d, i) => {
      inputs.set(sequences[d]!.inputs, b.cuSeqlens[i]!);
      targets.set(sequences[d]!.targets, b.cuSeqlens[i]!);
    });
    return {
      inputs,
      targets,
      cuSeqlens: b.cuSeqlens,
      positions: positionIds(b.cuSeqlens),
      maxSeqlen: b.maxSeqlen,
      tokens: b.tokens,
    };
  });
  return { batches, utilization: plan.stats.utilization };
}

function unigramEntropy(sequences: readonly Sequence[], vocabSize: number): number {
  const counts = new Float64Array(vocabSize);
  let total = 0;
  for (const s of sequences) {
    for (const t of s.targets) counts[t]!++;
    total += s.targets.length;
  }
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / total) * Math.log(c / total);
  return h;
}

export interface PrepareOptions {
  readonly maxTokens: number;
  /** Seeds the choice of validation documents. */
  readonly seed: number;
  /** Share of documents held out for validation. Default 0.05. */
  readonly validationShare?: number;
  /** Use only the first `limit` documents (tests). */
  readonly limit?: number;
}

/** Tokenises the documents, holds some out for validation, and packs both sets into token-budget batches. */
export function prepareCorpus(texts: readonly string[], options: PrepareOptions): PreparedCorpus {
  const encoder = new TextEncoder();
  const documents = texts.slice(0, options.limit ?? texts.length).map((t) => encoder.encode(t));
  const vocab = new Vocabulary(documents);
  const order = new Rng(options.seed).shuffle(documents.map((_, i) => i));
  const held = Math.max(1, Math.round(documents.length * (options.validationShare ?? 0.05)));
  const isValidation = new Set(order.slice(0, held));
  const trainDocs = documents.filter((_, i) => !isValidation.has(i));
  const validationDocs = documents.filter((_, i) => isValidation.has(i));
  const trainSequences = sequencesOf(vocab, trainDocs, options.maxTokens);
  const train = batchesOf(trainSequences, options.maxTokens);
  const validation = batchesOf(sequencesOf(vocab, validationDocs, options.maxTokens), options.maxTokens);
  const lengths = documents.map((d) => d.length);
  return {
    vocab,
    train: train.batches,
    validation: validation.batches,
    documents: { train: trainDocs.length, validation: validationDocs.length },
    lengths: {
      min: Math.min(...lengths),
      max: Math.max(...lengths),
      mean: lengths.reduce((s, n) => s + n, 0) / lengths.length,
    },
    unigramLoss: unigramEntropy(trainSequences, vocab.size),
    utilization: train.utilization,
  };
}
