import { FaError } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KERNELS, resolveKernelChoice } from './kernels.js';

function errorOf(f: () => unknown): FaError {
  try {
    f();
  } catch (error) {
    if (error instanceof FaError) return error;
    throw error;
  }
  throw new Error('expected an FaError');
}

describe('resolveKernelChoice', () => {
  it('defaults to the fa2 designs with no A/B switch', () => {
    expect(resolveKernelChoice(undefined)).toEqual({ forwardKernel: 1, backwardKernel: 1, tuning: 0 });
    expect(resolveKernelChoice({})).toEqual(DEFAULT_KERNELS);
  });

  it('maps designs and switches to the addon codes (csrc/params.h)', () => {
    expect(resolveKernelChoice({ forward: 'baseline' })).toEqual({ forwardKernel: 0, backwardKernel: 1, tuning: 0 });
    expect(resolveKernelChoice({ backward: 'baseline', forward: 'fa2' })).toEqual({
      forwardKernel: 1,
      backwardKernel: 0,
      tuning: 0,
    });
    expect(resolveKernelChoice({ maskEveryTile: true }).tuning).toBe(1);
    expect(resolveKernelChoice({ specialise: false }).tuning).toBe(2);
    expect(resolveKernelChoice({ specialise: false, maskEveryTile: true }).tuning).toBe(3);
    expect(resolveKernelChoice({ specialise: true, maskEveryTile: false }).tuning).toBe(0);
    expect(resolveKernelChoice({ conditionalRescale: false }).tuning).toBe(4);
    expect(resolveKernelChoice({ conditionalRescale: false, specialise: false, maskEveryTile: true }).tuning).toBe(7);
  });

  it('refuses unknown designs, keys and non-boolean switches, naming the argument', () => {
    const bad = errorOf(() => resolveKernelChoice({ forward: 'fa3' }));
    expect(bad.code).toBe('E_VALUE');
    expect(bad.argument).toBe('options.kernels.forward');
    expect(bad.message).toMatch(/'baseline' or 'fa2'/);
    expect(errorOf(() => resolveKernelChoice({ backward: 1 })).argument).toBe('options.kernels.backward');
    expect(errorOf(() => resolveKernelChoice({ maskEveryTile: 'yes' })).argument).toBe('options.kernels.maskEveryTile');
    const typo = errorOf(() => resolveKernelChoice({ specialize: false }));
    expect(typo.argument).toBe('options.kernels.specialize');
    expect(typo.message).toMatch(/specialise/);
    expect(errorOf(() => resolveKernelChoice('fa2')).argument).toBe('options.kernels');
    // An inherited name is not a design.
    expect(errorOf(() => resolveKernelChoice({ forward: 'toString' })).argument).toBe('options.kernels.forward');
  });
});
