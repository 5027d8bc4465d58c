import { referenceAttnBackward, referenceAttnForward } from '@fa/core';
import { type AttnCase, attnInputs, fixedCases, freshSeed, Random, randomCase } from '@fa/testkit';
import { describe, expect, it } from 'vitest';
import { type Comparison, compareToReference } from './compare.js';
import type { Target } from './facade.js';

export interface ConformanceOptions extends Target {
  /** Cases this backend skips, each with the reason written down. */
  readonly skip?: Readonly<Record<string, string>>;
  /** How many cases with randomly drawn shapes and options to add (default 4). */
  readonly randomCases?: number;
  /** Check gradients too (default true). */
  readonly backward?: boolean;
}

function describeFailure(c: Comparison, testCase: AttnCase, seed: number): string {
  return `${c.quantity}: max error ${c.maxError} at index ${c.worstIndex} exceeds ${c.tolerance} (${c.rule}); case ${JSON.stringify(testCase)}, input seed ${seed}`;
}

export async function checkCase(
  { facade, backend }: Target,
  testCase: AttnCase,
  seed: number,
  withBackward: boolean,
): Promise<Comparison[]> {
  const { q, k, v, dout, options } = attnInputs(testCase, seed);
  const { dtype } = testCase;

  // The backward reference recomputes the forward, so one call serves both when gradients are checked.
  const exactGrads = withBackward ? referenceAttnBackward(dout, q, k, v, options) : null;
  const exact = exactGrads ?? referenceAttnForward(q, k, v, options);
  const lowGrads =
    withBackward && dtype !== 'f32' ? referenceAttnBackward(dout, q, k, v, options, { precision: dtype }) : null;
  const lowPrecision =
    dtype === 'f32' ? null : (lowGrads ?? referenceAttnForward(q, k, v, options, { precision: dtype }));

  const forward = await facade.flashAttnVarlen(facade.tensor(q), facade.tensor(k), facade.tensor(v), {
    ...options,
    backend,
  });
  const comparisons: Comparison[] = [];
  try {
    comparisons.push(
      compareToReference('out', dtype, await forward.out.toArray(), exact.out, lowPrecision?.out ?? null),
    );
    comparisons.push(
      compareToReference('lse', dtype, await forward.lse.toArray(), exact.lse, lowPrecision?.lse ?? null),
    );
    if (exactGrads) {
      const grads = await facade.flashAttnVarlenBackward(dout, q, k, v, forward.out, forward.lse, {
        ...options,
        backend,
      });
      try {
        comparisons.push(
          compareToReference('dq', dtype, await grads.dq.toArray(), exactGrads.dq, lowGrads?.dq ?? null),
        );
        comparisons.push(
          compareToReference('dk', dtype, await grads.dk.toArray(), exactGrads.dk, lowGrads?.dk ?? null),
        );
        comparisons.push(
          compareToReference('dv', dtype, await grads.dv.toArray(), exactGrads.dv, lowGrads?.dv ?? null),
        );
      } finally {
        grads.dq.dispose();
        grads.dk.dispose();
        grads.dv.dispose();
      }
    }
  } finally {
    forward.out.dispose();
    forward.lse.dispose();
  }
  return comparisons;
}

/**
 * Declares the conformance suite for one backend: `describeConformance({ facade: fa, backend: 'cpu' })` in a test
 * file, with `import * as fa from '@fa/flash-attn'`. Inputs are drawn fresh each run; a failure prints the seed and
 * case that reproduce it.
 */
export function describeConformance(options: ConformanceOptions): void {
  const { facade, backend, skip = {}, randomCases = 4, backward = true } = options;
  const runSeed = freshSeed();
  const random = new Random(runSeed);
  const cases = [...fixedCases(), ...Array.from({ length: randomCases }, (_, i) => randomCase(random, i))];

  describe(`conformance: ${backend}`, () => {
    for (const testCase of cases) {
      const reason = skip[testCase.name];
      const name = `${testCase.name}${reason ? ` (skipped: ${reason})` : ''}`;
      const test = reason ? it.skip : it;
      test(name, async () => {
        const seed = random.int(0, 2 ** 32 - 1);
        const comparisons = await checkCase({ facade, backend }, testCase, seed, backward);
        expect(comparisons.length).toBe(backward ? 5 : 2);
        for (const c of comparisons) {
          expect(Number.isNaN(c.maxError), `${c.quantity} has NaN`).toBe(false);
          expect(c.pass, describeFailure(c, testCase, seed)).toBe(true);
        }
      });
    }
  });
}
