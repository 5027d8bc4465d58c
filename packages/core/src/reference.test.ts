import { describe, expect, it } from 'vitest';
import { type F64Tensor, referenceAttnBackward, referenceAttnForward } from './reference.js';

const t = (data: number[], shape: number[]): F64Tensor => ({ data: Float64Array.from(data), shape, dtype: 'f64' });
const cu = (...offsets: number[]) => Int32Array.from(offsets);

function randomTensor(shape: number[]): F64Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return t(
    Array.from({ length: n }, () => Math.random() * 2 - 1),
    shape,
  );
}

describe('reference forward: worked examples', () => {
  it('weights values by the softmax of scaled scores', () => {
    // Scores [0, ln 3] give weights [1/4, 3/4]: out = 2/4 + 6·3/4 = 5, lse = ln(1 + 3).
    const r = referenceAttnForward(t([1], [1, 1, 1]), t([0, Math.log(3)], [2, 1, 1]), t([2, 6], [2, 1, 1]), {
      cuSeqlensQ: cu(0, 1),
      cuSeqlensK: cu(0, 2),
      softmaxScale: 1,
    });
    expect(r.out[0]).toBeCloseTo(5, 12);
    expect(r.lse[0]).toBeCloseTo(Math.log(4), 12);
  });

  it('aligns causal masks bottom-right in each sequence and never crosses sequences', () => {
    // Two sequences: (Lq 2, Lk 3) and (Lq 1, Lk 1). Equal scores, so each row averages the values it sees.
    const q = t([0.5, 0.5, 0.5], [3, 1, 1]);
    const k = t([0.5, 0.5, 0.5, 0.5], [4, 1, 1]);
    const v = t([1, 2, 4, 100], [4, 1, 1]);
    const r = referenceAttnForward(q, k, v, { cuSeqlensQ: cu(0, 2, 3), cuSeqlensK: cu(0, 3, 4), causal: true });
    expect(r.out[0]).toBeCloseTo((1 + 2) / 2, 12); // query 0 sits at key 1
    expect(r.out[1]).toBeCloseTo((1 + 2 + 4) / 3, 12);
    expect(r.out[2]).toBeCloseTo(100, 12); // the second sequence sees only its own key
  });

  it('gives out 0, lse +inf and no gradient to rows that see no key', () => {
    // Lq 3 > Lk 1 with causal: only the last query is at or after the key.
    const q = t([0.3, -0.7, 1.1], [3, 1, 1]);
    const k = t([0.9], [1, 1, 1]);
    const v = t([2.5], [1, 1, 1]);
    const dout = t([1.5, -2, 0.25], [3, 1, 1]);
    const r = referenceAttnBackward(dout, q, k, v, { cuSeqlensQ: cu(0, 3), cuSeqlensK: cu(0, 1), causal: true });
    expect([r.lse[0], r.lse[1]]).toEqual([Infinity, Infinity]);
    expect(r.lse[2]).toBeCloseTo(1.1 * 0.9, 12);
    expect([r.out[0], r.out[1]]).toEqual([0, 0]);
    expect(r.out[2]).toBeCloseTo(2.5, 12);
    expect([r.dq[0], r.dq[1]]).toEqual([0, 0]);
    expect(r.dv[0]).toBeCloseTo(0.25, 12);
  });

  it('treats GQA as key/value heads shared by groups of query heads', () => {
    const [total, heads, dim] = [6, 4, 3];
    const q = randomTensor([total, heads, dim]);
    const k = randomTensor([total, 2, dim]);
    const v = randomTensor([total, 2, dim]);
    const dout = randomTensor([total, heads, dim]);
    const options = { cuSeqlensQ: cu(0, 2, 6), cuSeqlensK: cu(0, 2, 6), causal: true };
    const gqa = referenceAttnBackward(dout, q, k, v, options);
    // Expand kv heads (0, 0, 1, 1) and run plain multi-head attention.
    const expand = (x: F64Tensor) => {
      const out = new Float64Array(total * heads * dim);
      for (let i = 0; i < total; i++)
        for (let h = 0; h < heads; h++)
          for (let d = 0; d < dim; d++) out[(i * heads + h) * dim + d] = x.data[(i * 2 + (h >> 1)) * dim + d]!;
      return t([...out], [total, heads, dim]);
    };
    const mha = referenceAttnBackward(dout, q, expand(k), expand(v), options);
    gqa.out.forEach((x, i) => expect(x).toBeCloseTo(mha.out[i]!, 12));
    for (let i = 0; i < total; i++)
      for (let g = 0; g < 2; g++)
        for (let d = 0; d < dim; d++) {
          const summed = mha.dk[(i * heads + 2 * g) * dim + d]! + mha.dk[(i * heads + 2 * g + 1) * dim + d]!;
          expect(gqa.dk[(i * 2 + g) * dim + d]).toBeCloseTo(summed, 12);
        }
  });
});

