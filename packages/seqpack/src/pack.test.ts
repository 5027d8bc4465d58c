import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectFaError } from '../test/expect-fa-error.js';
import { validateCuSeqlens } from './cu-seqlens.js';
import { packDocuments } from './pack.js';

/** First-fit decreasing the obvious quadratic way, to check the tournament tree against. */
function naiveFirstFitDecreasing(lengths: number[], maxTokens: number, maxSeqs: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => (lengths[b] as number) - (lengths[a] as number) || a - b);
  const batches: { docs: number[]; tokens: number }[] = [];
  for (const doc of order) {
    const length = lengths[doc] as number;
    let batch = batches.find((b) => b.tokens + length <= maxTokens && b.docs.length < maxSeqs);
    if (!batch) {
      batch = { docs: [], tokens: 0 };
      batches.push(batch);
    }
    batch.docs.push(doc);
    batch.tokens += length;
  }
  return batches.map((b) => b.docs.sort((x, y) => x - y));
}

describe('packDocuments', () => {
  it('packs longest first into the first batch with room', () => {
    // 8 and 7 open batches 0 and 1, 5 opens batch 2; 3 fits batch 1, 2 fits batch 0, 1 fits batch 2.
    const { batches, stats } = packDocuments([5, 3, 8, 2, 7, 1], { maxTokens: 10 });
    expect(batches.map((b) => b.documents)).toEqual([
      [2, 3],
      [1, 4],
      [0, 5],
    ]);
    expect(batches.map((b) => b.tokens)).toEqual([10, 10, 6]);
    expect(batches.map((b) => b.maxSeqlen)).toEqual([8, 7, 5]);
    expect(batches[1]?.cuSeqlens).toEqual(Int32Array.from([0, 3, 10]));
    expect(stats).toEqual({
      documents: 6,
      tokens: 26,
      batches: 3,
      packedSlots: 30,
      // The same batches padded: 2 · 8 + 2 · 7 + 2 · 5.
      paddedSlots: 40,
      // Corpus order in groups of ceil(6 / 3) = 2: [5, 3] [8, 2] [7, 1] → 2 · 5 + 2 · 8 + 2 · 7.
      paddedBatchSlots: 40,
      utilization: 26 / 30,
      paddingWasteRatio: 1 - 26 / 40,
    });
  });

  it('reports what padding a skewed corpus would waste', () => {
    const { stats } = packDocuments([1, 9, 1, 9, 1, 9, 1], { maxTokens: 11 });
    // Batches 9 + 1 + 1, 9 + 1 + 1 and 9; padded in corpus order, groups of 3: [1, 9, 1] [9, 1, 9] [1].
    expect(stats.batches).toBe(3);
    expect(stats.paddedBatchSlots).toBe(3 * 9 + 3 * 9 + 1 * 1);
    expect(stats.paddingWasteRatio).toBeCloseTo(1 - 31 / 55);
  });

  it('caps the documents per batch with maxSeqs', () => {
    const { batches } = packDocuments([1, 1, 1, 1, 1], { maxTokens: 99, maxSeqs: 2 });
    expect(batches.map((b) => b.documents)).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('keeps empty documents and handles an empty corpus', () => {
    const { batches, stats } = packDocuments([0, 3, 0], { maxTokens: 3 });
    expect(batches.map((b) => b.documents)).toEqual([[0, 1, 2]]);
    expect(batches[0]?.cuSeqlens).toEqual(Int32Array.from([0, 0, 3, 3]));
    expect(stats.utilization).toBe(1);

    const empty = packDocuments([], { maxTokens: 7 });
    expect(empty.batches).toEqual([]);
    expect(empty.stats).toEqual({
      documents: 0,
      tokens: 0,
      batches: 0,
      packedSlots: 0,
      paddedSlots: 0,
      paddedBatchSlots: 0,
      utilization: 0,
      paddingWasteRatio: 0,
    });
  });

  it('refuses a document longer than the budget, naming it', () => {
    const error = expectFaError(() => packDocuments([3, 12, 5], { maxTokens: 11 }), 'E_VALUE', 'lengths');
    expect(error.message).toContain('lengths[1] = 12');
  });

  it('rejects bad lengths and options', () => {
    expectFaError(() => packDocuments([3, -1], { maxTokens: 11 }), 'E_VALUE', 'lengths');
    expectFaError(() => packDocuments([3, 2.5], { maxTokens: 11 }), 'E_VALUE', 'lengths');
    expectFaError(() => packDocuments([3], undefined as never), 'E_VALUE', 'options');
    expectFaError(() => packDocuments([3], {} as never), 'E_VALUE', 'maxTokens');
    expectFaError(() => packDocuments([3], { maxTokens: 0 }), 'E_VALUE', 'maxTokens');
    expectFaError(() => packDocuments([3], { maxTokens: 2 ** 31 }), 'E_VALUE', 'maxTokens');
    expectFaError(() => packDocuments([3], { maxTokens: 5, maxSeqs: 0 }), 'E_VALUE', 'maxSeqs');
    expectFaError(() => packDocuments([3], { maxTokens: 5, maxSeqs: 1.5 }), 'E_VALUE', 'maxSeqs');
  });

  it('respects both budgets, places every document once and matches first-fit decreasing', () => {
    const caseArb = fc.integer({ min: 1, max: 41 }).chain((maxTokens) =>
      fc.record({
        maxTokens: fc.constant(maxTokens),
        maxSeqs: fc.option(fc.integer({ min: 1, max: 7 }), { nil: undefined }),
        lengths: fc.array(fc.integer({ min: 0, max: maxTokens }), { maxLength: 43 }),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ maxTokens, maxSeqs, lengths }) => {
        const { batches, stats } = packDocuments(lengths, { maxTokens, maxSeqs });
        const seats = maxSeqs ?? Number.POSITIVE_INFINITY;
        const placed: number[] = [];
        for (const batch of batches) {
          expect(batch.tokens).toBeLessThanOrEqual(maxTokens);
          expect(batch.documents.length).toBeLessThanOrEqual(seats);
          expect(batch.documents.length).toBeGreaterThan(0);
          expect(validateCuSeqlens(batch.cuSeqlens, { totalTokens: batch.tokens })).toBe(batch.documents.length);
          batch.documents.forEach((doc, i) => {
            expect((batch.cuSeqlens[i + 1] as number) - (batch.cuSeqlens[i] as number)).toBe(lengths[doc]);
          });
          placed.push(...batch.documents);
        }
        expect(placed.sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
        expect(batches.map((b) => b.documents)).toEqual(naiveFirstFitDecreasing(lengths, maxTokens, seats));

        const tokens = lengths.reduce((a, b) => a + b, 0);
        expect(stats.tokens).toBe(tokens);
        expect(stats.batches).toBeGreaterThanOrEqual(Math.ceil(tokens / maxTokens));
        expect(stats.batches).toBeGreaterThanOrEqual(Math.ceil(lengths.length / seats));
        expect(stats.paddedSlots).toBeGreaterThanOrEqual(tokens);
        expect(stats.paddedBatchSlots).toBeGreaterThanOrEqual(tokens);
        expect(stats.utilization).toBeLessThanOrEqual(1);
        expect(stats.paddingWasteRatio).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});
