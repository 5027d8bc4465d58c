import { isFaError } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { Rng, randomParam } from '../test/helpers.js';
import { gradcheck } from './gradcheck.js';
import { add, linear, mul, scale, sum } from './ops.js';
import { defineFunction, isGradEnabled, noGrad, parameter, recordOp, type Variable, variable } from './variable.js';

const values = (v: Variable | null) => Array.from(v?.grad ?? []);

describe('the tape', () => {
  it('accumulates the gradient of a variable used twice (x · x, x + x, a diamond)', async () => {
    const x = variable([1, -2, 3], [3], { requiresGrad: true });
    await sum(mul(x, x)).backward();
    expect(values(x)).toEqual([2, -4, 6]);

    const y = variable([1, 2], [2], { requiresGrad: true });
    await sum(add(y, y)).backward(); // add hands one buffer to both inputs: it must not be summed in place
    expect(values(y)).toEqual([2, 2]);

    const z = variable([2], [1], { requiresGrad: true });
    const a = scale(z, 3);
    const b = mul(z, z);
    await sum(add(mul(a, b), a)).backward(); // d/dz (3z · z² + 3z) = 9z² + 3
    expect(values(z)).toEqual([39]);
  });

  it('adds into leaf gradients across backward calls until zeroGrad', async () => {
    const x = variable([1, 2], [2], { requiresGrad: true });
    await sum(scale(x, 2)).backward();
    await sum(scale(x, 3)).backward();
    expect(values(x)).toEqual([5, 5]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it('releases what ops saved after backward, and refuses a second pass unless the graph is retained', async () => {
    const released: string[] = [];
    const x = variable([1, 2], [2], { requiresGrad: true });
    const op = (v: Variable, name: string) =>
      recordOp(
        name,
        [v],
        v.data.slice(),
        v.shape,
        (g) => [g],
        () => released.push(name),
      );
    const loss = sum(op(op(x, 'a'), 'b'));
    await loss.backward(undefined, { retainGraph: true });
    expect(released).toEqual([]);
    await loss.backward();
    expect(released.sort()).toEqual(['a', 'b']);
    expect(values(x)).toEqual([2, 2]);
    await expect(loss.backward()).rejects.toThrow(/retainGraph/);
  });

  it('takes a gradient for a non-scalar result, and wants one', async () => {
    const x = variable([1, 2, 3], [3], { requiresGrad: true });
    const y = scale(x, 2);
    await expect(y.backward()).rejects.toSatisfy((e) => isFaError(e, 'E_SHAPE'));
    await y.backward([1, 0, -1]);
    expect(values(x)).toEqual([2, 0, -2]);
  });

  it('stops at detach() and at leaves that do not require grad', async () => {
    const x = variable([3], [1], { requiresGrad: true });
    const c = variable([5], [1]);
    await sum(add(mul(x, c), mul(x.detach(), x))).backward(); // d/dx (5x + x0 · x) = 5 + 3
    expect(values(x)).toEqual([8]);
    expect(c.grad).toBeNull();
  });
});

describe('noGrad', () => {
  it('records nothing inside, sync or async, and restores recording after (even on error)', async () => {
    const x = variable([1, 2], [2], { requiresGrad: true });
    const y = noGrad(() => scale(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    const z = await noGrad(async () => {
      await Promise.resolve();
      return scale(x, 2);
    });
    expect(z.requiresGrad).toBe(false);
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    await expect(noGrad(async () => Promise.reject(new Error('later')))).rejects.toThrow('later');
    expect(isGradEnabled()).toBe(true);
    expect(scale(x, 2).requiresGrad).toBe(true);
    await expect(y.backward()).rejects.toSatisfy((e) => isFaError(e, 'E_VALUE'));
  });

  it('releases saved values at once when nothing is recorded', () => {
    let released = 0;
    const x = variable([1], [1], { requiresGrad: true });
    noGrad(() =>
      recordOp(
        'op',
        [x],
        x.data,
        x.shape,
        (g) => [g],
        () => released++,
      ),
    );
    expect(released).toBe(1);
  });
});

describe('custom functions', () => {
  // The example of tf.customGrad: x² with the gradient overridden to dy · |x|.
  const squareWithAbsGrad = defineFunction<{ x: Float64Array | Float32Array }>({
    name: 'squareWithAbsGrad',
    async forward([x]) {
      const data = x!.data.map((v) => v * v);
      return { data, shape: x!.shape, saved: { x: x!.data } };
    },
    backward: (g, { x }) => [g.map((dy, i) => dy * Math.abs(x[i]!))],
  });

  it('saves in forward what backward uses', async () => {
    const x = variable([-1, -2, 3], [3], { requiresGrad: true });
    const y = await squareWithAbsGrad(x);
    expect(Array.from(y.data)).toEqual([1, 4, 9]);
    await sum(y).backward();
    expect(values(x)).toEqual([1, 2, 3]);
  });

  it('is what gradcheck catches when the gradient is wrong', async () => {
    const x = parameter(Float64Array.of(-1, 2), [2]);
    const result = await gradcheck(squareWithAbsGrad, [x]);
    expect(result.ok).toBe(false);
    // With the projection w, analytic = w · |x| and numeric = w · 2x.
    const { index, analytic, numeric } = result.worst!;
    expect(numeric / analytic).toBeCloseTo(index === 0 ? -2 : 2, 6);
    expect(result.message).toMatch(/mismatch at inputs\[0\]/);
  });
});

describe('gradcheck', () => {
  it('samples elements when asked, and wants float64 leaves', async () => {
    const rng = new Rng(5);
    const result = await gradcheck(linear, [randomParam(rng, [8, 6]), randomParam(rng, [6, 7])], { maxElements: 5 });
    expect(result.ok, result.message).toBe(true);
    expect(result.checked).toBe(10);
    await expect(gradcheck(sum, [variable([1, 2], [2], { requiresGrad: true })])).rejects.toSatisfy((e) =>
      isFaError(e, 'E_DTYPE'),
    );
  });
});
