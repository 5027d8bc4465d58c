import { describeValue, expectationError, FaError } from './errors.js';

const INT32_MAX = 2147483647;

/**
 * Checks a cu_seqlens array: an Int32Array of length batch + 1 that starts at 0, never decreases and ends at
 * the token count. Returns the batch size. Every entry point that takes cu_seqlens calls this once.
 */
export function checkCuSeqlens(cuSeqlens: unknown, argument: string, totalTokens?: number): number {
  if (totalTokens !== undefined && !(Number.isSafeInteger(totalTokens) && totalTokens >= 0)) {
    throw expectationError('E_VALUE', 'totalTokens', 'a non-negative integer', describeValue(totalTokens));
  }
  if (!(cuSeqlens instanceof Int32Array)) {
    const hint = ArrayBuffer.isView(cuSeqlens) || Array.isArray(cuSeqlens) ? ' (convert with Int32Array.from)' : '';
    throw expectationError('E_CU_SEQLENS', argument, `an Int32Array${hint}`, describeValue(cuSeqlens));
  }
  if (cuSeqlens.length < 1) {
    throw expectationError(
      'E_CU_SEQLENS',
      argument,
      'at least one entry (batch + 1 cumulative offsets)',
      'an empty Int32Array',
    );
  }
  if (cuSeqlens[0] !== 0) {
    throw expectationError('E_CU_SEQLENS', argument, 'a first entry of 0', `${argument}[0] = ${cuSeqlens[0]}`);
  }
  for (let b = 1; b < cuSeqlens.length; b++) {
    const previous = cuSeqlens[b - 1] as number;
    const current = cuSeqlens[b] as number;
    if (current < previous) {
      throw new FaError(
        'E_CU_SEQLENS',
        `Expected non-decreasing offsets in \`${argument}\`, received ${argument}[${b - 1}] = ${previous} > ${argument}[${b}] = ${current}.`,
        { argument, expected: 'non-decreasing offsets', received: `${previous} then ${current}` },
      );
    }
  }
  const last = cuSeqlens[cuSeqlens.length - 1] as number;
  if (totalTokens !== undefined && last !== totalTokens) {
    throw new FaError(
      'E_CU_SEQLENS',
      `Expected the last entry of \`${argument}\` to equal the token count ${totalTokens}, received ${last}.`,
      { argument, expected: `last entry ${totalTokens}`, received: String(last) },
    );
  }
  return cuSeqlens.length - 1;
}

/**
 * Converts plain numbers to cu_seqlens, rejecting what an Int32Array would silently mangle
 * (NaN becomes 0, 2^31 wraps negative, 1.5 truncates).
 */
export function toCuSeqlens(values: ArrayLike<number>, argument: string): Int32Array {
  if (!Array.isArray(values) && !(ArrayBuffer.isView(values) && !(values instanceof DataView))) {
    throw expectationError('E_CU_SEQLENS', argument, 'an array of integers', describeValue(values));
  }
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number;
    if (!Number.isInteger(value) || value < 0 || value > INT32_MAX) {
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
export function maxSeqlenOf(cuSeqlens: Int32Array): number {
  checkCuSeqlens(cuSeqlens, 'cuSeqlens');
  let max = 0;
  for (let b = 1; b < cuSeqlens.length; b++) {
    max = Math.max(max, (cuSeqlens[b] as number) - (cuSeqlens[b - 1] as number));
  }
  return max;
}
