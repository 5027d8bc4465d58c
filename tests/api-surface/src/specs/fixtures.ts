import type { FloatHostTensor } from '@fa/core';

/** Small valid inputs, never zeros: the sweep breaks one argument at a time and keeps the rest like these. */
export const cu = (): Int32Array => Int32Array.from([0, 2, 5]);

export function host(shape: number[], offset = 0.37): FloatHostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from({ length: n }, (_, i) => Math.sin(i + offset)), shape, dtype: 'f32' };
}

/** q, k, v of a two-sequence batch with 2 query heads over 1 key head (GQA), head_dim 3. */
export const attnInputs = () => ({
  q: host([5, 2, 3]),
  k: host([5, 1, 3], 1.1),
  v: host([5, 1, 3], 2.3),
  options: { cuSeqlensQ: cu(), cuSeqlensK: cu(), causal: true },
});

export const NUMBER_SAMPLES: readonly (readonly unknown[])[] = [
  [Number.NaN],
  [Number.POSITIVE_INFINITY],
  [-0],
  [2 ** 40],
  [-7.5],
];

/** Samples for total functions of several numeric arguments: each argument NaN, ±Infinity or huge in turn. */
export function numericSamples(arity: number, valid: readonly number[]): unknown[][] {
  const samples: unknown[][] = [];
  for (let i = 0; i < arity; i++) {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 40, -3]) {
      const args = [...valid];
      args[i] = bad;
      samples.push(args);
    }
  }
  return samples;
}

export const ANY_SAMPLES: readonly (readonly unknown[])[] = [
  [undefined],
  [null],
  [Number.NaN],
  ['junk'],
  [{}],
  [[1, 2]],
  [Symbol('junk')],
  [1n],
  [new Float64Array(2)],
  [Object.create(null)],
];
/**
 * cu_seqlens take any array of integers, so among the junk values three zeros (a Float64Array(3)) are valid:
 * the offsets of two empty sequences.
 */
export const CU_SEQLENS_JUNK_THAT_IS_VALID: readonly unknown[] = [new Float64Array(3)];
