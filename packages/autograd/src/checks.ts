import { checkKnownKeys, checkOptionsBag, describeValue, expectationError, isValidShape } from '@fa/core';

/**
 * Argument checks for the public edges of the package. Each runs once per call and looks at the argument itself,
 * never at every element of a tensor, so ops stay as fast as before on valid input.
 */

/** The largest element count a result may have; beyond it typed-array allocation throws a bare RangeError. */
export const MAX_ELEMENTS = 2 ** 32 - 1;

/**
 * Host storage of a variable. Training runs in float32; `gradcheck` runs in float64. An op's result and every
 * gradient have the storage type of the op's inputs. Defined here, beside its check, so that this module
 * imports nothing of the package: `variable.ts` imports it and re-exports the type.
 */
export type Float = Float32Array | Float64Array;

export function isFloat(value: unknown): value is Float {
  return value instanceof Float32Array || value instanceof Float64Array;
}

export function checkFloatData(value: unknown, argument: string): Float {
  if (!isFloat(value)) {
    throw expectationError('E_DTYPE', argument, 'a Float32Array or Float64Array', describeValue(value));
  }
  return value;
}

export function checkShape(value: unknown, argument: string): readonly number[] {
  if (!isValidShape(value)) {
    throw expectationError('E_SHAPE', argument, 'an array of non-negative integers', describeValue(value));
  }
  return value;
}

/**
 * An options bag of `knownKeys`: `undefined` stands for `{}`. Arrays and typed arrays are rejected because every
 * property read on them would silently come back undefined and hide the mistake; a key not in `knownKeys` is a
 * typo that would do the same.
 */
export function checkOptions<T extends object>(
  value: T | undefined,
  knownKeys: readonly (keyof T & string)[],
  argument = 'options',
): Partial<T> {
  if (value === undefined) return {};
  checkOptionsBag(value, argument, 'an options object');
  checkKnownKeys(value, argument, knownKeys);
  return value;
}

/**
 * The options bag of an attention call: only `knownKeys`, and its required offsets there at all. A bag without
 * them is a wrong `options`, while offsets that are present but malformed are named by the façade (`cuSeqlensQ`,
 * ...). Keys are checked first, so that a misspelt offset is named as the typo it is rather than as missing.
 */
export function checkAttnOptions(options: unknown, required: readonly string[], knownKeys: readonly string[]): void {
  const expected = `an options object with ${required.join(' and ')}`;
  checkOptionsBag(options, 'options', expected);
  checkKnownKeys(options, 'options', knownKeys);
  const missing = required.filter((key) => options[key] === undefined);
  if (missing.length > 0) {
    throw expectationError('E_VALUE', 'options', expected, `an object without ${missing.join(' and ')}`);
  }
}

export function checkFunction(value: unknown, argument: string): void {
  if (typeof value !== 'function') throw expectationError('E_VALUE', argument, 'a function', describeValue(value));
}

export function checkInt32Array(value: unknown, argument: string): Int32Array {
  if (!(value instanceof Int32Array)) {
    const hint = ArrayBuffer.isView(value) || Array.isArray(value) ? ' (convert with Int32Array.from)' : '';
    throw expectationError('E_DTYPE', argument, `an Int32Array${hint}`, describeValue(value));
  }
  return value;
}

/** A number with `ok(value)`, where `ok` says the range in `expected`; `undefined` gives `fallback`. */
export function checkNumber(
  value: unknown,
  argument: string,
  expected: string,
  ok: (value: number) => boolean,
  fallback?: number,
): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !ok(value))
    throw expectationError('E_VALUE', argument, expected, describeValue(value));
  return value;
}

export const isPositiveFinite = (v: number): boolean => Number.isFinite(v) && v > 0;
export const isNonNegativeFinite = (v: number): boolean => Number.isFinite(v) && v >= 0;
export const isCount = (v: number): boolean => Number.isSafeInteger(v) && v >= 0 && v <= MAX_ELEMENTS;

export function checkOptionalBoolean(value: unknown, argument: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw expectationError('E_VALUE', argument, 'a boolean', describeValue(value));
  }
  return value;
}

export function checkOptionalString(value: unknown, argument: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') {
    throw expectationError('E_VALUE', argument, 'a string', describeValue(value));
  }
  return value;
}
