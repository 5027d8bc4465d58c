import {
  checkKnownKeys,
  checkOptionsBag,
  describeValue,
  expectationError,
  FaError,
  formatShape,
  type HostTensor,
  hostTensor,
} from '@fa/core';

export const INT32_MAX = 2147483647;

/**
 * Entry points take an options bag of known keys; anything else (a misspelt key included) is a caller mistake
 * worth naming.
 */
export function checkOptions(
  value: unknown,
  argument: string,
  expected: string,
  knownKeys: readonly string[],
): Record<string, unknown> {
  checkOptionsBag(value, argument, expected);
  checkKnownKeys(value, argument, knownKeys);
  return value;
}

/** An integer count in `[min, max]`, e.g. a batch size or a tile size. */
export function checkInteger(value: unknown, argument: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw expectationError('E_VALUE', argument, `an integer ${range}`, describeValue(value));
  }
  return value;
}

export function checkBoolean(value: unknown, argument: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw expectationError('E_VALUE', argument, 'a boolean', describeValue(value));
  return value;
}

/**
 * Sequence lengths as plain numbers: a typed array or an array of non-negative integers. Checked one by one,
 * because an Int32Array would silently turn NaN into 0 and 1.5 into 1.
 */
export function checkLengths(lengths: unknown, argument: string): ArrayLike<number> {
  if (!Array.isArray(lengths) && !(ArrayBuffer.isView(lengths) && !(lengths instanceof DataView))) {
    throw expectationError('E_VALUE', argument, 'an array of non-negative integers', describeValue(lengths));
  }
  const values = lengths as ArrayLike<unknown>;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > INT32_MAX) {
      throw expectationError(
        'E_VALUE',
        argument,
        'integers in [0, 2^31 - 1]',
        `${argument}[${i}] = ${describeValue(value)}`,
      );
    }
  }
  return values as ArrayLike<number>;
}

/**
 * A well-formed host tensor of at least `minRank` dimensions. Delegates the storage and element-count checks to
 * core's `hostTensor` so that every package agrees on what a valid tensor is.
 */
export function checkHostTensor(value: unknown, argument: string, layout: string, minRank: number): HostTensor {
  if (value === null || typeof value !== 'object' || !('data' in value) || !('shape' in value) || !('dtype' in value)) {
    throw expectationError('E_SHAPE', argument, `a HostTensor of shape ${layout}`, describeValue(value));
  }
  const { data, shape, dtype } = value as HostTensor;
  hostTensor(data, shape, dtype, argument);
  if (shape.length < minRank) {
    throw expectationError('E_SHAPE', argument, `a tensor of shape ${layout}`, `shape ${formatShape(shape)}`);
  }
  return value as HostTensor;
}

/**
 * Row indices into the first axis of a tensor with `rows` rows: an `Int32Array` (returned as it is) or plain
 * integers (checked one by one, then copied into an `Int32Array`). With `distinct`, a repeated index is an error:
 * scattering two rows into one slot would silently drop one of them.
 */
export function checkIndices(indices: unknown, argument: string, rows: number, distinct: boolean): Int32Array {
  const values = indices instanceof Int32Array ? indices : toIndices(indices, argument);
  const seen = distinct ? new Uint8Array(rows) : undefined;
  for (let i = 0; i < values.length; i++) {
    const index = values[i] as number;
    if (index < 0 || index >= rows) {
      throw expectationError('E_VALUE', argument, `indices in [0, ${rows})`, `${argument}[${i}] = ${index}`);
    }
    if (seen) {
      if (seen[index]) {
        throw new FaError('E_VALUE', `Expected distinct indices in \`${argument}\`, received ${index} twice.`, {
          argument,
          expected: 'distinct indices',
          received: `${index} repeated at ${argument}[${i}]`,
        });
      }
      seen[index] = 1;
    }
  }
  return values;
}

/** Plain integer indices → an Int32Array, refusing what the conversion would mangle (NaN, 1.5, 2^31). */
function toIndices(indices: unknown, argument: string): Int32Array {
  if (!Array.isArray(indices) && !(ArrayBuffer.isView(indices) && !(indices instanceof DataView))) {
    throw expectationError(
      'E_DTYPE',
      argument,
      'an Int32Array or an array of integers (number[])',
      describeValue(indices),
    );
  }
  const values = indices as ArrayLike<unknown>;
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > INT32_MAX) {
      throw expectationError('E_VALUE', argument, 'integer indices', `${argument}[${i}] = ${describeValue(value)}`);
    }
    out[i] = value;
  }
  return out;
}
