import { encodeFromFloat, type FloatHostTensor, referenceAttnBackward, referenceAttnForward } from '@fa/core';
import { flashAttnVarlen, flashAttnVarlenBackward, tensor } from '@fa/flash-attn';
import { describe, expect, it } from 'vitest';
import { type ConformanceCase, fixedCases, randomCase } from './cases.js';
import { type Comparison, compareToReference } from './compare.js';
import { freshSeed, Random } from './random.js';

export interface ConformanceOptions {
  /** The registered backend under test. */
  readonly backend: string;
  /** Cases this backend skips, each with the reason written down. */
  readonly skip?: Readonly<Record<string, string>>;
  /** How many cases with randomly drawn shapes and options to add (default 4). */
  readonly randomCases?: number;
  /** Check gradients too (default true). */
  readonly backward?: boolean;
}

function cuSeqlens(lengths: readonly number[]): Int32Array {
  const out = new Int32Array(lengths.length + 1);
  lengths.forEach((length, b) => {
    out[b + 1] = (out[b] as number) + length;
  });
  return out;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function randomTensor(random: Random, shape: number[], dtype: FloatHostTensor['dtype']): FloatHostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: encodeFromFloat(random.normals(n), dtype), shape, dtype };
}

/** ALiBi slopes of the usual geometric form, jittered so that no two runs share them. */
function alibiSlopes(random: Random, numHeads: number): Float32Array {
  return Float32Array.from({ length: numHeads }, (_, h) => 2 ** (-8 * ((h + 1) / numHeads)) * (0.5 + random.next()));
}

function describeFailure(c: Comparison, testCase: ConformanceCase, seed: number): string {
  return `${c.quantity}: max error ${c.maxError} at index ${c.worstIndex} exceeds ${c.tolerance} (${c.rule}); case ${JSON.stringify(testCase)}, input seed ${seed}`;
}

export async function checkCase(
  backend: string,
  testCase: ConformanceCase,
  seed: number,
  withBackward: boolean,
): Promise<Comparison[]> {
  const random = new Random(seed);
  const { dtype, numHeads, numHeadsK, headDim, headDimV } = testCase;
  const totalQ = sum(testCase.lengthsQ);
  const totalK = sum(testCase.lengthsK);
  const q = randomTensor(random, [totalQ, numHeads, headDim], dtype);
  const k = randomTensor(random, [totalK, numHeadsK, headDim], dtype);
  const v = randomTensor(random, [totalK, numHeadsK, headDimV], dtype);
  const dout = randomTensor(random, [totalQ, numHeads, headDimV], dtype);
  const options = {
    cuSeqlensQ: cuSeqlens(testCase.lengthsQ),
    cuSeqlensK: cuSeqlens(testCase.lengthsK),
    causal: testCase.causal,
    windowSize: testCase.windowSize,
    softcap: testCase.softcap,
    softmaxScale: testCase.softmaxScale,
    alibiSlopes: testCase.alibi ? alibiSlopes(random, numHeads) : undefined,
    dropoutP: testCase.dropoutP,
    seed: testCase.dropoutP ? random.int(0, 2 ** 31) * 4096 + random.int(0, 4095) : undefined,
  };

  // The backward reference recomputes the forward, so one call serves both when gradients are checked.
  const exactGrads = withBackward ? referenceAttnBackward(dout, q, k, v, options) : null;
  const exact = exactGrads ?? referenceAttnForward(q, k, v, options);
  const lowGrads =
    withBackward && dtype !== 'f32' ? referenceAttnBackward(dout, q, k, v, options, { precision: dtype }) : null;
  const lowPrecision =
    dtype === 'f32' ? null : (lowGrads ?? referenceAttnForward(q, k, v, options, { precision: dtype }));

  const forward = await flashAttnVarlen(tensor(q), tensor(k), tensor(v), { ...options, backend });
  const comparisons: Comparison[] = [];
  try {
    comparisons.push(
      compareToReference('out', dtype, await forward.out.toArray(), exact.out, lowPrecision?.out ?? null),
    );
    comparisons.push(
      compareToReference('lse', dtype, await forward.lse.toArray(), exact.lse, lowPrecision?.lse ?? null),
    );
    if (exactGrads) {
      const grads = await flashAttnVarlenBackward(dout, q, k, v, forward.out, forward.lse, { ...options, backend });
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
 * Declares the conformance suite for one backend: `describeConformance({ backend: 'cpu' })` in a test file.
 * Inputs are drawn fresh each run; a failure prints the seed and case that reproduce it.
 */
export function describeConformance(options: ConformanceOptions): void {
  const { backend, skip = {}, randomCases = 4, backward = true } = options;
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
        const comparisons = await checkCase(backend, testCase, seed, backward);
        expect(comparisons.length).toBe(backward ? 5 : 2);
        for (const c of comparisons) {
          expect(Number.isNaN(c.maxError), `${c.quantity} has NaN`).toBe(false);
          expect(c.pass, describeFailure(c, testCase, seed)).toBe(true);
        }
      });
    }
  });
}
