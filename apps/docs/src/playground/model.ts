import { type AttnOptions, type FloatDType, FaError, resolveAttnProblem } from '@fa/core';
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
  resolveAttnProblem(meta, meta, meta, options);
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
