import { encodeFromFloat, type FloatHostTensor, isFaError, referenceAttnBackward } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { attnBackwardSync, attnForwardSync } from './sync.js';

function random(shape: number[]): FloatHostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    data: encodeFromFloat(
      Array.from({ length: n }, () => Math.random() * 2 - 1 + 1e-3),
      'f32',
    ),
    shape,
    dtype: 'f32',
  };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

describe('synchronous cpu attention', () => {
  it('matches the reference, forward and backward, with GQA, causal, softcap, ALiBi and dropout', () => {
    const cu = Int32Array.of(0, 9, 9, 30);
    const q = random([30, 4, 24]);
    const k = random([30, 2, 24]);
    const v = random([30, 2, 16]);
    const dout = random([30, 4, 16]);
    const options = {
      cuSeqlensQ: cu,
      cuSeqlensK: cu,
      causal: true,
      softcap: 3,
      alibiSlopes: Float32Array.of(0.5, 0.25, 0.125, 0.0625),
      dropoutP: 0.2,
      seed: 77,
    };
    const exact = referenceAttnBackward(dout, q, k, v, options);
    const fwd = attnForwardSync(q, k, v, options);
    expect(maxDiff(fwd.out.data, exact.out)).toBeLessThan(1e-5);
    const grads = attnBackwardSync(dout, q, k, v, fwd.out as FloatHostTensor, fwd.lse, options);
    expect(maxDiff(grads.dq.data, exact.dq)).toBeLessThan(1e-4);
    expect(maxDiff(grads.dk.data, exact.dk)).toBeLessThan(1e-4);
    expect(maxDiff(grads.dv.data, exact.dv)).toBeLessThan(1e-4);
  });

  it('validates like the façade', () => {
    const q = random([5, 1, 8]);
    const cu = Int32Array.of(0, 5);
    const rejected = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return isFaError(error) ? [error.code, error.argument] : error;
      }
      return 'no error';
    };
    expect(rejected(() => attnForwardSync(q, q, q, { cuSeqlensQ: Int32Array.of(0, 4), cuSeqlensK: cu }))).toEqual([
      'E_CU_SEQLENS',
      'cuSeqlensQ',
    ]);
    const { out, lse } = attnForwardSync(q, q, q, { cuSeqlensQ: cu, cuSeqlensK: cu });
    expect(
      rejected(() =>
        attnBackwardSync(q, q, q, q, out as FloatHostTensor, lse, { cuSeqlensQ: cu, cuSeqlensK: cu, dropoutP: 0.1 }),
      ),
    ).toEqual(['E_VALUE', 'seed']);
    expect(
      rejected(() =>
        attnBackwardSync(
          q,
          q,
          q,
          q,
          out as FloatHostTensor,
          { ...lse, shape: [5, 1] },
          { cuSeqlensQ: cu, cuSeqlensK: cu },
        ),
      ),
    ).toEqual(['E_SHAPE', 'lse']);
  });
});
