import { describe, expect, it } from 'vitest';
import { Adam, AdamW, clipGradNorm } from './optim.js';
import { parameter, type Variable } from './variable.js';

/** Two steps on p = [1, −2] with gradients [0.5, −1] then [0.1, 0.3]; lr 0.1, betas (0.9, 0.999), eps 1e-8. */
function twoSteps(optimizer: Adam, p: Variable): number[][] {
  const seen: number[][] = [];
  for (const g of [Float64Array.of(0.5, -1), Float64Array.of(0.1, 0.3)]) {
    p.grad = g;
    optimizer.step();
    optimizer.zeroGrad();
    seen.push(Array.from(p.data));
  }
  return seen;
}

function expectClose(actual: number[][], expected: number[][]) {
  actual.flat().forEach((x, i) => expect(x).toBeCloseTo(expected.flat()[i]!, 12));
}

describe('Adam(W)', () => {
  it('Adam: the bias-corrected first step is lr · g / (|g| + eps), the second matches a hand computation', () => {
    const p = parameter(Float64Array.of(1, -2), [2]);
    const steps = twoSteps(new Adam([p], { lr: 0.1 }), p);
    // Step 1: m̂ = g and v̂ = g², so p − 0.1 · g / (|g| + 1e-8) = [1 − 0.1 (1 − 2e-8), −2 + 0.1 (1 − 1e-8)].
    // Step 2: m = [0.055, −0.06], v = [2.5975e-4, 1.089e-3]; m̂ = m / 0.19, v̂ = v / 0.001999.
    expectClose(steps, [
      [0.900000002, -1.900000001],
      [0.8196959063846518, -1.8572151424292265],
    ]);
  });

  it('AdamW decays the weights by (1 − lr · wd) before the same update', () => {
    const p = parameter(Float64Array.of(1, -2), [2]);
    const steps = twoSteps(new AdamW([p], { lr: 0.1, weightDecay: 0.1 }), p);
    expectClose(steps, [
      [0.890000002, -1.880000001],
      [0.8007959063646517, -1.8184151424192265],
    ]);
  });

  it('Adam with weight decay adds wd · p to the gradient (L2)', () => {
    const p = parameter(Float64Array.of(1, -2), [2]);
    const steps = twoSteps(new Adam([p], { lr: 0.1, weightDecay: 0.1 }), p);
    expectClose(steps, [
      [0.9000000016666666, -1.9000000008333333],
      [0.8136483454297575, -1.8400703555381717],
    ]);
  });

  it('takes parameter groups, skips parameters without a gradient, and checks its options', () => {
    const decayed = parameter(Float64Array.of(1), [1]);
    const kept = parameter(Float64Array.of(1), [1]);
    const idle = parameter(Float64Array.of(1), [1]);
    const opt = new AdamW([{ params: [decayed, idle] }, { params: [kept], weightDecay: 0 }], {
      lr: 0.1,
      weightDecay: 0.5,
    });
    decayed.grad = Float64Array.of(0);
    kept.grad = Float64Array.of(0);
    opt.step();
    expect(decayed.data[0]).toBeCloseTo(0.95, 12);
    expect(kept.data[0]).toBe(1);
    expect(idle.data[0]).toBe(1);
    expect(() => new Adam([decayed], { betas: [1, 0.9] })).toThrow(/betas\[0\]/);
  });
});

describe('clipGradNorm', () => {
  it('scales gradients to the maximum norm and returns the norm before', () => {
    const a = parameter(Float64Array.of(0, 0), [2]);
    const b = parameter(Float64Array.of(0), [1]);
    a.grad = Float64Array.of(3, 0);
    b.grad = Float64Array.of(4);
    expect(clipGradNorm([a, b], 1)).toBe(5);
    expect(a.grad[0]).toBeCloseTo(0.6, 15);
    expect(a.grad[1]).toBe(0);
    expect(b.grad[0]).toBeCloseTo(0.8, 15);
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(1, 15);
  });
});
