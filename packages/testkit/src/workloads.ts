// The benchmark workloads, in one place: the packed-batch layouts (sequence lengths → cu_seqlens), the rows checked
// against a float64 reference, the random data and the FLOP count. The CUDA bench, the WebGPU bench and the PyTorch
// script (which reads the JSON that scripts/workloads.ts writes) all use these, so every number is for the same
// cu_seqlens.
//
// Layouts (each seeded, so the same arguments give the same lengths on every machine):
//   uniform  each length drawn uniformly from 128..4096 until the next would overflow `tokens`; the remainder
//            becomes one more sequence when it is at least 128 (so the total is `tokens` or a little under)
//   skewed   many short, few long: half the tokens in sequences of 4096..8192 (uniform), the other half in
//            sequences of 16..512 (log-uniform, median ~90), shuffled; total exactly `tokens`
//   fixed    every sequence `seqlen` long, the last one shorter if `tokens` is not a multiple
// Lengths are clamped to `tokens`, so tiny smoke sizes still give a valid batch.
import { cuSeqlensFromLengths } from '@fa/seqpack';
import { Random } from './random.js';

/** Bumped whenever a layout's lengths, the sampled rows or the data change for the same arguments. */
export const GENERATOR_VERSION = 1;
/** Where the workloads come from, as the benchmarks' JSON records it. */
export const GENERATOR = 'packages/testkit/src/workloads.ts';

export type Layout = 'uniform' | 'skewed' | 'fixed';
export const LAYOUTS: readonly Layout[] = ['uniform', 'skewed', 'fixed'];
const LAYOUT_SEEDS: Readonly<Record<Layout, number>> = { uniform: 1001, skewed: 1002, fixed: 1003 };

export interface SampleRow {
  /** sequence */
  readonly b: number;
  /** query head */
  readonly h: number;
  /** row inside the sequence */
  readonly i: number;
}

export interface Workload {
  readonly layout: Layout;
  readonly tokens: number;
  readonly sequences: number;
  readonly maxLength: number;
  /** Σ L², the visible (query, key) pairs of the non-causal problem. */
  readonly sumSquares: number;
  /** FNV-1a of the lengths: equal digests mean equal cu_seqlens. */
  readonly digest: string;
  readonly lengths: number[];
  readonly cuSeqlens: Int32Array;
  readonly heads: number;
  readonly sampleRows: SampleRow[];
}

/** Sequence lengths of one layout; their sum is the batch's total tokens. */
export function layoutLengths(layout: Layout, { tokens = 32768, seqlen = 2048 } = {}): number[] {
  if (!Number.isInteger(tokens) || tokens < 1)
    throw new Error(`Expected a positive integer for tokens, received ${tokens}`);
  const random = new Random(LAYOUT_SEEDS[layout] ?? 0);
  const lengths: number[] = [];
  let sum = 0;
  if (layout === 'uniform') {
    const [lo, hi] = [Math.min(128, tokens), Math.min(4096, tokens)];
    for (;;) {
      const length = random.int(lo, hi);
      if (sum + length > tokens) break;
      lengths.push(length);
      sum += length;
    }
    if (tokens - sum >= lo) lengths.push(tokens - sum);
    return lengths;
  }
  if (layout === 'skewed') {
    const longBudget = Math.floor(tokens / 2);
    const [lo, hi] = [Math.min(4096, longBudget), Math.min(8192, longBudget)];
    while (lo > 0) {
      const length = random.int(lo, hi);
      if (sum + length > longBudget) break;
      lengths.push(length);
      sum += length;
    }
    if (longBudget - sum > 0) {
      lengths.push(longBudget - sum);
      sum = longBudget;
    }
    for (;;) {
      const length = Math.min(tokens - sum, Math.round(16 * 32 ** random.next()));
      if (length <= 0) break;
      lengths.push(length);
      sum += length;
    }
    // Fisher–Yates, so the long sequences are not all at the front of the batch.
    for (let i = lengths.length - 1; i > 0; i--) {
      const j = Math.floor(random.next() * (i + 1));
      [lengths[i], lengths[j]] = [lengths[j] as number, lengths[i] as number];
    }
    return lengths;
  }
  if (layout === 'fixed') {
    if (!Number.isInteger(seqlen) || seqlen < 1)
      throw new Error(`Expected a positive integer for seqlen, received ${seqlen}`);
    while (sum < tokens) {
      const length = Math.min(seqlen, tokens - sum);
      lengths.push(length);
      sum += length;
    }
    return lengths;
  }
  throw new Error(`Expected one of ${LAYOUTS.join(', ')} for layout, received ${layout}`);
}

