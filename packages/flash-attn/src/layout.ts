import type { DType, HostTensor, StorageFor } from '@fa/core';

/**
 * Host-side layout changes for the packed and padded entry points. They run where the data is in host memory;
 * backends that hold tensors elsewhere pay one transfer each way, which the docs of those entry points state.
 */

type Storage = StorageFor<DType>;

function allocLike(data: Storage, length: number): Storage {
  return new (data.constructor as { new (n: number): Storage })(length);
}

/** `(n, parts, ...rest)` → `parts` tensors of `(n, ...rest)`. */
export function splitSecondAxis(host: HostTensor, parts: number): HostTensor[] {
  const [n, p, ...rest] = host.shape as [number, number, ...number[]];
  const inner = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: parts }, (_, part) => {
    const out = allocLike(host.data, n * inner);
    for (let i = 0; i < n; i++) {
      const from = (i * p + part) * inner;
      out.set(host.data.subarray(from, from + inner), i * inner);
    }
    return { data: out, shape: [n, ...rest], dtype: host.dtype } as HostTensor;
  });
}

/** Inverse of `splitSecondAxis`: tensors of `(n, ...rest)` → `(n, parts, ...rest)`. */
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
