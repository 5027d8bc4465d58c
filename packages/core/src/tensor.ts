import { checkDType, type DType, type FloatDType, isDType, type StorageFor } from './dtype.js';
import { describeValue, expectationError, FaError } from './errors.js';

/** A tensor in host memory: a typed array in row-major order, its shape and its dtype. */
export interface HostTensor<D extends DType = DType> {
  readonly data: StorageFor<D>;
  readonly shape: readonly number[];
  readonly dtype: D;
}

export type FloatHostTensor = HostTensor<FloatDType>;

export function numel(shape: readonly number[]): number {
  if (!isValidShape(shape)) {
    throw expectationError('E_SHAPE', 'shape', 'an array of non-negative integers', describeValue(shape));
  }
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Formats a shape for messages; anything that is not an array is described rather than trusted. */
export function formatShape(shape: readonly number[]): string {
  if (!Array.isArray(shape)) return describeValue(shape);
  return `(${shape.map((d) => (typeof d === 'number' ? String(d) : describeValue(d))).join(', ')}${shape.length === 1 ? ',' : ''})`;
}

export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  if (!Array.isArray(a) || !Array.isArray(b)) return false;
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function isValidShape(shape: unknown): shape is readonly number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** The storage type each dtype requires, for validation and error messages. */
export function storageTypeName(dtype: DType): string {
  checkDType(dtype, 'dtype');
  switch (dtype) {
    case 'f32':
      return 'Float32Array';
    case 'i32':
      return 'Int32Array';
    default:
      return 'Uint16Array (raw bits)';
  }
}

export function storageMatches(data: unknown, dtype: DType): boolean {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array;
    case 'i32':
      return data instanceof Int32Array;
    default:
      return data instanceof Uint16Array;
  }
}

/** Infers the dtype of plain typed-array data: Float32Array → f32, Int32Array → i32, Uint16Array needs a dtype. */
export function inferDType(data: unknown, argument: string): DType {
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Int32Array) return 'i32';
  throw expectationError(
    'E_DTYPE',
    argument,
    'a Float32Array or Int32Array (pass `dtype` explicitly for f16/bf16 bits in a Uint16Array)',
    describeValue(data),
  );
}

/** Checks that `value` is a host tensor `{ data, shape, dtype }` whose data matches its shape and dtype. */
export function checkHostTensor(value: unknown, argument: string): HostTensor {
  if (value === null || typeof value !== 'object' || !('data' in value) || !('shape' in value) || !('dtype' in value)) {
    throw expectationError('E_VALUE', argument, 'a tensor { data, shape, dtype }', describeValue(value));
  }
  const { data, shape, dtype } = value as HostTensor;
  return hostTensor(data, shape, dtype, argument);
}

/** Builds a validated host tensor. `data.length` must equal the product of `shape`. */
export function hostTensor<D extends DType>(
  data: StorageFor<D>,
  shape: readonly number[],
  dtype: D,
  argument = 'data',
): HostTensor<D> {
  if (!isDType(dtype)) {
    throw expectationError('E_DTYPE', `${argument}.dtype`, "one of 'f32', 'f16', 'bf16', 'i32'", describeValue(dtype));
  }
  if (!storageMatches(data, dtype)) {
    throw expectationError(
      'E_DTYPE',
      argument,
      `a ${storageTypeName(dtype)} for dtype '${dtype}'`,
      describeValue(data),
    );
  }
  if (!isValidShape(shape)) {
    throw expectationError('E_SHAPE', `${argument}.shape`, 'an array of non-negative integers', describeValue(shape));
  }
  if (numel(shape) !== data.length) {
    throw new FaError(
      'E_SHAPE',
      `Expected ${numel(shape)} elements for \`${argument}\` of shape ${formatShape(shape)}, received ${data.length}.`,
      { argument, expected: `${numel(shape)} elements`, received: `${data.length}` },
    );
  }
  return { data, shape: [...shape], dtype };
}
