import { type AttentionBackend, encodeFromFloat, type FloatDType, type TensorLayout } from '@fa/core';
import type { Random } from './random.js';

/**
 * Helpers for the backends' strided-view tests: storage drawn from the one generator, the dense elements a layout
 * describes, the bits of a storage, and a backend wrapper that counts every transfer.
 */

export type FloatStorage = Float32Array | Uint16Array;

/** `n` values in [-1, 1), never zero, encoded in `dtype`. */
export function randomStorage(random: Random, n: number, dtype: FloatDType): FloatStorage {
  return encodeFromFloat(
    Array.from({ length: n }, () => random.next() * 2 - 1 || 0.5),
    dtype,
  ) as FloatStorage;
}

/** The `(tokens, heads, dim)` elements a layout describes, gathered densely with their bits unchanged. */
export function gatherLayout(
  storage: FloatStorage,
  [tokens, heads, dim]: readonly [number, number, number],
  layout: TensorLayout,
): FloatStorage {
  const out = new (storage.constructor as new (n: number) => FloatStorage)(tokens * heads * dim);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const from = layout.offset + t * layout.tokenStride + h * layout.headStride;
      out.set(storage.subarray(from, from + dim) as never, (t * heads + h) * dim);
    }
  }
  return out;
}

/** Part `part` of a packed `(tokens, parts, heads, dim)` tensor, as the façade views it. */
export function packedPartLayout(parts: number, part: number, heads: number, dim: number): TensorLayout {
  return { offset: part * heads * dim, tokenStride: parts * heads * dim, headStride: dim };
}

/** The parts of a packed storage as dense arrays, bits unchanged. */
export function unpackParts(
  storage: FloatStorage,
  parts: number,
  shape: readonly [number, number, number],
): FloatStorage[] {
  return Array.from({ length: parts }, (_, p) =>
    gatherLayout(storage, shape, packedPartLayout(parts, p, shape[1], shape[2])),
  );
}

/** The bits of a storage, as 32- or 16-bit words. */
export function storageBits(data: FloatStorage): Uint32Array | Uint16Array {
  return data instanceof Float32Array ? new Uint32Array(data.buffer, data.byteOffset, data.length) : data;
}

/** Index of the first element that differs (-1 when none), so that a failure names a place, not 10k numbers. */
export function firstDifferentElement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

export interface TransferCounts {
  uploads: number;
  downloads: number;
}

/**
 * `inner` under another name, with every upload and download counted; without `interleave` (when `interleave` is
 * false) the façade interleaves in host memory, which is the path to compare the device's with.
 */
export function countingBackend<H>(
  inner: AttentionBackend<H>,
  name: string,
  interleave = true,
): { backend: AttentionBackend<H>; counts: TransferCounts } {
  const counts: TransferCounts = { uploads: 0, downloads: 0 };
  const backend: AttentionBackend<H> = {
    name,
    capabilities: inner.capabilities,
    upload: (t) => {
      counts.uploads++;
      return inner.upload(t);
    },
    download: (handle, shape, dtype) => {
      counts.downloads++;
      return inner.download(handle, shape, dtype);
    },
    dispose: (handle) => inner.dispose(handle),
    forward: (q, k, v, problem) => inner.forward(q, k, v, problem),
    backward: (dout, q, k, v, out, lse, problem) => inner.backward(dout, q, k, v, out, lse, problem),
    ...(interleave &&
      inner.interleave && {
        interleave: (parts, rows, rowElements, dtype) =>
          (inner.interleave as NonNullable<typeof inner.interleave>)(parts, rows, rowElements, dtype),
      }),
  };
  return { backend, counts };
}
