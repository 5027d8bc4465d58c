import { checkCase, createPerturbedBackend, describeConformance } from '@fa/conformance';
import { type AttentionBackend, createReferenceBackend, type HostTensor, registerBackend } from '@fa/core';
import { fixedCases } from '@fa/testkit';
import { describe, expect, it } from 'vitest';
import * as fa from './index.js';

/**
 * The conformance suite's own checks. They run the suite through a façade, so they live here: @fa/conformance
 * cannot depend on the package whose backend it tests.
 */

registerBackend('reference', () => createReferenceBackend(), { priority: -100 });

// The suite must pass an exact backend: the whole grid runs against the reference rounded to each dtype.
describeConformance({ facade: fa, backend: 'reference', randomCases: 3 });

describe('the suite catches wrong backends', () => {
  const byName = (name: string) => fixedCases().find((c) => c.name === name)!;

  it('fails a backend whose f32 output is off by 1e-3', async () => {
    registerBackend('off-by-1e-3', () =>
      createPerturbedBackend('off-by-1e-3', (quantity, values) => {
        if (quantity === 'out') values[values.length - 1]! += 1e-3;
      }),
    );
    const result = await checkCase({ facade: fa, backend: 'off-by-1e-3' }, byName('causal'), 7, false);
    expect(result.find((c) => c.quantity === 'out')!.pass).toBe(false);
    expect(result.find((c) => c.quantity === 'lse')!.pass).toBe(true);
  });

  it('fails a backend whose f16 gradients are rounded to bf16', async () => {
    registerBackend('coarse-grads', () =>
      createPerturbedBackend('coarse-grads', (quantity, values) => {
        if (quantity === 'dk') for (let i = 0; i < values.length; i++) values[i] = Math.round(values[i]! * 16) / 16;
      }),
    );
    const result = await checkCase({ facade: fa, backend: 'coarse-grads' }, byName('f16: mixed lengths'), 11, true);
    expect(result.find((c) => c.quantity === 'dk')!.pass).toBe(false);
    expect(result.find((c) => c.quantity === 'dq')!.pass).toBe(true);
  });

  it('fails NaN and a missing +inf for rows that see no key', async () => {
    registerBackend('nan', () =>
      createPerturbedBackend('nan', (quantity, values) => {
        if (quantity === 'dv') values[0] = Number.NaN;
        if (quantity === 'lse') {
          for (let i = 0; i < values.length; i++) if (values[i] === Number.POSITIVE_INFINITY) values[i] = 0;
        }
      }),
    );
    const result = await checkCase(
      { facade: fa, backend: 'nan' },
      byName('empty key sequences (rows with no key)'),
      3,
      true,
    );
    expect(result.find((c) => c.quantity === 'dv')!.pass).toBe(false);
    expect(result.find((c) => c.quantity === 'lse')!.pass).toBe(false);
  });

  it('fails a backend that ignores the dropout mask', async () => {
    registerBackend('no-dropout', () => {
      const exact = createReferenceBackend('no-dropout');
      const ignoresDropout: AttentionBackend<HostTensor> = {
        ...exact,
        forward: (q, k, v, problem) => exact.forward(q, k, v, { ...problem, dropoutP: 0 }),
      };
      return ignoresDropout as AttentionBackend;
    });
    const result = await checkCase({ facade: fa, backend: 'no-dropout' }, byName('dropout'), 5, false);
    expect(result.find((c) => c.quantity === 'out')!.pass).toBe(false);
  });
});
