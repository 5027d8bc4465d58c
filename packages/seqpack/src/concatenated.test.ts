import { hostTensor } from '@fa/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectFaError } from '../test/expect-fa-error.js';
import { unpadInputForConcatenatedSequences } from './concatenated.js';
import { lengthsFromCuSeqlens, positionIds, validateCuSeqlens } from './cu-seqlens.js';
import { padInput } from './unpad.js';

const counting = (batch: number, seqlen: number) =>
  hostTensor(
    Float32Array.from({ length: batch * seqlen }, (_, i) => i + 1),
    [batch, seqlen],
    'f32',
  );

describe('unpadInputForConcatenatedSequences', () => {
  it('gives every document of every row its own sequence', () => {
    // Row 0: documents of 2 and 3 tokens filling all 5 slots; row 1: one document of 4, then a padding slot.
    const out = unpadInputForConcatenatedSequences(counting(2, 5), [2, 3, 0, 0, 0, 4, 0, 0, 0, 0]);
    expect(out.cuSeqlens).toEqual(Int32Array.from([0, 2, 5, 9]));
    expect(out.seqused).toEqual(Int32Array.from([2, 3, 4]));
    expect(out.maxSeqlen).toBe(4);
    expect(out.indices).toEqual(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]));
    expect([...out.data.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('skips padding at the end of rows and rows without documents', () => {
    const mask = hostTensor(Int32Array.from([1, 1, 0, 0, 0, 0, 3, 0, 0]), [3, 3], 'i32');
    const out = unpadInputForConcatenatedSequences(counting(3, 3), mask);
    expect(out.cuSeqlens).toEqual(Int32Array.from([0, 1, 2, 5]));
    expect(out.indices).toEqual(Int32Array.from([0, 1, 6, 7, 8]));
    expect([...out.data.data]).toEqual([1, 2, 7, 8, 9]);
  });

  it('rejects malformed length masks', () => {
    const hidden = counting(2, 5);
    const argument = 'attentionMaskInLength';
    const gap = expectFaError(
      () => unpadInputForConcatenatedSequences(hidden, [2, 0, 3, 0, 0, 5, 0, 0, 0, 0]),
      'E_VALUE',
      argument,
    );
    expect(gap.message).toContain('row 0');
    const over = expectFaError(
      () => unpadInputForConcatenatedSequences(hidden, [2, 3, 0, 0, 0, 4, 2, 0, 0, 0]),
      'E_VALUE',
      argument,
    );
    expect(over.message).toContain('row 1');
    expectFaError(
      () => unpadInputForConcatenatedSequences(hidden, [6, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
      'E_VALUE',
      argument,
    );
    expectFaError(
      () => unpadInputForConcatenatedSequences(hidden, [-1, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
      'E_VALUE',
      argument,
    );
    expectFaError(
      () => unpadInputForConcatenatedSequences(hidden, [1.5, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
      'E_VALUE',
      argument,
    );
    expectFaError(() => unpadInputForConcatenatedSequences(hidden, [2, 3, 0, 0, 0]), 'E_SHAPE', argument);
    expectFaError(() => unpadInputForConcatenatedSequences(hidden, 'lengths' as never), 'E_DTYPE', argument);
    expectFaError(() => unpadInputForConcatenatedSequences([1, 2] as never, [1, 1]), 'E_SHAPE', 'hidden');
  });

  it('packs random concatenations losslessly, one sequence per document', () => {
    const rowArb = (seqlen: number) =>
      fc.array(fc.integer({ min: 1, max: seqlen }), { maxLength: seqlen }).map((lengths) => {
        const kept: number[] = [];
        let used = 0;
        for (const length of lengths) {
          if (used + length > seqlen) break;
          kept.push(length);
          used += length;
        }
        return kept;
      });
    const caseArb = fc
      .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 11 }))
      .chain(([batch, seqlen]) =>
        fc.tuple(fc.constant(seqlen), fc.array(rowArb(seqlen), { minLength: batch, maxLength: batch })),
      );

    fc.assert(
      fc.property(caseArb, ([seqlen, rows]) => {
        const batch = rows.length;
        const mask = rows.flatMap((docs) => [...docs, ...new Array(seqlen - docs.length).fill(0)]);
        const hidden = counting(batch, seqlen);
        const out = unpadInputForConcatenatedSequences(hidden, mask);
        const documents = rows.flat();
        const nnz = documents.reduce((a, b) => a + b, 0);
        expect(validateCuSeqlens(out.cuSeqlens, { totalTokens: nnz })).toBe(documents.length);
        expect([...lengthsFromCuSeqlens(out.cuSeqlens)]).toEqual(documents);
        expect([...out.data.data]).toEqual([...out.indices].map((i) => i + 1));

        // Each row's tokens come first, document after document, so positions restart at every boundary.
        const positions = positionIds(out.cuSeqlens);
        let k = 0;
        for (const docs of rows)
          for (const length of docs) for (let p = 0; p < length; p++) expect(positions[k++]).toBe(p);

        const padded = padInput(out.data, out.indices, batch, seqlen);
        rows.forEach((docs, b) => {
          const used = docs.reduce((a, c) => a + c, 0);
          for (let s = 0; s < seqlen; s++) {
            expect(padded.data[b * seqlen + s]).toBe(s < used ? b * seqlen + s + 1 : 0);
          }
        });
      }),
    );
  });
});
