import { decodeToFloat32, describeValue, expectationError, FaError, formatShape, type HostTensor } from '@fa/core';
import { checkHostTensor } from './validate.js';

/**
 * A (batch, seqlen) mask: row-major flat `Uint8Array`, `Int32Array` or array of booleans/numbers, or a
 * `HostTensor` of shape (batch, seqlen) in any dtype.
 */
export type MaskInput = Uint8Array | Int32Array | readonly boolean[] | readonly number[] | HostTensor;

/**
 * Reads a mask in any accepted form as flat row-major integers, checking each entry with `accepts` (described by
 * `expected`) so that a caller learns which entry is wrong rather than getting a silently wrong packing.
 */
export function readMask(
  mask: unknown,
  argument: string,
  batch: number,
  seqlen: number,
  expected: string,
  accepts: (value: number) => boolean,
): Int32Array {
  const values = maskValues(mask, argument, batch, seqlen);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const raw = values[i];
    const value = typeof raw === 'boolean' ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value) || !accepts(value)) {
      const row = Math.floor(i / seqlen);
      throw expectationError(
        'E_VALUE',
        argument,
        expected,
        `${argument}[${row}][${i - row * seqlen}] = ${describeValue(raw)}`,
      );
    }
    out[i] = value;
  }
  return out;
}

function maskValues(mask: unknown, argument: string, batch: number, seqlen: number): ArrayLike<unknown> {
  const expectedShape = formatShape([batch, seqlen]);
  if (mask instanceof Uint8Array || mask instanceof Int32Array || Array.isArray(mask)) {
    if (mask.length !== batch * seqlen) {
      throw new FaError(
        'E_SHAPE',
        `Expected ${batch * seqlen} entries (batch × seqlen = ${expectedShape}, row-major) for \`${argument}\`, received ${mask.length}.`,
        { argument, expected: `${batch * seqlen} entries`, received: String(mask.length) },
      );
    }
    return mask;
  }
  if (mask !== null && typeof mask === 'object' && 'shape' in mask && !ArrayBuffer.isView(mask)) {
    const tensor = checkHostTensor(mask, argument, expectedShape, 2);
    if (tensor.shape.length !== 2 || tensor.shape[0] !== batch || tensor.shape[1] !== seqlen) {
      throw expectationError('E_SHAPE', argument, `shape ${expectedShape}`, `shape ${formatShape(tensor.shape)}`);
    }
    return tensor.dtype === 'i32'
      ? tensor.data
      : decodeToFloat32(tensor.data as Float32Array | Uint16Array, tensor.dtype);
  }
  throw expectationError(
    'E_DTYPE',
    argument,
    `a Uint8Array, Int32Array, boolean[] or number[] of ${batch * seqlen} entries, or a HostTensor of shape ${expectedShape}`,
    describeValue(mask),
  );
}
