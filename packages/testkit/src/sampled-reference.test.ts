import { referenceAttnBackward, resolveAttnProblem, toFloat64 } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { attnInputs } from './inputs.js';
import { sampledReference } from './sampled-reference.js';

describe('sampledReference', () => {
  it("matches @fa/core's reference on the rows it is asked for, with every score option", () => {
    const spec = {
      name: 'options',
      lengthsQ: [9, 0, 14],
      lengthsK: [12, 3, 6],
      numHeads: 4,
      numHeadsK: 2,
      headDim: 11,
      headDimV: 7,
      causal: true,
      windowSize: [5, 1] as const,
      softcap: 3,
      alibi: true,
    };
    const { q, k, v, dout, options } = attnInputs(spec, 17);
    const problem = resolveAttnProblem(q, k, v, options);
    const exact = referenceAttnBackward(dout, q, k, v, options);
    const f32 = (t: typeof q) => Float32Array.from(toFloat64(t));
    const rows = [
      { b: 0, h: 0, i: 0 },
      { b: 0, h: 3, i: 8 },
      { b: 2, h: 1, i: 13 },
      { b: 2, h: 2, i: 0 },
    ];
    const sampled = sampledReference(problem, f32(q), f32(k), f32(v), f32(dout), rows);
    const [H, D, Dv, totalQ] = [4, 11, 7, 23];
    for (const row of sampled) {
      const token = (row.b === 0 ? 0 : 9) + row.i;
      expect(row.lse).toBeCloseTo(exact.lse[row.h * totalQ + token] as number, 10);
      const out = exact.out.subarray((token * H + row.h) * Dv, (token * H + row.h + 1) * Dv);
      const dq = exact.dq.subarray((token * H + row.h) * D, (token * H + row.h + 1) * D);
      for (let d = 0; d < Dv; d++) expect(row.out[d]).toBeCloseTo(out[d] as number, 10);
      for (let d = 0; d < D; d++) expect(row.dq?.[d]).toBeCloseTo(dq[d] as number, 10);
    }
  });
});
