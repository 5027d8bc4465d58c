import { describe, expect, it } from 'vitest';
import { type FaErrorCode, isFaError } from './errors.js';
import { type AttnOptions, resolveAttnProblem, type TensorMeta } from './options.js';

const q: TensorMeta = { shape: [10, 4, 64], dtype: 'f32' };
const k: TensorMeta = { shape: [12, 2, 64], dtype: 'f32' };
const v: TensorMeta = { shape: [12, 2, 32], dtype: 'f32' };
const good: AttnOptions = { cuSeqlensQ: Int32Array.of(0, 3, 10), cuSeqlensK: Int32Array.of(0, 5, 12) };

function rejection(fn: () => unknown): { code: FaErrorCode; argument?: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isFaError(error)) return { code: error.code, argument: error.argument, message: error.message };
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('resolveAttnProblem', () => {
  it('resolves defaults', () => {
    const p = resolveAttnProblem(q, k, v, { ...good, causal: true });
    expect(p).toMatchObject({
      batch: 2,
      maxSeqlenQ: 7,
      maxSeqlenK: 7,
      softmaxScale: 1 / 8,
      windowLeft: -1,
      windowRight: 0,
      softcap: 0,
      dropoutP: 0,
      headDimV: 32,
    });
  });

  it('draws a seed when dropout is on and none is given, and keeps a given one', () => {
    const drawn = resolveAttnProblem(q, k, v, { ...good, dropoutP: 0.1 }).seed;
    expect(Number.isSafeInteger(drawn)).toBe(true);
    expect(resolveAttnProblem(q, k, v, { ...good, dropoutP: 0.1, seed: 99 }).seed).toBe(99);
  });

  it.each<[string, () => unknown, FaErrorCode, string]>([
    [
      'decreasing cu_seqlens',
      () => resolveAttnProblem(q, k, v, { ...good, cuSeqlensQ: Int32Array.of(0, 7, 3, 10) }),
      'E_CU_SEQLENS',
      'cuSeqlensQ',
    ],
    [
      'cu_seqlens not starting at 0',
      () => resolveAttnProblem(q, k, v, { ...good, cuSeqlensK: Int32Array.of(1, 5, 12) }),
      'E_CU_SEQLENS',
      'cuSeqlensK',
    ],
    [
      'cu_seqlens not ending at the total',
      () => resolveAttnProblem(q, k, v, { ...good, cuSeqlensQ: Int32Array.of(0, 3, 9) }),
      'E_CU_SEQLENS',
      'cuSeqlensQ',
    ],
    [
      'cu_seqlens of another type (with NaN)',
      () => resolveAttnProblem(q, k, v, { ...good, cuSeqlensQ: Float64Array.of(0, Number.NaN, 10) as never }),
      'E_CU_SEQLENS',
      'cuSeqlensQ',
    ],
    [
      'batch mismatch',
      () => resolveAttnProblem(q, k, v, { ...good, cuSeqlensK: Int32Array.of(0, 2, 5, 12) }),
      'E_CU_SEQLENS',
      'cuSeqlensK',
    ],
    [
      'H not a multiple of Hk',
      () => resolveAttnProblem(q, { shape: [12, 3, 64], dtype: 'f32' }, { shape: [12, 3, 32], dtype: 'f32' }, good),
      'E_SHAPE',
      'k',
    ],
    [
      'head dim over 256',
      () => resolveAttnProblem({ shape: [10, 4, 300], dtype: 'f32' }, { shape: [12, 2, 300], dtype: 'f32' }, v, good),
      'E_UNSUPPORTED',
      'q',
    ],
    [
      'head dim 0',
      () => resolveAttnProblem({ shape: [10, 4, 0], dtype: 'f32' }, { shape: [12, 2, 0], dtype: 'f32' }, v, good),
      'E_UNSUPPORTED',
      'q',
    ],
    ['k head dim mismatch', () => resolveAttnProblem(q, { shape: [12, 2, 63], dtype: 'f32' }, v, good), 'E_SHAPE', 'k'],
    ['rank 2 q', () => resolveAttnProblem({ shape: [10, 256], dtype: 'f32' }, k, v, good), 'E_SHAPE', 'q'],
    ['v rows mismatch', () => resolveAttnProblem(q, k, { shape: [11, 2, 32], dtype: 'f32' }, good), 'E_SHAPE', 'v'],
    ['mixed dtypes', () => resolveAttnProblem(q, { ...k, dtype: 'f16' }, v, good), 'E_DTYPE', 'k'],
    ['integer q', () => resolveAttnProblem({ ...q, dtype: 'i32' }, k, v, good), 'E_DTYPE', 'q'],
    ['window below -1', () => resolveAttnProblem(q, k, v, { ...good, windowSize: [-2, 0] }), 'E_VALUE', 'windowSize'],
    [
      'fractional window',
      () => resolveAttnProblem(q, k, v, { ...good, windowSize: [1.5, 0] }),
      'E_VALUE',
      'windowSize',
    ],
    [
      'maxSeqlen below a real length',
      () => resolveAttnProblem(q, k, v, { ...good, maxSeqlenQ: 6 }),
      'E_VALUE',
      'maxSeqlenQ',
    ],
    ['negative scale', () => resolveAttnProblem(q, k, v, { ...good, softmaxScale: -1 }), 'E_VALUE', 'softmaxScale'],
    ['NaN scale', () => resolveAttnProblem(q, k, v, { ...good, softmaxScale: Number.NaN }), 'E_VALUE', 'softmaxScale'],
    ['negative softcap', () => resolveAttnProblem(q, k, v, { ...good, softcap: -0.5 }), 'E_VALUE', 'softcap'],
    ['dropout of 1', () => resolveAttnProblem(q, k, v, { ...good, dropoutP: 1 }), 'E_VALUE', 'dropoutP'],
    ['NaN dropout', () => resolveAttnProblem(q, k, v, { ...good, dropoutP: Number.NaN }), 'E_VALUE', 'dropoutP'],
    [
      'alibi slopes of the wrong length',
      () => resolveAttnProblem(q, k, v, { ...good, alibiSlopes: new Float32Array(3).fill(0.5) }),
      'E_VALUE',
      'alibiSlopes',
    ],
    ['non-integer seed', () => resolveAttnProblem(q, k, v, { ...good, seed: 1.5 }), 'E_VALUE', 'seed'],
  ])('rejects %s with a typed error naming the argument', (_, call, code, argument) => {
    const error = rejection(call);
    expect(error.code).toBe(code);
    expect(error.argument).toBe(argument);
    expect(error.message).toContain(`\`${argument}\``);
  });
});
