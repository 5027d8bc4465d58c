import { describe, expect, it } from 'vitest';
import { DropoutMask, dropoutThreshold, mulhi32, philox4x32, splitSeed } from './philox.js';

const hex = (words: Uint32Array) => [...words].map((w) => w.toString(16).padStart(8, '0'));

describe('philox4x32-10', () => {
  // Known-answer vectors published with Random123 (kat_vectors, philox4x32 with 10 rounds).
  it.each([
    [
      [0, 0, 0, 0],
      [0, 0],
      ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8'],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd'],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      ['d16cfe09', '94fdcceb', '5001e420', '24126ea1'],
    ],
  ])('matches the Random123 answer for counter %j key %j', (counter, key, expected) => {
    const out = new Uint32Array(4);
    philox4x32(counter[0]!, counter[1]!, counter[2]!, counter[3]!, key[0]!, key[1]!, out);
    expect(hex(out)).toEqual(expected);
  });

  it('computes the exact high word of 32x32-bit products', () => {
    for (let t = 0; t < 2000; t++) {
      const a = (Math.random() * 2 ** 32) >>> 0;
      const b = (Math.random() * 2 ** 32) >>> 0;
      expect(mulhi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
    }
  });

  it('drops close to the requested fraction and keeps everything at p = 0', () => {
    const p = 0.3;
    const mask = new DropoutMask(splitSeed(12345), dropoutThreshold(p));
    let kept = 0;
    const n = 40_000;
    for (let c = 0; c < n; c++) if (mask.keep(1, 2, 7, c)) kept++;
    expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.01);
    const keepAll = new DropoutMask(splitSeed(1), dropoutThreshold(0));
    for (let c = 0; c < 100; c++) expect(keepAll.keep(0, 0, 0, c)).toBe(true);
  });

  it('splits seeds beyond 32 bits into both key words', () => {
    expect(splitSeed(2 ** 40 + 5)).toEqual({ lo: 5, hi: 256 });
  });
});
