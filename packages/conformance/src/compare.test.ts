import { describe, expect, it } from 'vitest';
import { compareToReference, withinStorageSteps } from './compare.js';

describe('withinStorageSteps (few-element 16-bit outputs)', () => {
  // Two outputs where the same-precision reference happened to be exact: twice its error is zero.
  const exact = [0.3, -0.2];
  const lucky = [...exact];
  const epsilon = 2 ** -10;

  it('accepts a 16-bit result a few storage steps off when the same-precision reference is exact by luck', () => {
    const near = [0.3 + 2 ** -11, -0.2];
    expect(compareToReference('out', 'f16', near, exact, lucky).pass).toBe(false);
    expect(withinStorageSteps(compareToReference('out', 'f16', near, exact, lucky), 'f16', exact).pass).toBe(true);
  });

  it('still fails what a wrong mask or index gives, and never touches f32', () => {
    const wrong = [0.3 + 5 * epsilon * 1.3, -0.2];
    expect(withinStorageSteps(compareToReference('out', 'f16', wrong, exact, lucky), 'f16', exact).pass).toBe(false);
    const nan = [Number.NaN, -0.2];
    expect(withinStorageSteps(compareToReference('dk', 'bf16', nan, exact, lucky), 'bf16', exact).pass).toBe(false);
    const f32 = compareToReference('out', 'f32', [0.3 + 1e-3, -0.2], exact, null);
    expect(withinStorageSteps(f32, 'f32', exact)).toBe(f32);
  });
});
