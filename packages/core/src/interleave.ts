import type { InterleavePart } from './backend.js';
import { checkDType, type DType, type StorageFor } from './dtype.js';
import { describeValue, expectationError } from './errors.js';
import type { HostTensor } from './tensor.js';

function checkCount(value: unknown, argument: string): number {
  if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) {
    throw expectationError('E_VALUE', argument, 'a non-negative integer', describeValue(value));
  }
  return value;
}

/**
 * `interleave` in host memory, for backends whose handles are host tensors and for the façade's fallback:
 * `out[(r·P + p)·R + i] = parts[p].handle.data[parts[p].offset + r·R + i]`, with `P = parts.length`, `R = rowElements`.
 * Every part must hold its `rows` rows and share the storage type of `dtype`.
 */
export function interleaveHost(
  parts: readonly InterleavePart<HostTensor>[],
  rows: number,
  rowElements: number,
  dtype: DType,
): HostTensor {
  if (!Array.isArray(parts) || parts.length === 0) {
    throw expectationError('E_VALUE', 'parts', 'a non-empty array of { handle, offset }', describeValue(parts));
  }
  checkCount(rows, 'rows');
  checkCount(rowElements, 'rowElements');
  checkDType(dtype, 'dtype');
  const storage = { f32: Float32Array, i32: Int32Array, f16: Uint16Array, bf16: Uint16Array }[dtype];
  parts.forEach((part, p) => {
    const data = (part as { handle?: { data?: unknown } } | null)?.handle?.data;
    const offset = (part as { offset?: unknown } | null)?.offset;
    if (!(data instanceof storage) || !(typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0)) {
      throw expectationError(
        'E_VALUE',
        `parts[${p}]`,
        `{ handle: a host tensor of ${dtype} storage, offset: a non-negative integer }`,
        describeValue(part),
      );
    }
    if (offset + rows * rowElements > data.length) {
      throw expectationError(
        'E_SHAPE',
        `parts[${p}]`,
        `${rows} rows of ${rowElements} elements from element ${offset}`,
        `storage of ${data.length} elements`,
      );
    }
  });
  const data = new storage(rows * parts.length * rowElements) as StorageFor<DType>;
  parts.forEach(({ handle, offset }, p) => {
    for (let r = 0; r < rows; r++) {
      const from = offset + r * rowElements;
      data.set(handle.data.subarray(from, from + rowElements) as never, (r * parts.length + p) * rowElements);
    }
  });
  return { data, shape: [rows, parts.length, rowElements], dtype } as HostTensor;
}
