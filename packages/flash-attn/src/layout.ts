import type { DType, HostTensor, StorageFor, TensorLayout } from '@fa/core';

/**
 * Host-side layout changes: gathering a strided view (for a backend whose kernels read only dense tensors), packing
 * the gradients of the packed entry points and the padded lse's axis swap. They run where the data is in host
 * memory; backends that hold tensors elsewhere pay one transfer each way, which the docs of those entry points
 * state.
 */

type Storage = StorageFor<DType>;

function allocLike(data: Storage, length: number): Storage {
  return new (data.constructor as { new (n: number): Storage })(length);
}

/** Tensors of `(n, ...rest)` → `(n, parts, ...rest)`: packs the gradients of the packed entry points. */
export function stackSecondAxis(hosts: readonly HostTensor[]): HostTensor {
  const first = hosts[0] as HostTensor;
  const [n, ...rest] = first.shape as [number, ...number[]];
  const inner = rest.reduce((a, b) => a * b, 1);
  const parts = hosts.length;
  const out = allocLike(first.data, n * parts * inner);
  hosts.forEach((host, part) => {
    for (let i = 0; i < n; i++) out.set(host.data.subarray(i * inner, (i + 1) * inner), (i * parts + part) * inner);
  });
  return { data: out, shape: [n, parts, ...rest], dtype: first.dtype } as HostTensor;
}

/** `(a, b, c)` → `(b, a, c)`: swaps the two leading axes, as between lse `(H, B, S)` and `(B, H, S)`. */
export function swapLeadingAxes(host: HostTensor): HostTensor {
  const [a, b, ...rest] = host.shape as [number, number, ...number[]];
  const inner = rest.reduce((x, y) => x * y, 1);
  const out = allocLike(host.data, host.data.length);
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++)
      out.set(host.data.subarray((i * b + j) * inner, (i * b + j + 1) * inner), (j * a + i) * inner);
  }
  return { data: out, shape: [b, a, ...rest], dtype: host.dtype } as HostTensor;
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
