import type { DType, StorageFor, TensorLayout } from '@fa/core';

/**
 * Gathering a strided view densely in host memory, for a backend whose kernels read only dense tensors: what the
 * façade hands such a backend in place of a packed tensor's parts.
 */

type Storage = StorageFor<DType>;

function allocLike(data: Storage, length: number): Storage {
  return new (data.constructor as { new (n: number): Storage })(length);
}

/** The `(tokens, heads, dim)` elements of a strided view, gathered densely from the storage it views. */
export function gatherView<S extends Storage>(storage: S, shape: readonly number[], layout: TensorLayout): S {
  const [tokens = 0, heads = 0, dim = 0] = shape;
  const out = allocLike(storage, tokens * heads * dim) as S;
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const from = layout.offset + t * layout.tokenStride + h * layout.headStride;
      out.set(storage.subarray(from, from + dim) as never, (t * heads + h) * dim);
    }
  }
  return out;
}
