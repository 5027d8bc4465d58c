import { encodeFromFloat, type HostTensor, hostTensor } from '@fa/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectFaError } from '../test/expect-fa-error.js';
import { validateCuSeqlens } from './cu-seqlens.js';
import { padInput, unpadInput } from './unpad.js';

/** `(batch, seqlen, width)` f32 holding 1, 2, 3, … so every row is distinct and nonzero. */
function counting(batch: number, seqlen: number, width: number): HostTensor<'f32'> {
  const data = Float32Array.from({ length: batch * seqlen * width }, (_, i) => i + 1);
  return hostTensor(data, [batch, seqlen, width], 'f32');
}

describe('unpadInput', () => {
  // Row 0 keeps its first two tokens, row 1 has a hole in the middle.
  const hidden = counting(2, 3, 2);
  const mask = [1, 1, 0, 1, 0, 1];

  it('keeps the tokens the mask marks, row after row', () => {
    const out = unpadInput(hidden, Uint8Array.from(mask));
    expect(out.indices).toEqual(Int32Array.from([0, 1, 3, 5]));
    expect(out.cuSeqlens).toEqual(Int32Array.from([0, 2, 4]));
    expect(out.maxSeqlen).toBe(2);
    expect(out.seqused).toEqual(Int32Array.from([2, 2]));
    expect(out.data.shape).toEqual([4, 2]);
    expect(out.data.dtype).toBe('f32');
    expect([...out.data.data]).toEqual([1, 2, 3, 4, 7, 8, 11, 12]);
  });

  it('reads the mask in every accepted form', () => {
    const expected = unpadInput(hidden, Uint8Array.from(mask)).indices;
    const forms = [
      Int32Array.from(mask),
      mask.map(Boolean),
      mask,
      hostTensor(Int32Array.from(mask), [2, 3], 'i32'),
      hostTensor(Float32Array.from(mask), [2, 3], 'f32'),
      hostTensor(encodeFromFloat(mask, 'bf16'), [2, 3], 'bf16'),
    ];
    for (const form of forms) expect(unpadInput(hidden, form).indices).toEqual(expected);
  });

  it('keeps the dtype and trailing dimensions of any tensor', () => {
    const bits = hostTensor(
      Uint16Array.from({ length: 15 }, (_, i) => 0x3c00 + i),
      [3, 5],
      'f16',
    );
    const out = unpadInput(bits, [0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
    expect(out.data.dtype).toBe('f16');
    expect(out.data.data).toBeInstanceOf(Uint16Array);
    expect(out.data.shape).toEqual([8]);
    expect(out.cuSeqlens).toEqual(Int32Array.from([0, 2, 7, 8]));
    expect(out.data.data[0]).toBe(0x3c01);

    const wide = hostTensor(
      Int32Array.from({ length: 3 * 2 * 3 }, (_, i) => 100 + i),
      [1, 3, 2, 3],
      'i32',
    );
    const kept = unpadInput(wide, [0, 1, 0]);
    expect(kept.data.shape).toEqual([1, 2, 3]);
    expect([...kept.data.data]).toEqual([106, 107, 108, 109, 110, 111]);
  });

  it('keeps an all-padding row as an empty sequence', () => {
    const out = unpadInput(counting(3, 1, 1), [1, 0, 1]);
    expect(out.cuSeqlens).toEqual(Int32Array.from([0, 1, 1, 2]));
    expect(out.seqused).toEqual(Int32Array.from([1, 0, 1]));
  });

  it('rejects a malformed hidden tensor', () => {
    expectFaError(() => unpadInput(undefined as never, mask), 'E_SHAPE', 'hidden');
    expectFaError(
      () => unpadInput(hostTensor(Float32Array.from([1, 2, 3]), [3], 'f32'), [1, 1, 1]),
      'E_SHAPE',
      'hidden',
    );
    const wrongCount = { data: new Float32Array(5), shape: [2, 3], dtype: 'f32' } as HostTensor;
    expectFaError(() => unpadInput(wrongCount, mask), 'E_SHAPE', 'hidden');
    const wrongStorage = { data: new Float32Array(6), shape: [2, 3], dtype: 'f16' } as HostTensor;
    expectFaError(() => unpadInput(wrongStorage, mask), 'E_DTYPE', 'hidden');
    const wrongDType = { data: new Float32Array(6), shape: [2, 3], dtype: 'f64' } as unknown as HostTensor;
    expectFaError(() => unpadInput(wrongDType, mask), 'E_DTYPE', 'hidden.dtype');
  });

  it('rejects a malformed mask', () => {
    expectFaError(() => unpadInput(hidden, [1, 1, 0, 1, 0]), 'E_SHAPE', 'attentionMask');
    expectFaError(
      () => unpadInput(hidden, hostTensor(Int32Array.from(mask), [3, 2], 'i32')),
      'E_SHAPE',
      'attentionMask',
    );
    expectFaError(() => unpadInput(hidden, hostTensor(Int32Array.from(mask), [6], 'i32')), 'E_SHAPE', 'attentionMask');
    expectFaError(() => unpadInput(hidden, Float32Array.from(mask) as never), 'E_DTYPE', 'attentionMask');
    expectFaError(() => unpadInput(hidden, null as never), 'E_DTYPE', 'attentionMask');
    const two = expectFaError(() => unpadInput(hidden, [1, 1, 0, 1, 2, 1]), 'E_VALUE', 'attentionMask');
    expect(two.message).toContain('attentionMask[1][1] = 2');
    expectFaError(() => unpadInput(hidden, [1, 1, 0, 1, -1, 1]), 'E_VALUE', 'attentionMask');
    expectFaError(() => unpadInput(hidden, [1, 1, 0, 1, 0.5, 1]), 'E_VALUE', 'attentionMask');
    expectFaError(() => unpadInput(hidden, [1, 1, 0, 1, '1', 1] as never), 'E_VALUE', 'attentionMask');
  });
});

describe('padInput', () => {
  it('scatters packed rows back, with zeros at padded positions', () => {
    const data = hostTensor(Float32Array.from([1, 2, 3, 4, 7, 8, 11, 12]), [4, 2], 'f32');
    const padded = padInput(data, Int32Array.from([0, 1, 3, 5]), 2, 3);
    expect(padded.shape).toEqual([2, 3, 2]);
    expect([...padded.data]).toEqual([1, 2, 3, 4, 0, 0, 7, 8, 0, 0, 11, 12]);
  });

  it('rejects bad sizes and indices', () => {
    const data = hostTensor(Float32Array.from([5, 6, 7]), [3], 'f32');
    const indices = Int32Array.from([0, 2, 4]);
    expectFaError(() => padInput(data, indices, -1, 5), 'E_VALUE', 'batch');
    expectFaError(() => padInput(data, indices, 1.5, 5), 'E_VALUE', 'batch');
    expectFaError(() => padInput(data, indices, 1, Number.NaN), 'E_VALUE', 'seqlen');
    expectFaError(() => padInput({ shape: [3] } as never, indices, 1, 5), 'E_SHAPE', 'data');
    expectFaError(() => padInput(data, null as never, 1, 5), 'E_DTYPE', 'indices');
    expectFaError(() => padInput(data, [0, 2, Number.NaN], 1, 5), 'E_VALUE', 'indices');
    expect(padInput(data, [0, 2, 4], 1, 5)).toEqual(padInput(data, indices, 1, 5));
    expectFaError(() => padInput(data, Int32Array.from([0, 2, 5]), 1, 5), 'E_VALUE', 'indices');
    expectFaError(() => padInput(data, Int32Array.from([0, -2, 4]), 1, 5), 'E_VALUE', 'indices');
    expectFaError(() => padInput(data, Int32Array.from([0, 2, 2]), 1, 5), 'E_VALUE', 'indices');
    expectFaError(() => padInput(data, Int32Array.from([0, 2]), 1, 5), 'E_SHAPE', 'indices');
  });
});

describe('pad ∘ unpad', () => {
  const batchArb = fc
    .record({
      batch: fc.integer({ min: 1, max: 5 }),
      seqlen: fc.integer({ min: 1, max: 9 }),
      width: fc.integer({ min: 1, max: 3 }),
    })
    .chain(({ batch, seqlen, width }) =>
      fc.record({
        batch: fc.constant(batch),
        seqlen: fc.constant(seqlen),
        width: fc.constant(width),
        mask: fc.array(fc.boolean(), { minLength: batch * seqlen, maxLength: batch * seqlen }),
        values: fc.array(fc.integer({ min: 1, max: 999 }), {
          minLength: batch * seqlen * width,
          maxLength: batch * seqlen * width,
        }),
      }),
    );

  it('round-trips data and indices, and zeroes exactly the padding', () => {
    fc.assert(
      fc.property(batchArb, ({ batch, seqlen, width, mask, values }) => {
        const hidden = hostTensor(Float32Array.from(values), [batch, seqlen, width], 'f32');
        const out = unpadInput(hidden, mask);
        const nnz = mask.filter(Boolean).length;
        expect(validateCuSeqlens(out.cuSeqlens, { totalTokens: nnz })).toBe(batch);
        expect([...out.indices]).toEqual(mask.flatMap((keep, i) => (keep ? [i] : [])));

        const padded = padInput(out.data, out.indices, batch, seqlen);
        expect(padded.shape).toEqual(hidden.shape);
        expect([...padded.data]).toEqual(values.map((v, i) => (mask[Math.floor(i / width)] ? v : 0)));

        const again = unpadInput(padded, mask);
        expect(again.data).toEqual(out.data);
        expect(again.indices).toEqual(out.indices);
      }),
    );
  });
});
