import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectFaError } from '../test/expect-fa-error.js';
import { cuSeqlensFromLengths, lengthsFromCuSeqlens, maxSeqlen, positionIds, validateCuSeqlens } from './cu-seqlens.js';

const lengthsArb = fc.array(fc.integer({ min: 0, max: 37 }), { maxLength: 13 });

describe('cuSeqlensFromLengths', () => {
  it('accumulates lengths into offsets, keeping empty sequences', () => {
    expect(cuSeqlensFromLengths([3, 0, 5])).toEqual(Int32Array.from([0, 3, 3, 8]));
    expect(cuSeqlensFromLengths(Uint8Array.from([7, 1]))).toEqual(Int32Array.from([0, 7, 8]));
    expect(cuSeqlensFromLengths([])).toEqual(Int32Array.from([0]));
  });

  it('accepts a total of exactly 2^31 - 1 tokens', () => {
    expect(cuSeqlensFromLengths([2 ** 31 - 2, 1])[2]).toBe(2 ** 31 - 1);
  });

  it.each([
    ['a negative length', [3, -1]],
    ['a fractional length', [1.5]],
    ['NaN', [2, Number.NaN]],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['a string', ['3']],
    ['a length past int32', [2 ** 31]],
  ])('rejects %s', (_, lengths) => {
    const error = expectFaError(() => cuSeqlensFromLengths(lengths as number[]), 'E_VALUE', 'lengths');
    expect(error.message).toMatch(/lengths\[\d\]/);
  });

  it('rejects a running sum that would overflow int32', () => {
    const error = expectFaError(() => cuSeqlensFromLengths([2 ** 30, 2 ** 30, 5]), 'E_VALUE', 'lengths');
    expect(error.message).toContain('lengths[1]');
  });

  it('rejects what is not an array', () => {
    expectFaError(() => cuSeqlensFromLengths(7 as unknown as number[]), 'E_VALUE', 'lengths');
    expectFaError(
      () => cuSeqlensFromLengths(new DataView(new ArrayBuffer(4)) as unknown as number[]),
      'E_VALUE',
      'lengths',
    );
  });
});

describe('lengthsFromCuSeqlens, maxSeqlen and positionIds', () => {
  const cu = Int32Array.from([0, 3, 3, 8]);

  it('reads lengths, the longest sequence and restarting positions', () => {
    expect(lengthsFromCuSeqlens(cu)).toEqual(Int32Array.from([3, 0, 5]));
    expect(maxSeqlen(cu)).toBe(5);
    expect(positionIds(cu)).toEqual(Int32Array.from([0, 1, 2, 0, 1, 2, 3, 4]));
  });

  it('handles an empty batch', () => {
    const empty = Int32Array.from([0]);
    expect(lengthsFromCuSeqlens(empty)).toEqual(new Int32Array(0));
    expect(maxSeqlen(empty)).toBe(0);
    expect(positionIds(empty)).toEqual(new Int32Array(0));
  });

  it.each([
    ['lengthsFromCuSeqlens', lengthsFromCuSeqlens],
    ['maxSeqlen', maxSeqlen],
    ['positionIds', positionIds],
  ] as const)('%s rejects malformed cu_seqlens', (_, fn) => {
    expectFaError(() => fn([0, 1.5]), 'E_CU_SEQLENS', 'cuSeqlens');
    expectFaError(() => fn(Int32Array.from([1, 3])), 'E_CU_SEQLENS', 'cuSeqlens');
    expectFaError(() => fn(Int32Array.from([0, 5, 3])), 'E_CU_SEQLENS', 'cuSeqlens');
  });
});

describe('validateCuSeqlens', () => {
  it('returns the batch size', () => {
    expect(validateCuSeqlens(Int32Array.from([0, 3, 3, 8]))).toBe(3);
    expect(validateCuSeqlens(Int32Array.from([0, 3, 3, 8]), { totalTokens: 8 })).toBe(3);
    expect(validateCuSeqlens(Int32Array.from([0]), { totalTokens: 0 })).toBe(0);
  });

  it('takes plain integers as well as an Int32Array', () => {
    expect(validateCuSeqlens([0, 3, 3, 8], { totalTokens: 8 })).toBe(3);
    expect(validateCuSeqlens(Float32Array.from([0, 3]))).toBe(1);
    expect(lengthsFromCuSeqlens([0, 2, 2, 5])).toEqual(Int32Array.of(2, 0, 3));
    expect(maxSeqlen([0, 2, 2, 5])).toBe(3);
    expect(positionIds([0, 2, 5])).toEqual(Int32Array.of(0, 1, 0, 1, 2));
  });

  it.each([
    ['a plain array with a fraction', [0, 3.5]],
    ['a Float32Array with NaN', Float32Array.from([0, Number.NaN])],
    ['a plain array past int32', [0, 2 ** 31]],
    ['an empty array', []],
    ['an empty Int32Array', new Int32Array(0)],
    ['a nonzero start', Int32Array.from([2, 3])],
    ['decreasing offsets', Int32Array.from([0, 5, 3, 7])],
    ['negative offsets', Int32Array.from([0, -1])],
  ])('rejects %s, naming the argument', (_, cu) => {
    expectFaError(() => validateCuSeqlens(cu), 'E_CU_SEQLENS', 'cuSeqlens');
    expectFaError(() => validateCuSeqlens(cu, { argument: 'cuSeqlensK' }), 'E_CU_SEQLENS', 'cuSeqlensK');
  });

  it('rejects offsets that do not end at the token count', () => {
    const error = expectFaError(
      () => validateCuSeqlens(Int32Array.from([0, 3, 7]), { totalTokens: 9, argument: 'cuSeqlensQ' }),
      'E_CU_SEQLENS',
      'cuSeqlensQ',
    );
    expect(error.message).toContain('9');
  });

  it('rejects bad options', () => {
    expectFaError(() => validateCuSeqlens(Int32Array.from([0, 3]), { totalTokens: -1 }), 'E_VALUE', 'totalTokens');
    expectFaError(() => validateCuSeqlens(Int32Array.from([0, 3]), { totalTokens: 2.5 }), 'E_VALUE', 'totalTokens');
    expectFaError(() => validateCuSeqlens(Int32Array.from([0, 3]), null as never), 'E_VALUE', 'options');
  });
});

describe('cu_seqlens properties', () => {
  it('builds valid offsets from any lengths, and reads the same lengths back', () => {
    fc.assert(
      fc.property(lengthsArb, (lengths) => {
        const cu = cuSeqlensFromLengths(lengths);
        const total = lengths.reduce((a, b) => a + b, 0);
        expect(validateCuSeqlens(cu, { totalTokens: total })).toBe(lengths.length);
        expect([...lengthsFromCuSeqlens(cu)]).toEqual(lengths);
        expect(maxSeqlen(cu)).toBe(Math.max(0, ...lengths));
      }),
    );
  });

  it('restarts positions at 0 for every sequence', () => {
    fc.assert(
      fc.property(lengthsArb, (lengths) => {
        const cu = cuSeqlensFromLengths(lengths);
        const ids = positionIds(cu);
        expect(ids.length).toBe(cu[lengths.length]);
        lengths.forEach((length, b) => {
          const start = cu[b] as number;
          expect([...ids.subarray(start, start + length)]).toEqual(Array.from({ length }, (_, i) => i));
        });
      }),
    );
  });
});
