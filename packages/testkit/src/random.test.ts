import { describe, expect, it } from 'vitest';
import { freshSeed, Random } from './random.js';

describe('Random', () => {
  it('is mulberry32: the same 32-bit words for the same seed, in every engine', () => {
    // mulberry32(1)'s first value is the usual check of an implementation: 2693262067 / 2^32 = 0.6270739405881613.
    const words = (seed: number) => {
      const random = new Random(seed);
      return Array.from({ length: 4 }, () => random.uint32());
    };
    expect(words(1)).toEqual([2693262067, 11749833, 2265367787, 4213581821]);
    expect(words(0)).toEqual([1144304738, 1416247, 958946056, 627933444]);
    // Seeds are taken modulo 2^32, as the conformance suite's printed seeds always were.
    expect(words(2 ** 32 - 1)).toEqual([3850105811, 813802916, 3073704848, 4054706436]);
    expect(words(-1)).toEqual(words(2 ** 32 - 1));
    expect(new Random(1).next()).toBe(0.6270739405881613);
  });

  it('draws integers over the whole closed range, and picks every item', () => {
    const random = new Random(3);
    const seen = new Set<number>();
    for (let n = 0; n < 2000; n++) {
      const x = random.int(-2, 3);
      expect(Number.isInteger(x) && x >= -2 && x <= 3).toBe(true);
      seen.add(x);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2, 3]);
    const picked = new Set(Array.from({ length: 200 }, () => random.pick(['a', 'b', 'c'])));
    expect(picked.size).toBe(3);
  });

  it('keeps one normal of each Box–Muller pair by default, and both with normalPairs', () => {
    const [one, pairs] = [new Random(11), new Random(11, { normalPairs: true })];
    const [a, b] = [pairs.normal(), pairs.normal()];
    // The same two uniforms make the first value of either; the pair's second is its other coordinate.
    expect(one.normal()).toBe(a);
    const u = 1 - new Random(11).next();
    expect(a * a + b * b).toBeCloseTo(-2 * Math.log(u), 12);
    // The default draws two fresh uniforms for every normal, the pairs generator for every other one.
    expect(one.normal()).toBe(pairs.normal());
    expect(one.normal()).not.toBe(pairs.normal());
  });

  it('fills arrays with the same values as one draw at a time', () => {
    const [a, b, c] = [new Random(5), new Random(5), new Random(5)];
    expect(Array.from(a.normals(9, 3))).toEqual(Array.from({ length: 9 }, () => b.normal() * 3));
    expect(Array.from(c.normalsF32(4))).toEqual(Array.from(new Random(5).normals(4)).map(Math.fround));
    expect(new Random(8).lognormal(24, 0)).toBe(24);
  });

  it('gives fresh seeds of 32 bits', () => {
    for (let n = 0; n < 100; n++) {
      const seed = freshSeed();
      expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32).toBe(true);
    }
  });
});
