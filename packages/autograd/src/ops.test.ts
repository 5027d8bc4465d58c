import { describe, expect, it } from 'vitest';
import { Rng, randomParam } from '../test/helpers.js';
import { gradcheck } from './gradcheck.js';
import { crossEntropy, embedding, gelu, layerNorm, rmsNorm, rotary, silu } from './layers.js';
import { add, linear, matmul, mean, mul, reshape, scale, split, sum } from './ops.js';
import type { Variable } from './variable.js';

async function expectGrads(fn: (...xs: Variable[]) => Variable | Promise<Variable>, inputs: Variable[]) {
  const result = await gradcheck(fn, inputs);
  expect(result.ok, result.message).toBe(true);
  expect(result.checked).toBe(inputs.reduce((n, x) => n + x.size, 0));
}

describe('gradcheck of every op (float64)', () => {
  const rng = new Rng(1);

  it('add, with a same-shape and a broadcast right-hand side', async () => {
    await expectGrads(add, [randomParam(rng, [3, 4]), randomParam(rng, [3, 4])]);
    await expectGrads(add, [randomParam(rng, [2, 3, 4]), randomParam(rng, [4])]);
  });

  it('mul, with a same-shape and a broadcast right-hand side', async () => {
    await expectGrads(mul, [randomParam(rng, [3, 4]), randomParam(rng, [3, 4])]);
    await expectGrads(mul, [randomParam(rng, [2, 3, 4]), randomParam(rng, [3, 4])]);
  });

  it('scale, sum, mean, reshape', async () => {
    await expectGrads((x) => scale(x, -2.5), [randomParam(rng, [5])]);
    await expectGrads(sum, [randomParam(rng, [2, 3])]);
    await expectGrads(mean, [randomParam(rng, [2, 3])]);
    await expectGrads((x) => reshape(x, [3, -1]), [randomParam(rng, [2, 3, 2])]);
  });

  it('split along the last and a middle axis', async () => {
    await expectGrads((x) => mul(...(split(x, [2, 2]) as [Variable, Variable])), [randomParam(rng, [3, 4])]);
    await expectGrads(
      (x) => {
        const [a, b, c] = split(x, [1, 1, 1], 1) as [Variable, Variable, Variable];
        return add(mul(a, b), scale(c, 3));
      },
      [randomParam(rng, [2, 3, 2, 2])],
    );
  });

  it('matmul and linear, with and without bias', async () => {
    await expectGrads(matmul, [randomParam(rng, [3, 4]), randomParam(rng, [4, 5])]);
    // Sizes that take both the 4-way unrolled loops and their remainders in all three products.
    await expectGrads(matmul, [randomParam(rng, [7, 9]), randomParam(rng, [9, 6])]);
    await expectGrads(linear, [randomParam(rng, [2, 3, 4]), randomParam(rng, [4, 5])]);
    await expectGrads(linear, [randomParam(rng, [3, 4]), randomParam(rng, [4, 2]), randomParam(rng, [2])]);
  });

  it('embedding, with a repeated id', async () => {
    const ids = Int32Array.of(2, 0, 2, 3);
    await expectGrads((table) => embedding(table, ids), [randomParam(rng, [4, 3])]);
  });

  it('silu and gelu', async () => {
    await expectGrads(silu, [randomParam(rng, [10], 2)]);
    await expectGrads(gelu, [randomParam(rng, [10], 2)]);
  });

  it('rmsNorm and layerNorm', async () => {
    await expectGrads((x, w) => rmsNorm(x, w), [randomParam(rng, [3, 5]), randomParam(rng, [5])]);
    await expectGrads(
      (x, w, b) => layerNorm(x, w, b),
      [randomParam(rng, [3, 5]), randomParam(rng, [5]), randomParam(rng, [5])],
    );
  });

  it('rotary at packed positions, full and partial', async () => {
    const positions = Int32Array.of(0, 1, 2, 0, 1);
    await expectGrads((x) => rotary(x, positions), [randomParam(rng, [5, 2, 6])]);
    await expectGrads((x) => rotary(x, positions, { rotaryDim: 4, base: 100 }), [randomParam(rng, [5, 2, 6])]);
  });

  it('cross-entropy, with an ignored target', async () => {
    const targets = Int32Array.of(1, -1, 4, 0);
    await expectGrads((logits) => crossEntropy(logits, targets), [randomParam(rng, [4, 5], 2)]);
  });

  it('a composition: a tiny MLP with a residual and a loss', async () => {
    const targets = Int32Array.of(0, 2, 1);
    await expectGrads(
      (x, w1, w2, g) => {
        const h = rmsNorm(x, g);
        const y = add(x, linear(gelu(linear(h, w1)), w2));
        return crossEntropy(y, targets);
      },
      [randomParam(rng, [3, 4]), randomParam(rng, [4, 6]), randomParam(rng, [6, 4]), randomParam(rng, [4])],
    );
  });
});

describe('op values', () => {
  it('rotary rotates pairs (i, i + D/2) by position · base^(-2i/D) and leaves position 0 alone', () => {
    const x = randomParam(new Rng(2), [2, 1, 4]);
    const y = rotary(x, Int32Array.of(0, 3), { base: 100 });
    expect(Array.from(y.data.subarray(0, 4))).toEqual(Array.from(x.data.subarray(0, 4)));
    const [a0, a1, b0, b1] = Array.from(x.data.subarray(4, 8)) as [number, number, number, number];
    const t0 = 3;
    const t1 = 3 * 100 ** -0.5;
    expect(y.data[4]).toBeCloseTo(a0 * Math.cos(t0) - b0 * Math.sin(t0), 12);
    expect(y.data[6]).toBeCloseTo(a0 * Math.sin(t0) + b0 * Math.cos(t0), 12);
    expect(y.data[5]).toBeCloseTo(a1 * Math.cos(t1) - b1 * Math.sin(t1), 12);
    expect(y.data[7]).toBeCloseTo(a1 * Math.sin(t1) + b1 * Math.cos(t1), 12);
  });

  it('cross-entropy of uniform logits is log(vocab)', () => {
    const logits = randomParam(new Rng(3), [3, 7], 0);
    expect(crossEntropy(logits, Int32Array.of(0, 6, 3)).item()).toBeCloseTo(Math.log(7), 12);
  });

  it('rejects mismatched shapes and dtypes with FaErrors', () => {
    const rng = new Rng(4);
    expect(() => add(randomParam(rng, [2, 3]), randomParam(rng, [2]))).toThrow(/add\(a, b\)/);
    expect(() => matmul(randomParam(rng, [2, 3]), randomParam(rng, [2, 3]))).toThrow(/Expected shape \(3, n\)/);
    expect(() => embedding(randomParam(rng, [3, 2]), Int32Array.of(3))).toThrow(/ids in \[0, 3\)/);
  });
});
