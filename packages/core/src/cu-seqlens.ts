import { describeValue, expectationError, FaError } from './errors.js';

const INT32_MAX = 2147483647;

/**
 * What callers may pass where cu_seqlens are expected: an `Int32Array`, or plain integers (`number[]`, another
 * typed array, any array-like of numbers), converted once at the public edge by `resolveCuSeqlens`.
 */
export type CuSeqlensInput = Int32Array | ArrayLike<number>;

/**
 * Checks cu_seqlens: batch + 1 offsets that start at 0, never decrease and end at the token count. Takes every
 * `CuSeqlensInput`; returns the batch size.
 */
export function checkCuSeqlens(cuSeqlens: unknown, argument: string, totalTokens?: number): number {
  return resolveCuSeqlens(cuSeqlens, argument, totalTokens).length - 1;
}

/**
 * The one conversion and validation of a cu_seqlens argument: an `Int32Array` is checked and returned as it is;
 * plain integers are checked one by one (an Int32Array would silently turn NaN into 0, 1.5 into 1 and 2^31 into a
 * negative number) and copied into a new `Int32Array`. Every entry point that takes cu_seqlens calls this once.
 */
export function resolveCuSeqlens(cuSeqlens: unknown, argument: string, totalTokens?: number): Int32Array {
  if (totalTokens !== undefined && !(Number.isSafeInteger(totalTokens) && totalTokens >= 0)) {
    throw expectationError('E_VALUE', 'totalTokens', 'a non-negative integer', describeValue(totalTokens));
  }
  const offsets = cuSeqlens instanceof Int32Array ? cuSeqlens : toCuSeqlens(cuSeqlens, argument);
  if (offsets.length < 1) {
    throw expectationError(
      'E_CU_SEQLENS',
      argument,
      'at least one entry (batch + 1 cumulative offsets)',
      cuSeqlens instanceof Int32Array ? 'an empty Int32Array' : 'an empty array',
    );
  }
  if (offsets[0] !== 0) {
    throw expectationError('E_CU_SEQLENS', argument, 'a first entry of 0', `${argument}[0] = ${offsets[0]}`);
  }
  for (let b = 1; b < offsets.length; b++) {
    const previous = offsets[b - 1] as number;
    const current = offsets[b] as number;
    if (current < previous) {
      throw new FaError(
        'E_CU_SEQLENS',
        `Expected non-decreasing offsets in \`${argument}\`, received ${argument}[${b - 1}] = ${previous} > ${argument}[${b}] = ${current}.`,
        { argument, expected: 'non-decreasing offsets', received: `${previous} then ${current}` },
      );
    }
  }
  const last = offsets[offsets.length - 1] as number;
  if (totalTokens !== undefined && last !== totalTokens) {
    throw new FaError(
      'E_CU_SEQLENS',
      `Expected the last entry of \`${argument}\` to equal the token count ${totalTokens}, received ${last}.`,
      { argument, expected: `last entry ${totalTokens}`, received: String(last) },
    );
  }
  return offsets;
}

/** Arrays, typed arrays (not DataView) and other objects with a length: what `ArrayLike<number>` admits. */
function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  if (Array.isArray(value)) return true;
  if (ArrayBuffer.isView(value)) return !(value instanceof DataView);
  if (value === null || typeof value !== 'object') return false;
  const { length } = value as { length?: unknown };
  return typeof length === 'number' && Number.isSafeInteger(length) && length >= 0;
}

/**
 * Converts plain numbers to cu_seqlens, rejecting what an Int32Array would silently mangle
 * (NaN becomes 0, 2^31 wraps negative, 1.5 truncates).
 */
export function toCuSeqlens(values: unknown, argument: string): Int32Array {
  if (!isArrayLike(values)) {
    throw expectationError(
      'E_CU_SEQLENS',
      argument,
      'an Int32Array or an array of integers (number[])',
      describeValue(values),
    );
  }
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > INT32_MAX) {
      throw expectationError(
        'E_CU_SEQLENS',
        argument,
        'integers in [0, 2^31 - 1]',
        `${argument}[${i}] = ${describeValue(value)}`,
      );
    }
    out[i] = value;
  }
  return out;
}

/** The longest sequence described by a (valid) cu_seqlens array. */
export function maxSeqlenOf(cuSeqlens: CuSeqlensInput): number {
  const offsets = resolveCuSeqlens(cuSeqlens, 'cuSeqlens');
  let max = 0;
  for (let b = 1; b < offsets.length; b++) {
    max = Math.max(max, (offsets[b] as number) - (offsets[b - 1] as number));
  }
  return max;
}
