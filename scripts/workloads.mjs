#!/usr/bin/env node
// The benchmark workloads, in one place: the packed-batch layouts (sequence lengths → cu_seqlens), the rows checked
// against a float64 reference, the random data and the FLOP count. The CUDA bench, the WebGPU bench and the PyTorch
// script (which reads the JSON this file writes) all use these, so every number is for the same cu_seqlens.
// Plain Node ESM with no dependencies; types in workloads.d.mts.
//
//   node scripts/workloads.mjs [--tokens 32768] [--heads 16] [--layouts uniform,skewed] [--seqlen 2048]
//     [--sample-rows 24] [--out FILE]
//
// Layouts (each seeded, so the same arguments give the same lengths on every machine):
//   uniform  each length drawn uniformly from 128..4096 until the next would overflow `tokens`; the remainder
//            becomes one more sequence when it is at least 128 (so the total is `tokens` or a little under)
//   skewed   many short, few long: half the tokens in sequences of 4096..8192 (uniform), the other half in
//            sequences of 16..512 (log-uniform, median ~90), shuffled; total exactly `tokens`
//   fixed    every sequence `seqlen` long, the last one shorter if `tokens` is not a multiple
// Lengths are clamped to `tokens`, so tiny smoke sizes still give a valid batch.

export const GENERATOR_VERSION = 1;
export const LAYOUTS = ['uniform', 'skewed', 'fixed'];
const LAYOUT_SEEDS = { uniform: 1001, skewed: 1002, fixed: 1003 };

/** mulberry32: a small seeded generator, the same in every JS engine; values in [0, 1). */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer uniform in [lo, hi]. */
function uniformInt(random, lo, hi) {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** Sequence lengths of one layout; their sum is the batch's total tokens. */
export function layoutLengths(layout, { tokens = 32768, seqlen = 2048 } = {}) {
  if (!Number.isInteger(tokens) || tokens < 1)
    throw new Error(`Expected a positive integer for tokens, received ${tokens}`);
  const random = mulberry32(LAYOUT_SEEDS[layout] ?? 0);
  const lengths = [];
  let sum = 0;
  if (layout === 'uniform') {
    const [lo, hi] = [Math.min(128, tokens), Math.min(4096, tokens)];
    for (;;) {
      const length = uniformInt(random, lo, hi);
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
      const length = uniformInt(random, lo, hi);
      if (sum + length > longBudget) break;
      lengths.push(length);
      sum += length;
    }
    if (longBudget - sum > 0) {
      lengths.push(longBudget - sum);
      sum = longBudget;
    }
    for (;;) {
      const length = Math.min(tokens - sum, Math.round(16 * 32 ** random()));
      if (length <= 0) break;
      lengths.push(length);
      sum += length;
    }
    // Fisher–Yates, so the long sequences are not all at the front of the batch.
    for (let i = lengths.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [lengths[i], lengths[j]] = [lengths[j], lengths[i]];
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

export function cuSeqlensOf(lengths) {
  const cu = new Int32Array(lengths.length + 1);
  lengths.forEach((length, b) => {
    cu[b + 1] = cu[b] + length;
  });
  return cu;
}

/** FNV-1a (32-bit, hex) of the lengths: two programs used the same cu_seqlens when their digests match. */
export function lengthsDigest(lengths) {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(lengths.join(','))) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

/**
 * Query rows to check against a float64 reference: the first row of the longest sequence (head 0), its last row
 * (last head), then `count` rows at tokens drawn uniformly over the batch (so long sequences get their share).
 */
export function sampleRows(lengths, heads, count = 24, seed = 11) {
  const cu = cuSeqlensOf(lengths);
  const total = cu[lengths.length];
  const longest = lengths.indexOf(Math.max(...lengths));
  const rows = [
    { b: longest, h: 0, i: 0 },
    { b: longest, h: heads - 1, i: lengths[longest] - 1 },
  ];
  const random = mulberry32(seed);
  for (let n = 0; n < count; n++) {
    const token = Math.floor(random() * total);
    let b = 0;
    while (cu[b + 1] <= token) b++;
    rows.push({ b, h: Math.floor(random() * heads), i: token - cu[b] });
  }
  return rows;
}

/** Everything about one layout that a benchmark needs and another program must agree on. */
export function workload(layout, { tokens = 32768, seqlen = 2048, heads = 16, sampleCount = 24 } = {}) {
  const lengths = layoutLengths(layout, { tokens, seqlen });
  const cuSeqlens = cuSeqlensOf(lengths);
  return {
    layout,
    tokens: cuSeqlens[lengths.length],
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
export function forwardFlops(sumSquares, heads, headDim, causal) {
  return (4 * sumSquares * heads * headDim) / (causal ? 2 : 1);
}
export const BACKWARD_FLOP_FACTOR = 2.5;
export const FORWARD_BACKWARD_FLOP_FACTOR = 3.5;

/** `n` standard normal samples (Box–Muller over mulberry32), seeded: fresh, non-zero benchmark data. */
export function normals(n, seed) {
  const random = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const theta = 2 * Math.PI * random();
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The JSON the PyTorch script reads: every requested layout, lengths, cu_seqlens and the sampled rows. */
export function workloadsDocument({
  tokens = 32768,
  seqlen = 2048,
  heads = 16,
  layouts = ['uniform', 'skewed'],
  sampleCount = 24,
} = {}) {
  return {
    generator: 'scripts/workloads.mjs',
    version: GENERATOR_VERSION,
    tokens,
    heads,
    workloads: layouts.map((layout) => {
      const w = workload(layout, { tokens, seqlen, heads, sampleCount });
      return { ...w, cuSeqlens: Array.from(w.cuSeqlens) };
    }),
  };
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const { writeFileSync } = await import('node:fs');
  const argv = process.argv.slice(2);
  const option = (name, fallback) => {
    const at = argv.indexOf(name);
    return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1] : fallback;
  };
  const document = workloadsDocument({
    tokens: Number(option('--tokens', '32768')),
    seqlen: Number(option('--seqlen', '2048')),
    heads: Number(option('--heads', '16')),
    layouts: option('--layouts', 'uniform,skewed').split(','),
    sampleCount: Number(option('--sample-rows', '24')),
  });
  const out = option('--out', '');
  if (out) writeFileSync(out, `${JSON.stringify(document)}\n`);
  for (const w of document.workloads) {
    const sorted = [...w.lengths].sort((a, b) => a - b);
    console.log(
      `${w.layout}: ${w.sequences} sequences, ${w.tokens} tokens, lengths ${sorted[0]}..${w.maxLength} (median ${median(sorted)}), digest ${w.digest}`,
    );
  }
  if (out) console.log(`wrote ${out}`);
}
