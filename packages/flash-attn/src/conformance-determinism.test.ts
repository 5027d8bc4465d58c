import { checkDeterminism, createPerturbedBackend, describeDeterminism } from '@fa/conformance';
import { createReferenceBackend, registerBackend } from '@fa/core';
import { fixedCases } from '@fa/testkit';
import { describe, expect, it } from 'vitest';
import * as fa from './index.js';

// The determinism check's own checks, here for the reason given in conformance-suite.test.ts.
registerBackend('reference', () => createReferenceBackend(), { priority: -100 });
describeDeterminism({ facade: fa, backend: 'reference' });

describe('the determinism check catches what it should', () => {
  const testCase = fixedCases().find((c) => c.name === 'GQA')!;

  it('fails a backend that promises determinism and changes one bit of dq on some runs', async () => {
    let calls = 0;
    registerBackend('flaky-dq', () => {
      const flaky = createPerturbedBackend('flaky-dq', (quantity, values) => {
        // Every third backward: one ulp-sized change, the size of a reordered float32 sum.
        if (quantity === 'dq' && ++calls % 3 === 0) values[7] = Math.fround(values[7]! * (1 + 2 ** -22));
      });
      return { ...flaky, capabilities: { ...flaky.capabilities, deterministic: true } };
    });
    expect(await checkDeterminism({ facade: fa, backend: 'flaky-dq' }, testCase, 11)).toMatch(
      /^.* differs from the first at dq: byte/,
    );
  });

  it('fails a backend whose bits differ from one it must match', async () => {
    registerBackend('shifted-lse', () =>
      createPerturbedBackend('shifted-lse', (quantity, values) => {
        if (quantity === 'lse') values[0] = Math.fround(values[0]! + 2 ** -10);
      }),
    );
    expect(
      await checkDeterminism({ facade: fa, backend: 'reference' }, testCase, 12, { sameBitsAs: ['shifted-lse'] }),
    ).toMatch(/^backend "shifted-lse" differs from the first at lse: byte/);
  });

  it('expects a backend that does not promise determinism to refuse the option', async () => {
    registerBackend('no-promise', () => {
      const reference = createReferenceBackend('no-promise');
      return { ...reference, capabilities: { ...reference.capabilities, deterministic: false } };
    });
    await expect(checkDeterminism({ facade: fa, backend: 'no-promise' }, testCase, 13)).rejects.toMatchObject({
      code: 'E_UNSUPPORTED',
      argument: 'deterministic',
    });
  });
});
