import { type CuSeqlensInput, checkCuSeqlens, FaError, maxSeqlenOf, optionKeys, resolveCuSeqlens } from '@fa/core';
import { checkInteger, checkLengths, checkOptions, INT32_MAX } from './validate.js';

export interface ValidateCuSeqlensOptions {
  /** The number of packed tokens the offsets must end at, e.g. the first dimension of `q`. */
  readonly totalTokens?: number;
  /** The name errors give the array; defaults to `cuSeqlens`. */
  readonly argument?: string;
}

const VALIDATE_OPTION_KEYS = optionKeys<ValidateCuSeqlensOptions>()(['totalTokens', 'argument']);

/**
 * Checks cu_seqlens: batch + 1 offsets (an Int32Array or plain integers) that start at 0, never decreases and (when
 * `totalTokens` is given) ends at the token count. Returns the batch size. Throws `E_CU_SEQLENS` otherwise.
 */
export function validateCuSeqlens(cuSeqlens: unknown, options: ValidateCuSeqlensOptions = {}): number {
  const { totalTokens, argument = 'cuSeqlens' } = checkOptions(
    options,
    'options',
    'an options object { totalTokens?, argument? }',
    VALIDATE_OPTION_KEYS,
  ) as ValidateCuSeqlensOptions;
  if (totalTokens !== undefined) checkInteger(totalTokens, 'totalTokens', 0, INT32_MAX);
  return checkCuSeqlens(cuSeqlens, argument, totalTokens);
}

/**
 * `[2, 0, 3]` → `[0, 2, 2, 5]`. Rejects negative, fractional and NaN lengths (`E_VALUE`), and a total past
 * 2^31 - 1 tokens, which an Int32Array offset would wrap to a negative number.
 */
export function cuSeqlensFromLengths(lengths: ArrayLike<number>): Int32Array {
  const values = checkLengths(lengths, 'lengths');
  const cuSeqlens = new Int32Array(values.length + 1);
  let total = 0;
  for (let b = 0; b < values.length; b++) {
    total += values[b] as number;
    if (total > INT32_MAX) {
      throw new FaError(
        'E_VALUE',
        `Expected at most 2^31 - 1 tokens in total for \`lengths\`, received a running sum of ${total} at lengths[${b}].`,
        { argument: 'lengths', expected: 'a total of at most 2^31 - 1', received: String(total) },
      );
    }
    cuSeqlens[b + 1] = total;
  }
  return cuSeqlens;
}

/** `[0, 2, 2, 5]` → `[2, 0, 3]`. */
export function lengthsFromCuSeqlens(cuSeqlens: CuSeqlensInput): Int32Array {
  const offsets = resolveCuSeqlens(cuSeqlens, 'cuSeqlens');
  const lengths = new Int32Array(offsets.length - 1);
  for (let b = 0; b < lengths.length; b++) lengths[b] = (offsets[b + 1] as number) - (offsets[b] as number);
  return lengths;
}

/** The longest sequence, as kernels want it for `maxSeqlenQ`/`maxSeqlenK`; 0 for an empty batch. */
export function maxSeqlen(cuSeqlens: CuSeqlensInput): number {
  return maxSeqlenOf(resolveCuSeqlens(cuSeqlens, 'cuSeqlens'));
}

/**
 * Position of every packed token within its own sequence: `[0, 2, 5]` → `[0, 1, 0, 1, 2]`. Rotary embeddings
 * need these restarts, or the second document of a pack would be encoded as a continuation of the first.
 */
export function positionIds(cuSeqlens: CuSeqlensInput): Int32Array {
  const offsets = resolveCuSeqlens(cuSeqlens, 'cuSeqlens');
  const batch = offsets.length - 1;
  const ids = new Int32Array(offsets[batch] as number);
  for (let b = 0; b < batch; b++) {
    const start = offsets[b] as number;
    const end = offsets[b + 1] as number;
    for (let t = start; t < end; t++) ids[t] = t - start;
  }
  return ids;
}
