import type { InterleavePart } from './backend.js';
import type { DType, StorageFor } from './dtype.js';
import type { HostTensor } from './tensor.js';

/**
 * `interleave` in host memory, for backends whose handles are host tensors and for the façade's fallback:
 * `out[(r·P + p)·R + i] = parts[p].handle.data[parts[p].offset + r·R + i]`, with `P = parts.length`, `R = rowElements`.
 */
export function interleaveHost(
  parts: readonly InterleavePart<HostTensor>[],
  rows: number,
  rowElements: number,
  dtype: DType,
): HostTensor {
  const first = parts[0]?.handle.data;
  const Storage = (first?.constructor ?? Float32Array) as new (n: number) => StorageFor<DType>;
  const data = new Storage(rows * parts.length * rowElements);
  parts.forEach(({ handle, offset }, p) => {
    for (let r = 0; r < rows; r++) {
      const from = offset + r * rowElements;
      data.set(handle.data.subarray(from, from + rowElements) as never, (r * parts.length + p) * rowElements);
    }
  });
  return { data, shape: [rows, parts.length, rowElements], dtype } as HostTensor;
}
