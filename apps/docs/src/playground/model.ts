import {
  type AttnOptions,
  type AttnProblem,
  FaError,
  type FloatDType,
  resolveAttnProblem,
  roundToDType,
  visibleKeyRange,
} from '@fa/core';
import { attentionFlops, cuSeqlensFromLengths, paddedAttentionFlops, type TileMap, tileMap } from '@fa/seqpack';

/** What the form holds, already parsed into numbers. */
export interface PlaygroundInput {
  readonly lengths: string;
  readonly heads: number;
  readonly headDim: number;
  readonly causal: boolean;
  readonly windowLeft: number;
  readonly windowRight: number;
  readonly softcap: number;
  readonly dtype: FloatDType;
  readonly block: number;
}

export const PRESETS: Record<string, string> = {
  uniform: Array(8).fill(64).join(', '),
  skewed: '256, 128, 64, 32, 16, 8, 4, 2',
  'one long + many short': ['384', ...Array(16).fill('12')].join(', '),
};

/** Everything the page shows that needs no backend: computed synchronously on every edit. */
export interface Layout {
  readonly lengths: number[];
  readonly cuSeqlens: Int32Array;
  readonly options: AttnOptions;
  /** The problem as the library resolved it: defaults filled in, causal window applied. */
  readonly problem: AttnProblem;
  readonly map: TileMap;
  readonly packedFlops: number;
  readonly paddedFlops: number;
}

/**
 * Lengths as typed: numbers separated by commas or spaces. Anything else is reported the way the library reports
 * bad input, as an FaError, so the page shows one kind of message.
 */
export function parseLengths(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) {
    throw new FaError('E_VALUE', 'Expected at least one sequence length for `lengths`, received nothing.', {
      argument: 'lengths',
    });
  }
  return parts.map((part, i) => {
    const value = Number(part);
    if (!/^-?\d+$/.test(part)) {
      throw new FaError('E_VALUE', `Expected an integer for \`lengths[${i}]\`, received "${part}".`, {
        argument: `lengths[${i}]`,
      });
    }
    return value;
  });
}

/** Validates the whole problem with the library's own checks (they throw FaError) and computes the layout. */
export function computeLayout(input: PlaygroundInput): Layout {
  const lengths = parseLengths(input.lengths);
  const cuSeqlens = cuSeqlensFromLengths(lengths);
  const total = cuSeqlens[cuSeqlens.length - 1] as number;
  const options: AttnOptions = {
    cuSeqlensQ: cuSeqlens,
    cuSeqlensK: cuSeqlens,
    causal: input.causal,
    windowSize: [input.windowLeft, input.windowRight],
    softcap: input.softcap,
  };
  const meta = { shape: [total, input.heads, input.headDim], dtype: input.dtype };
  const problem = resolveAttnProblem(meta, meta, meta, options);
  const map = tileMap(cuSeqlens, cuSeqlens, {
    blockM: input.block,
    blockN: input.block,
    causal: input.causal,
    windowSize: [input.windowLeft, input.windowRight],
  });
  const flopsOptions = {
    cuSeqlensQ: cuSeqlens,
    cuSeqlensK: cuSeqlens,
    numHeads: input.heads,
    headDim: input.headDim,
    causal: input.causal,
  };
  return {
    lengths,
    cuSeqlens,
    options,
    problem,
    map,
    packedFlops: attentionFlops(flopsOptions),
    paddedFlops: paddedAttentionFlops(flopsOptions),
  };
}

/**
 * The sequences checked against the float64 reference: the first ones, up to a budget of scores, so that the check
 * stays fast in the browser. Sequences are independent, so a prefix of the batch is a complete problem of its own.
 */
export function sampleSequences(lengths: readonly number[], scoreBudget = 64 * 1024): number {
  let scores = 0;
  let count = 0;
  for (const length of lengths) {
    if (count > 0 && scores + length * length > scoreBudget) break;
    scores += length * length;
    count++;
  }
  return count;
}

/** Max-abs-error tolerance for values of order one, by storage dtype (kernels accumulate in float32). */
export const TOLERANCE: Record<FloatDType, number> = { f32: 1e-4, f16: 1e-2, bf16: 6e-2 };

export function formatFlops(flops: number): string {
  const units = ['', 'k', 'M', 'G', 'T'];
  let i = 0;
  while (flops >= 1000 && i < units.length - 1) {
    flops /= 1000;
    i++;
  }
  return `${flops.toPrecision(3)} ${units[i]}FLOP`;
}

/** Deterministic inputs in [-0.5, 0.5), so runs repeat and the heatmap shows the data the backends ran on. */
export function randomValues(count: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = s / 2 ** 32 - 0.5;
  }
  return values;
}

/** The seeds of q, k, v and dout. */
export const SEEDS = { q: 1, k: 2, v: 3, dout: 4 } as const;

export interface Weights {
  readonly rows: number;
  readonly cols: number;
  /** Row-major `rows × cols` softmax weights; NaN where the mask hides the key. */
  readonly values: Float64Array;
}

/**
 * The attention weights of one head of one sequence, in float64 from the run's inputs, masked with @fa/core's
 * `visibleKeyRange`, the rule every backend follows. Only the top-left `limit × limit` corner, to stay cheap.
 */
export function attentionWeights(layout: Layout, sequence: number, head: number, limit = 128): Weights {
  const p = layout.problem;
  const start = layout.cuSeqlens[sequence] as number;
  const length = (layout.cuSeqlens[sequence + 1] as number) - start;
  const rows = Math.min(length, limit);
  const cols = rows;
  const size = p.totalQ * p.numHeads * p.headDim;
  const q = randomValues(size, SEEDS.q);
  const k = randomValues(size, SEEDS.k);
  const at = (data: Float32Array, token: number, d: number) =>
    roundToDType(data[((start + token) * p.numHeads + head) * p.headDim + d] as number, p.dtype);
  const values = new Float64Array(rows * cols).fill(Number.NaN);
  for (let i = 0; i < rows; i++) {
    const { first, last } = visibleKeyRange(i, length, length, p.windowLeft, p.windowRight);
    const hi = Math.min(last, cols - 1);
    if (first > hi) continue;
    let max = Number.NEGATIVE_INFINITY;
    // The row's softmax runs over every visible key of the sequence, including those right of the shown corner.
    const scores = new Float64Array(last - first + 1);
    for (let j = first; j <= last; j++) {
      let dot = 0;
      for (let d = 0; d < p.headDim; d++) dot += at(q, i, d) * at(k, j, d);
      let s = dot * p.softmaxScale;
      if (p.softcap > 0) s = p.softcap * Math.tanh(s / p.softcap);
      scores[j - first] = s;
      max = Math.max(max, s);
    }
    let sum = 0;
    for (let j = 0; j < scores.length; j++) sum += scores[j] = Math.exp((scores[j] as number) - max);
    for (let j = first; j <= hi; j++) values[i * cols + j] = (scores[j - first] as number) / sum;
  }
  return { rows, cols, values };
}
