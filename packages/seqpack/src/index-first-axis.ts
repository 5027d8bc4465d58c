import type { DType, HostTensor, StorageFor } from '@fa/core';
import { numel } from '@fa/core';
import { checkHostTensor, checkIndices } from './validate.js';

/** Zero-filled storage of the same typed-array class, so a tensor keeps its dtype through gathers and scatters. */
function allocLike<D extends DType>(data: StorageFor<D>, length: number): StorageFor<D> {
  return new (data.constructor as new (length: number) => StorageFor<D>)(length);
}

/**
 * `out[r] = tensor[indices[r]]` along the first axis: `(N, ...rest)` → `(indices.length, ...rest)`, in any dtype.
 * Indices may repeat.
 */
export function indexFirstAxis<D extends DType>(
  tensor: HostTensor<D>,
  indices: Int32Array | ArrayLike<number>,
): HostTensor<D> {
  checkHostTensor(tensor, 'tensor', '(rows, ...)', 1);
  return gatherRows(tensor, checkIndices(indices, 'indices', tensor.shape[0] as number, false));
}

/** The unchecked gather behind `indexFirstAxis`, for callers that produced `indices` themselves. */
export function gatherRows<D extends DType>(tensor: HostTensor<D>, indices: Int32Array): HostTensor<D> {
  const row = numel(tensor.shape.slice(1));
  const data = allocLike(tensor.data, indices.length * row);
  for (let r = 0; r < indices.length; r++) {
    const from = (indices[r] as number) * row;
    data.set(tensor.data.subarray(from, from + row), r * row);
  }
  return { data, shape: [indices.length, ...tensor.shape.slice(1)], dtype: tensor.dtype };
}

/**
 * `out[indices[r]] = tensor[r]` into `rows` zero-filled rows: the inverse of a gather with distinct indices.
 * Unchecked: callers validate that indices are distinct and in range.
 */
export function scatterRows<D extends DType>(tensor: HostTensor<D>, indices: Int32Array, rows: number): HostTensor<D> {
  const row = numel(tensor.shape.slice(1));
  const data = allocLike(tensor.data, rows * row);
  for (let r = 0; r < indices.length; r++) {
    data.set(tensor.data.subarray(r * row, (r + 1) * row), (indices[r] as number) * row);
  }
  return { data, shape: [rows, ...tensor.shape.slice(1)], dtype: tensor.dtype };
}
