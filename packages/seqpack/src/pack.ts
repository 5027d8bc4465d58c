import { FaError, maxSeqlenOf, optionKeys } from '@fa/core';
import { cuSeqlensFromLengths } from './cu-seqlens.js';
import { checkInteger, checkLengths, checkOptions, INT32_MAX } from './validate.js';

export interface PackOptions {
  /** Token budget of one batch, e.g. the `total_q` a training step is sized for. */
  readonly maxTokens: number;
  /** At most this many documents per batch (unbounded by default), e.g. to bound the length of cu_seqlens. */
  readonly maxSeqs?: number;
}

const PACK_OPTION_KEYS = optionKeys<PackOptions>()(['maxTokens', 'maxSeqs']);

export interface PackedBatch {
  /** Indices into `lengths` of the documents of this batch, ascending; pack them in this order. */
  readonly documents: number[];
  /** `Int32Array(documents.length + 1)`: offsets of the documents once concatenated. */
  readonly cuSeqlens: Int32Array;
  readonly tokens: number;
  readonly maxSeqlen: number;
}

/**
 * What packing saves. With `n` documents of lengths `L`, `T = ΣL` and `k` packed batches:
 * - `packedSlots = k · maxTokens`: the slots of `k` fixed-size packed batches.
 * - `paddedSlots = Σ_batch count · maxLen`: the same batches laid out padded, each to its longest document.
 * - `paddedBatchSlots`: what a padded trainer without packing would use: the documents in their original order,
 *   cut into consecutive groups of `ceil(n / k)` (so it takes at most as many steps as the packed plan), each
 *   group padded to its longest document: `Σ_group count · maxLen`.
 * - `utilization = T / packedSlots`: the share of the packed budget holding real tokens.
 * - `paddingWasteRatio = 1 - T / paddedBatchSlots`: the share of the padded trainer's slots that are padding,
 *   which packing avoids.
 * Both ratios are 0 when their denominator is (an empty or all-empty corpus).
 */
export interface PackStats {
  readonly documents: number;
  readonly tokens: number;
  readonly batches: number;
  readonly packedSlots: number;
  readonly paddedSlots: number;
  readonly paddedBatchSlots: number;
  readonly utilization: number;
  readonly paddingWasteRatio: number;
}

export interface PackPlan {
  readonly batches: PackedBatch[];
  readonly stats: PackStats;
}

/**
 * Splits a corpus of documents into batches of at most `maxTokens` tokens and `maxSeqs` documents, by
 * first-fit decreasing: longest document first (ties in corpus order), each into the first batch with room.
 * Without `maxSeqs`, first-fit decreasing needs at most 11/9 of the optimal number of batches plus 6/9; a
 * tournament tree over the batches' free room makes it O(n log n). Deterministic.
 *
 * Documents are never split: one longer than `maxTokens` is an `E_VALUE` error naming `lengths[i]`; chunk such
 * documents before packing if that is what training wants. Empty documents are kept and take a seat.
 */
export function packDocuments(lengths: ArrayLike<number>, options: PackOptions): PackPlan {
  const values = checkLengths(lengths, 'lengths');
  const opts = checkOptions(options, 'options', 'an options object { maxTokens, maxSeqs? }', PACK_OPTION_KEYS);
  const maxTokens = checkInteger(opts.maxTokens, 'maxTokens', 1, INT32_MAX);
  const maxSeqs = opts.maxSeqs === undefined ? Number.POSITIVE_INFINITY : checkInteger(opts.maxSeqs, 'maxSeqs', 1);
  const n = values.length;
  for (let i = 0; i < n; i++) {
    if ((values[i] as number) > maxTokens) {
      throw new FaError(
        'E_VALUE',
        `Expected documents of at most maxTokens = ${maxTokens} tokens for \`lengths\`, received lengths[${i}] = ${values[i]}.`,
        { argument: 'lengths', expected: `lengths <= ${maxTokens}`, received: `lengths[${i}] = ${values[i]}` },
      );
    }
  }

  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (values[b] as number) - (values[a] as number) || a - b,
  );
  const members: number[][] = [];
  const room = new RoomTree(n);
  for (const doc of order) {
    const length = values[doc] as number;
    let batch = room.firstWithRoom(length);
    if (batch < 0) {
      batch = members.length;
      members.push([]);
      room.set(batch, maxTokens);
    }
    const documents = members[batch] as number[];
    documents.push(doc);
    const left = room.get(batch) - length;
    room.set(batch, documents.length < maxSeqs ? left : -1);
  }

  const batches = members.map((documents): PackedBatch => {
    documents.sort((a, b) => a - b);
    const cuSeqlens = cuSeqlensFromLengths(documents.map((d) => values[d] as number));
    return { documents, cuSeqlens, tokens: cuSeqlens[documents.length] as number, maxSeqlen: maxSeqlenOf(cuSeqlens) };
  });
  return { batches, stats: packStats(values, batches, maxTokens) };
}

function packStats(lengths: ArrayLike<number>, batches: readonly PackedBatch[], maxTokens: number): PackStats {
  const n = lengths.length;
  let tokens = 0;
  for (let i = 0; i < n; i++) tokens += lengths[i] as number;
  const packedSlots = batches.length * maxTokens;
  const paddedSlots = batches.reduce((sum, b) => sum + b.documents.length * b.maxSeqlen, 0);
  let paddedBatchSlots = 0;
  const groupSize = batches.length === 0 ? 0 : Math.ceil(n / batches.length);
  for (let start = 0; start < n; start += groupSize) {
    const end = Math.min(n, start + groupSize);
    let longest = 0;
    for (let i = start; i < end; i++) longest = Math.max(longest, lengths[i] as number);
    paddedBatchSlots += (end - start) * longest;
  }
  return {
    documents: n,
    tokens,
    batches: batches.length,
    packedSlots,
    paddedSlots,
    paddedBatchSlots,
    utilization: packedSlots === 0 ? 0 : tokens / packedSlots,
    paddingWasteRatio: paddedBatchSlots === 0 ? 0 : 1 - tokens / paddedBatchSlots,
  };
}

/**
 * Free room of each batch (-1 for unopened or full batches) in a max-tournament tree, so that the first batch
 * with room for a document is found in O(log n) instead of by scanning every open batch.
 */
class RoomTree {
  private readonly leaves: number;
  private readonly tree: Float64Array;

  constructor(capacity: number) {
    let leaves = 1;
    while (leaves < capacity) leaves *= 2;
    this.leaves = leaves;
    this.tree = new Float64Array(2 * leaves).fill(-1);
  }

  get(batch: number): number {
    return this.tree[this.leaves + batch] as number;
  }

  set(batch: number, room: number): void {
    let node = this.leaves + batch;
    this.tree[node] = room;
    for (node >>= 1; node >= 1; node >>= 1) {
      this.tree[node] = Math.max(this.tree[2 * node] as number, this.tree[2 * node + 1] as number);
    }
  }

  /** The leftmost batch with at least `length` free tokens and a free seat, or -1. */
  firstWithRoom(length: number): number {
    if ((this.tree[1] as number) < length) return -1;
    let node = 1;
    while (node < this.leaves) node = (this.tree[2 * node] as number) >= length ? 2 * node : 2 * node + 1;
    return node - this.leaves;
  }
}