describe('reference backward', () => {
  // Central differences of L = Σ dout ∘ out against the analytic gradients, with every score option on.
  it.each([
    ['plain', {}],
    [
      'causal + window + softcap + ALiBi',
      { causal: true, windowSize: [2, 0] as [number, number], softcap: 1.7, alibiSlopes: Float32Array.of(0.25, 0.5) },
    ],
    ['dropout with a fixed seed', { dropoutP: 0.3, seed: 424242 }],
    ['Lq != Lk, window', { windowSize: [1, 2] as [number, number] }],
  ])('matches finite differences: %s', (_, extra) => {
    const sameLengths = _ !== 'Lq != Lk, window';
    const cuQ = sameLengths ? cu(0, 3, 7) : cu(0, 2, 7);
    const cuK = sameLengths ? cu(0, 3, 7) : cu(0, 4, 6);
    const totalQ = cuQ[2]!;
    const totalK = cuK[2]!;
    const [heads, dim] = [2, 3];
    const q = randomTensor([totalQ, heads, dim]);
    const k = randomTensor([totalK, 1, dim]);
    const v = randomTensor([totalK, 1, dim]);
    const dout = randomTensor([totalQ, heads, dim]);
    const options = { cuSeqlensQ: cuQ, cuSeqlensK: cuK, softmaxScale: 0.8, ...extra };
    const analytic = referenceAttnBackward(dout, q, k, v, options);
    const loss = () => {
      const { out } = referenceAttnForward(q, k, v, options);
      return out.reduce((acc, o, i) => acc + o * dout.data[i]!, 0);
    };
    const h = 1e-6;
    for (const [tensor, grad] of [
      [q, analytic.dq],
      [k, analytic.dk],
      [v, analytic.dv],
    ] as const) {
      for (let i = 0; i < tensor.data.length; i++) {
        const original = tensor.data[i]!;
        tensor.data[i] = original + h;
        const up = loss();
        tensor.data[i] = original - h;
        const down = loss();
        tensor.data[i] = original;
        expect(grad[i]).toBeCloseTo((up - down) / (2 * h), 6);
      }
    }
  });
});

describe('same-precision reference', () => {
  it('rounds intermediates: close to float64, but not equal to it', () => {
    const q = randomTensor([20, 2, 16]);
    const k = randomTensor([20, 2, 16]);
    const v = randomTensor([20, 2, 16]);
    const options = { cuSeqlensQ: cu(0, 20), cuSeqlensK: cu(0, 20) };
    const exact = referenceAttnForward(q, k, v, options);
    for (const [precision, bound] of [
      ['f16', 5e-3],
      ['bf16', 4e-2],
    ] as const) {
      const low = referenceAttnForward(q, k, v, options, { precision });
      const err = Math.max(...low.out.map((x, i) => Math.abs(x - exact.out[i]!)));
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(bound);
    }
  });
});