/** FNV-1a (32-bit, hex) of the lengths: two programs used the same cu_seqlens when their digests match. */
export function lengthsDigest(lengths: readonly number[]): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(lengths.join(','))) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

/**
 * Query rows to check against a float64 reference: the first row of the longest sequence (head 0), its last row
 * (last head), then `count` rows at tokens drawn uniformly over the batch (so long sequences get their share).
 */
export function sampleRows(lengths: readonly number[], heads: number, count = 24, seed = 11): SampleRow[] {
  const cu = cuSeqlensFromLengths(lengths);
  const total = cu[lengths.length] as number;
  const longest = lengths.indexOf(Math.max(...lengths));
  const rows: SampleRow[] = [
    { b: longest, h: 0, i: 0 },
    { b: longest, h: heads - 1, i: (lengths[longest] as number) - 1 },
  ];
  const random = new Random(seed);
  for (let n = 0; n < count; n++) {
    const token = Math.floor(random.next() * total);
    let b = 0;
    while ((cu[b + 1] as number) <= token) b++;
    rows.push({ b, h: Math.floor(random.next() * heads), i: token - (cu[b] as number) });
  }
  return rows;
}

/** Everything about one layout that a benchmark needs and another program must agree on. */
export function workload(
  layout: Layout,
  { tokens = 32768, seqlen = 2048, heads = 16, sampleCount = 24 } = {},
): Workload {
  const lengths = layoutLengths(layout, { tokens, seqlen });
  const cuSeqlens = cuSeqlensFromLengths(lengths);
  return {
    layout,
    tokens: cuSeqlens[lengths.length] as number,
    sequences: lengths.length,
    maxLength: Math.max(...lengths),
    sumSquares: lengths.reduce((a, l) => a + l * l, 0),
    digest: lengthsDigest(lengths),
    lengths,
    cuSeqlens,
    heads,
    sampleRows: sampleRows(lengths, heads, sampleCount),
  };
}

/**
 * Useful forward FLOPs: 4 · Σ Lq·Lk · H · D (two products of 2·D per visible pair), halved when causal
 * (flash-attention's convention). The backward counts 2.5 × this and forward + backward 3.5 ×.
 */
export function forwardFlops(sumSquares: number, heads: number, headDim: number, causal: boolean): number {
  return (4 * sumSquares * heads * headDim) / (causal ? 2 : 1);
}
export const BACKWARD_FLOP_FACTOR = 2.5;
export const FORWARD_BACKWARD_FLOP_FACTOR = 3.5;

/** `n` standard normals (both of each Box–Muller pair), seeded: fresh, non-zero benchmark data. */
export function normals(n: number, seed: number): Float32Array {
  return new Random(seed, { normalPairs: true }).normalsF32(n);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface WorkloadsDocument {
  readonly generator: string;
  readonly version: number;
  readonly tokens: number;
  readonly heads: number;
  readonly workloads: (Omit<Workload, 'cuSeqlens'> & { cuSeqlens: number[] })[];
}

/** The JSON the PyTorch script reads: every requested layout, lengths, cu_seqlens and the sampled rows. */
export function workloadsDocument({
  tokens = 32768,
  seqlen = 2048,
  heads = 16,
  layouts = ['uniform', 'skewed'] as readonly Layout[],
  sampleCount = 24,
} = {}): WorkloadsDocument {
  return {
    generator: GENERATOR,
    version: GENERATOR_VERSION,
    tokens,
    heads,
    workloads: layouts.map((layout) => {
      const w = workload(layout, { tokens, seqlen, heads, sampleCount });
      return { ...w, cuSeqlens: Array.from(w.cuSeqlens) };
    }),
  };
}
