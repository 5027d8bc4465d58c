import { hostTensor } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { expectFaError } from '../test/expect-fa-error.js';
import { indexFirstAxis } from './index-first-axis.js';

describe('indexFirstAxis', () => {
  const tensor = hostTensor(
    Int32Array.from({ length: 5 * 3 }, (_, i) => 10 + i),
    [5, 3],
    'i32',
  );

  it('gathers rows in index order, repeats allowed', () => {
    const out = indexFirstAxis(tensor, Int32Array.from([4, 0, 4]));
    expect(out.shape).toEqual([3, 3]);
    expect(out.dtype).toBe('i32');
    expect([...out.data]).toEqual([22, 23, 24, 10, 11, 12, 22, 23, 24]);
  });

  it('gathers single elements of a rank-1 tensor and nothing for no indices', () => {
    const vector = hostTensor(Uint16Array.from([7, 9, 11]), [3], 'bf16');
    const out = indexFirstAxis(vector, Int32Array.from([2, 1]));
    expect(out.data).toEqual(Uint16Array.from([11, 9]));
    expect(out.dtype).toBe('bf16');
    expect(indexFirstAxis(tensor, new Int32Array(0)).shape).toEqual([0, 3]);
  });

  it('rejects bad tensors and indices', () => {
    expectFaError(() => indexFirstAxis(null as never, Int32Array.from([0])), 'E_SHAPE', 'tensor');
    const scalar = hostTensor(Float32Array.from([3]), [], 'f32');
    expectFaError(() => indexFirstAxis(scalar, Int32Array.from([0])), 'E_SHAPE', 'tensor');
    expectFaError(() => indexFirstAxis(tensor, 'indices' as never), 'E_DTYPE', 'indices');
    expectFaError(() => indexFirstAxis(tensor, [1, 2.5]), 'E_VALUE', 'indices');
    expect(indexFirstAxis(tensor, [1, 2])).toEqual(indexFirstAxis(tensor, Int32Array.of(1, 2)));
    expect(indexFirstAxis(tensor, Uint8Array.of(1))).toEqual(indexFirstAxis(tensor, Int32Array.of(1)));
    const past = expectFaError(() => indexFirstAxis(tensor, Int32Array.from([1, 5])), 'E_VALUE', 'indices');
    expect(past.message).toContain('indices[1] = 5');
    expectFaError(() => indexFirstAxis(tensor, Int32Array.from([-1])), 'E_VALUE', 'indices');
  });
});
