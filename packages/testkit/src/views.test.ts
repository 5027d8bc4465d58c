import { createReferenceBackend, type HostTensor } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { Random } from './random.js';
import {
  countingBackend,
  firstDifferentElement,
  gatherLayout,
  packedPartLayout,
  randomStorage,
  storageBits,
  unpackParts,
} from './views.js';

describe('view helpers', () => {
  it('draw storage from the one generator, never zero, in each dtype', () => {
    const a = randomStorage(new Random(7), 64, 'f32');
    expect(a).toEqual(randomStorage(new Random(7), 64, 'f32'));
    expect(Array.from(a).every((x) => x !== 0 && x >= -1 && x < 1)).toBe(true);
    expect(randomStorage(new Random(7), 9, 'bf16')).toBeInstanceOf(Uint16Array);
  });

  it('gather what a layout describes, and unpack packed parts', () => {
    // Two tokens of (parts 2, heads 2, dim 3): element value = its index.
    const storage = Float32Array.from({ length: 24 }, (_, i) => i);
    expect(Array.from(gatherLayout(storage, [2, 2, 3], packedPartLayout(2, 1, 2, 3)))).toEqual([
      6, 7, 8, 9, 10, 11, 18, 19, 20, 21, 22, 23,
    ]);
    const [first] = unpackParts(storage, 2, [2, 2, 3]);
    expect(Array.from(first as Float32Array)).toEqual([0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17]);
    const padded = gatherLayout(storage, [2, 1, 2], { offset: 1, tokenStride: 5, headStride: 9 });
    expect(Array.from(padded)).toEqual([1, 2, 6, 7]);
  });

  it('compare bits, naming the first differing element', () => {
    const a = Float32Array.of(1, -0, Number.NaN);
    expect(firstDifferentElement(storageBits(a), storageBits(Float32Array.of(1, -0, Number.NaN)))).toBe(-1);
    expect(firstDifferentElement(storageBits(a), storageBits(Float32Array.of(1, 0, Number.NaN)))).toBe(1);
    expect(firstDifferentElement([1, 2], [1])).toBe(1);
  });

  it('count every transfer through a wrapped backend, and pass interleave on only when asked', async () => {
    const inner = {
      ...createReferenceBackend('inner'),
      interleave: async () => ({ data: new Float32Array(0), shape: [0], dtype: 'f32' }) as HostTensor,
    };
    const { backend, counts } = countingBackend(inner, 'counted');
    const handle = await backend.upload({ data: Float32Array.of(1, 2), shape: [2], dtype: 'f32' });
    await backend.download(handle, [2], 'f32');
    await backend.download(handle, [2], 'f32');
    expect(counts).toEqual({ uploads: 1, downloads: 2 });
    expect(backend.name).toBe('counted');
    expect(typeof backend.interleave).toBe('function');
    expect(countingBackend(inner, 'plain', false).backend.interleave).toBeUndefined();
  });
});
