import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '@fa/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInto, encodeFrom, sumHeadGroups } from './convert.js';

const special = [0, -0, 1, -1, 65504, 65505, 65520, -65520, 6.1e-5, 5.96e-8, 2.98e-8, 1e-9, 1e30, -1e-40, 3.4e38];
const specialValues = Float32Array.from([...special, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]);

describe('edge conversions', () => {
  it('encode f16 and bf16 exactly as @fa/core does, on every float32 bit pattern class', () => {
    const check = (values: Float32Array) => {
      const f16 = encodeFrom(values, 'f16');
      const bf16 = encodeFrom(values, 'bf16');
      values.forEach((x, i) => {
        expect(f16[i], `f16 of ${x}`).toBe(f32ToF16Bits(x));
        expect(bf16[i], `bf16 of ${x}`).toBe(f32ToBf16Bits(x));
      });
    };
    check(specialValues);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 64 }), (words) => {
        check(new Float32Array(Uint32Array.from(words).buffer));
      }),
    );
  });

  it('decode every f16 and bf16 bit pattern as @fa/core does', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f16 = new Float32Array(all.length);
    const bf16 = new Float32Array(all.length);
    decodeInto(all, 'f16', f16);
    decodeInto(all, 'bf16', bf16);
    const wrong: string[] = [];
    for (let i = 0; i < all.length; i++) {
      const f16Ok =
        Object.is(f16[i], Math.fround(f16BitsToF32(i))) || (Number.isNaN(f16[i]) && Number.isNaN(f16BitsToF32(i)));
      const bf16Ok = Object.is(bf16[i], bf16BitsToF32(i)) || (Number.isNaN(bf16[i]) && Number.isNaN(bf16BitsToF32(i)));
      if (!f16Ok) wrong.push(`f16 ${i}`);
      if (!bf16Ok) wrong.push(`bf16 ${i}`);
    }
    expect(wrong).toEqual([]);
  });

  it('copies f32 on encode, so callers own the result', () => {
    const values = Float32Array.from([1, 2]);
    const encoded = encodeFrom(values, 'f32');
    values[0] = 5;
    expect(encoded[0]).toBe(1);
  });

  it('sums the query heads of each group, in head order', () => {
    // rows 2, heads 4 in groups of 2, width 3
    const partial = Float32Array.from({ length: 2 * 4 * 3 }, (_, i) => i);
    const summed = sumHeadGroups(partial, 2, 4, 2, 3);
    const expected = [];
    for (let r = 0; r < 2; r++) {
      for (let g = 0; g < 2; g++) {
        for (let d = 0; d < 3; d++)
          expected.push(partial[(r * 4 + 2 * g) * 3 + d]! + partial[(r * 4 + 2 * g + 1) * 3 + d]!);
      }
    }
    expect(Array.from(summed)).toEqual(expected);
  });
});
