import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fixedCases, fullCase, randomCase, smallCase } from './cases.js';
import { Random } from './random.js';

const digest = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

describe('the case tables', () => {
  it('keep the conformance grid: 53 cases, unique names (the titles every backend reports and skips by)', () => {
    const cases = fixedCases();
    expect(cases.length).toBe(53);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    // Any change to the grid shows here: every backend's conformance run changes with it.
    expect(digest(cases)).toBe('02d0e877c3d5e82c');
  });

  it('draw the same random cases for the same seed (what a printed run seed replays)', () => {
    const random = new Random(2024);
    const cases = Array.from({ length: 16 }, (_, i) => randomCase(random, i));
    expect(cases[0]).toEqual({
      name: 'random #0',
      lengthsQ: [27, 21, 15, 19, 27],
      lengthsK: [4, 18, 7, 0, 40],
      numHeads: 3,
      numHeadsK: 3,
      headDim: 126,
      headDimV: 126,
      dtype: 'f16',
      causal: true,
      windowSize: undefined,
      softcap: undefined,
      alibi: true,
      dropoutP: undefined,
      softmaxScale: undefined,
    });
    expect(digest(cases)).toBe('1dc81addc8467031');
    const long = randomCase(new Random(2024), 0, { maxLength: 90 });
    expect(Math.max(...long.lengthsQ, ...long.lengthsK)).toBeLessThanOrEqual(90);
  });

  it('write out the defaults of a case, and draw small cases', () => {
    expect(fullCase({ name: 'x', lengthsQ: [3, 0] })).toEqual({
      name: 'x',
      lengthsQ: [3, 0],
      lengthsK: [3, 0],
      numHeads: 2,
      numHeadsK: 2,
      headDim: 32,
      headDimV: 32,
      dtype: 'f32',
    });
    const random = new Random(9);
    for (let n = 0; n < 200; n++) {
      const c = fullCase(smallCase(random));
      expect(c.lengthsQ.length).toBe(c.lengthsK.length);
      expect(Math.max(0, ...c.lengthsQ, ...c.lengthsK)).toBeLessThanOrEqual(9);
      expect(c.numHeads % c.numHeadsK).toBe(0);
      expect(c.headDim).toBeLessThanOrEqual(13);
    }
  });
});
