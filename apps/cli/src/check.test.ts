import { referenceAttnBackward } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { naiveAttentionForward } from './bench/naive.js';
import { compareResults, computeReference, packedLayout, planCheck, type Results } from './check.js';
import { batchFromLengths, randomInputs, seededRandom } from './workload.js';

/**
 * The accuracy check recomputes only slices of long sequences (their last rows). These tests prove the slicing
 * exact: results of the whole batch agree with the sliced reference to rounding, and a wrong value anywhere the
 * check looks makes it fail.
 */

const HEADS = 3;
const DIM = 8;

function wholeBatch(causal: boolean) {
  const batch = batchFromLengths([40, 3, 17, 64, 1]);
  const inputs = randomInputs(seededRandom(7), batch.tokens, HEADS, DIM, 'f32');
  const t = (data: Float32Array) => ({ data, shape: [batch.tokens, HEADS, DIM], dtype: 'f32' as const });
  const options = { cuSeqlensQ: batch.cuSeqlens, cuSeqlensK: batch.cuSeqlens, causal };
  const full = referenceAttnBackward(
    t(inputs.dout as Float32Array),
    t(inputs.q as Float32Array),
    t(inputs.k as Float32Array),
    t(inputs.v as Float32Array),
    options,
  );
  const results: Results = {
    out: Float32Array.from(full.out),
    lse: Float32Array.from(full.lse),
    dq: Float32Array.from(full.dq),
    dk: Float32Array.from(full.dk),
    dv: Float32Array.from(full.dv),
  };
  return { batch, inputs, results };
}

describe('the sliced reference check', () => {
  for (const causal of [true, false]) {
    it(`matches the whole-batch reference on truncated slices (${causal ? 'causal' : 'non-causal'})`, () => {
      const { batch, inputs, results } = wholeBatch(causal);
      // A budget this small forces the 64- and 40-token sequences down to their last rows.
      const plan = planCheck(batch, HEADS, seededRandom(1), { sequences: 5, heads: 2, budget: 1500, causal });
      expect(plan.slices.some((s) => s.rowStart > 0)).toBe(true);
      const answer = computeReference(inputs, batch, plan, true);
      const check = compareResults(answer, results, packedLayout(batch, HEADS));
      expect(check.quantities.map((q) => q.quantity)).toEqual(['out', 'lse', 'dq', 'dk', 'dv']);
      for (const q of check.quantities) expect(q.maxError).toBeLessThan(1e-5);
      expect(check.pass).toBe(true);
    });
  }

  it('fails when a checked value is wrong', () => {
    const { batch, inputs, results } = wholeBatch(true);
    const plan = planCheck(batch, HEADS, seededRandom(1), { sequences: 5, heads: HEADS, budget: 1500, causal: true });
    const answer = computeReference(inputs, batch, plan, true);
    const layout = packedLayout(batch, HEADS);
    // The last key of the longest sequence: always inside the checked suffix, so its dk must be compared.
    const longest = plan.slices.reduce((a, b) => (b.length > a.length ? b : a));
    const index = (layout.token(longest.seq, longest.length - 1) * HEADS + (HEADS - 1)) * DIM;
    const dk = Float32Array.from(results.dk as Float32Array);
    dk[index] = (dk[index] as number) + 1e-2;
    const check = compareResults(answer, { ...results, dk }, layout);
    expect(check.pass).toBe(false);
    expect(check.quantities.find((q) => q.quantity === 'dk')?.pass).toBe(false);
    expect(check.quantities.filter((q) => !q.pass)).toHaveLength(1);
  });

  it('checks the naive baseline against the reference', () => {
    for (const causal of [true, false]) {
      const { batch, inputs } = wholeBatch(causal);
      const out = naiveAttentionForward(
        inputs.q as Float32Array,
        inputs.k as Float32Array,
        inputs.v as Float32Array,
        batch.cuSeqlens,
        HEADS,
        DIM,
        causal,
      );
      const plan = planCheck(batch, HEADS, seededRandom(2), { sequences: 5, heads: HEADS, budget: 1e6, causal });
      const check = compareResults(computeReference(inputs, batch, plan, false), { out }, packedLayout(batch, HEADS));
      expect(check.quantities.map((q) => q.quantity)).toEqual(['out']);
      expect(check.pass).toBe(true);
    }
  });
});
