import { describe, expect, it } from 'vitest';
import { checkCuSeqlens, maxSeqlenOf, resolveCuSeqlens } from './cu-seqlens.js';
import { isFaError } from './errors.js';
import { resolveAttnProblem, type TensorMeta } from './options.js';

function rejection(fn: () => unknown): { code: string; argument?: string; received?: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isFaError(error)) {
      return { code: error.code, argument: error.argument, received: error.received, message: error.message };
    }
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('cu_seqlens as plain integers', () => {
  const q: TensorMeta = { shape: [9, 2, 8], dtype: 'f32' };
  const kv: TensorMeta = { shape: [9, 1, 8], dtype: 'f32' };

  it('resolves number[], other typed arrays and array-likes to the Int32Array an Int32Array would give', () => {
    const expected = Int32Array.of(0, 4, 9);
    for (const input of [
      [0, 4, 9],
      Float64Array.of(0, 4, 9),
      Uint8Array.of(0, 4, 9),
      { length: 3, 0: 0, 1: 4, 2: 9 },
    ]) {
      const problem = resolveAttnProblem(q, kv, kv, { cuSeqlensQ: input, cuSeqlensK: input });
      expect(problem.cuSeqlensQ).toBeInstanceOf(Int32Array);
      expect(problem.cuSeqlensQ).toEqual(expected);
      expect(problem.cuSeqlensK).toEqual(expected);
      expect(problem).toMatchObject({ batch: 2, maxSeqlenQ: 5, maxSeqlenK: 5 });
    }
  });

  it('converts once: the caller’s array is copied, an Int32Array is used as it is', () => {
    const plain = [0, 4, 9];
    const viaPlain = resolveAttnProblem(q, kv, kv, { cuSeqlensQ: plain, cuSeqlensK: plain });
    plain[1] = 5; // a later change to the caller's array cannot reach a problem already validated
    expect(viaPlain.cuSeqlensQ[1]).toBe(4);
    const int32 = Int32Array.of(0, 4, 9);
    expect(resolveAttnProblem(q, kv, kv, { cuSeqlensQ: int32, cuSeqlensK: int32 }).cuSeqlensQ).toBe(int32);
  });

  it.each([
    ['a float', [0, 4.5, 9], 'cuSeqlensQ[1] = 4.5'],
    ['NaN', [0, Number.NaN, 9], 'cuSeqlensQ[1] = NaN'],
    ['a negative entry', [0, -4, 9], 'cuSeqlensQ[1] = -4'],
    ['an entry beyond int32', [0, 2 ** 31, 9], `cuSeqlensQ[1] = ${2 ** 31}`],
    ['a string entry', [0, '4', 9], 'cuSeqlensQ[1] = "4"'],
    ['a bigint entry', [0, 4n, 9], 'cuSeqlensQ[1] = 4n'],
  ])('names the argument and the index of %s', (_, input, received) => {
    const error = rejection(() =>
      resolveAttnProblem(q, kv, kv, { cuSeqlensQ: input as number[], cuSeqlensK: [0, 4, 9] }),
    );
    expect(error).toMatchObject({ code: 'E_CU_SEQLENS', argument: 'cuSeqlensQ', received });
  });

  it('validates a converted array exactly as an Int32Array: start, order, end, emptiness', () => {
    for (const [bad, expected] of [
      [[1, 4, 9], 'a first entry of 0'],
      [[0, 5, 4, 9], 'non-decreasing'],
      [[0, 4, 8], 'token count 9'],
      [[], 'at least one entry'],
    ] as const) {
      const plain = rejection(() => resolveCuSeqlens(bad, 'cuSeqlensK', 9));
      const typed = rejection(() => resolveCuSeqlens(Int32Array.from(bad), 'cuSeqlensK', 9));
      expect(plain.message).toContain(expected);
      expect({ ...plain, message: undefined, received: undefined }).toEqual({
        ...typed,
        message: undefined,
        received: undefined,
      });
      expect(plain.argument).toBe('cuSeqlensK');
    }
  });

  it('refuses what is not a list of numbers with a typed error naming the argument', () => {
    for (const bad of [undefined, null, 3, 'a string', {}, () => 0, new DataView(new ArrayBuffer(8))]) {
      expect(rejection(() => resolveCuSeqlens(bad, 'cuSeqlens'))).toMatchObject({
        code: 'E_CU_SEQLENS',
        argument: 'cuSeqlens',
      });
    }
  });

  it('checkCuSeqlens and maxSeqlenOf take the same inputs', () => {
    expect(checkCuSeqlens([0, 4, 9], 'cuSeqlens', 9)).toBe(2);
    expect(maxSeqlenOf([0, 4, 9])).toBe(5);
  });
});
