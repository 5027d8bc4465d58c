import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  decodeToFloat32,
  encodeFromFloat,
  f16BitsToF32,
  f32Bits,
  f32ToBf16Bits,
  f32ToF16Bits,
  roundToDType,
} from './dtype.js';

describe('f16', () => {
  it('round-trips every one of the 65536 bit patterns (NaNs stay NaN)', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = f16BitsToF32(bits);
      if (Number.isNaN(value)) expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(value)))).toBe(true);
      else expect(f32ToF16Bits(value)).toBe(bits);
    }
  });

  it('rounds to nearest, ties to even, into subnormals and to infinity', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10: even mantissa wins
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie rounds up to the even mantissa
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie to even: zero
    expect(f32ToF16Bits(3 * 2 ** -26)).toBe(0x0001);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
  });
});

describe('bf16', () => {
  it('round-trips every bit pattern', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = bf16BitsToF32(bits);
      if (Number.isNaN(value)) expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(value)))).toBe(true);
      else expect(f32ToBf16Bits(value)).toBe(bits);
    }
  });

  it('rounds ties to even and keeps NaN from collapsing to infinity', () => {
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    // A NaN whose payload sits only in the low 16 bits would truncate to the bits of infinity.
    const nanBits = f32Bits(Number.NaN);
    expect(nanBits & 0x7f800000).toBe(0x7f800000);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(Number.NaN)))).toBe(true);
    expect(bf16BitsToF32(f32ToBf16Bits(Number.NaN))).not.toBe(Number.POSITIVE_INFINITY);
    expect(f32ToBf16Bits(3.4e38)).toBe(0x7f80); // rounds past the largest bf16 to +inf
  });
});

describe('array conversions', () => {
  it('encode then decode equals rounding each value', () => {
    const values = [0.1, -2.5172, 1e-6, 123.456, -7e4, 3e-8];
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      const decoded = decodeToFloat32(encodeFromFloat(values, dtype), dtype);
      values.forEach((v, i) => expect(decoded[i]).toBe(Math.fround(roundToDType(v, dtype))));
    }
  });
});
