/**
 * Stable error codes. Programs branch on `code`; the message is for people.
 */
export type FaErrorCode =
  | 'E_SHAPE'
  | 'E_DTYPE'
  | 'E_CU_SEQLENS'
  | 'E_VALUE'
  | 'E_UNSUPPORTED'
  | 'E_BACKEND_UNAVAILABLE'
  | 'E_BACKEND_MISMATCH'
  | 'E_DISPOSED'
  | 'E_DEVICE_LOST'
  | 'E_LIMIT';

export interface FaErrorDetails {
  /** The argument at fault, as the caller named it, e.g. `cuSeqlensQ` or `q`. */
  readonly argument?: string;
  readonly expected?: string;
  readonly received?: string;
  readonly cause?: unknown;
}

/** The one error class of the library: every failure a caller can cause is an `FaError` with a stable `code`. */
export class FaError extends Error {
  override readonly name = 'FaError';
  readonly code: FaErrorCode;
  readonly argument: string | undefined;
  readonly expected: string | undefined;
  readonly received: string | undefined;

  constructor(code: FaErrorCode, message: string, details: FaErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.argument = details.argument;
    this.expected = details.expected;
    this.received = details.received;
  }
}

/** Builds the canonical "Expected X for `name`, received Y" error. */
export function expectationError(code: FaErrorCode, argument: string, expected: string, received: string): FaError {
  return new FaError(code, `Expected ${expected} for \`${argument}\`, received ${received}.`, {
    argument,
    expected,
    received,
  });
}

export function isFaError(value: unknown, code?: FaErrorCode): value is FaError {
  return value instanceof FaError && (code === undefined || value.code === code);
}

/** An options bag: a plain object, not null, an array or a typed array (those are a caller's slip). */
export function isOptionsBag(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** Throws the typed error for anything that is not an options bag; `expected` describes the bag for the message. */
export function checkOptionsBag(
  value: unknown,
  argument: string,
  expected: string,
): asserts value is Record<string, unknown> {
  if (!isOptionsBag(value)) throw expectationError('E_VALUE', argument, expected, describeValue(value));
}

/** A short, safe description of any value for error messages (never dumps a whole array). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'function') return 'a function';
  if (ArrayBuffer.isView(value)) {
    const length = 'length' in value ? (value as { length: number }).length : value.byteLength;
    return `${value.constructor.name}(${length})`;
  }
  if (Array.isArray(value)) {
    const head = value.slice(0, 6).map(describeValue).join(', ');
    return `[${head}${value.length > 6 ? ', …' : ''}] (array of ${value.length})`;
  }
  const ctor = (value as object).constructor;
  return ctor && ctor !== Object ? `an instance of ${ctor.name}` : 'an object';
}
