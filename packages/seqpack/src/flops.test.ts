import { describe, expect, it } from 'vitest';
import { expectFaError } from '../test/expect-fa-error.js';
import { cuSeqlensFromLengths } from './cu-seqlens.js';
import { attentionFlops, paddedAttentionFlops } from './flops.js';

describe('attentionFlops', () => {
  const cuSeqlensQ = cuSeqlensFromLengths([3, 7]);
  const cuSeqlensK = cuSeqlensFromLengths([5, 7]);
  const base = { cuSeqlensQ, cuSeqlensK, numHeads: 3, headDim: 9 };

  it('counts 4 · Σ Lq · Lk · H · D, halved when causal', () => {
    expect(attentionFlops(base)).toBe(4 * (3 * 5 + 7 * 7) * 3 * 9);
    expect(attentionFlops({ ...base, causal: true })).toBe(2 * (3 * 5 + 7 * 7) * 3 * 9);
  });

  it('counts the padded layout as batch · maxLq · maxLk', () => {
    expect(paddedAttentionFlops(base)).toBe(4 * 2 * 7 * 7 * 3 * 9);
    expect(paddedAttentionFlops({ ...base, causal: true })).toBe(2 * 2 * 7 * 7 * 3 * 9);
  });

  it("matches flash-attention's benchmark formula for equal lengths", () => {
    const [batch, seqlen, numHeads, headDim] = [3, 11, 5, 7];
    const cu = cuSeqlensFromLengths(new Array(batch).fill(seqlen));
    const options = { cuSeqlensQ: cu, cuSeqlensK: cu, numHeads, headDim, causal: true };
    expect(attentionFlops(options)).toBe((4 * batch * seqlen ** 2 * numHeads * headDim) / 2);
    expect(paddedAttentionFlops(options)).toBe(attentionFlops(options));
  });

  it('rejects bad options', () => {
    for (const fn of [attentionFlops, paddedAttentionFlops]) {
      expectFaError(() => fn(null as never), 'E_VALUE', 'options');
      expectFaError(() => fn({ ...base, numHeads: 0 }), 'E_VALUE', 'numHeads');
      expectFaError(() => fn({ ...base, headDim: 2.5 }), 'E_VALUE', 'headDim');
      expectFaError(() => fn({ ...base, causal: 'yes' as never }), 'E_VALUE', 'causal');
      expectFaError(() => fn({ ...base, cuSeqlensQ: [0, 3.5] }), 'E_CU_SEQLENS', 'cuSeqlensQ');
      expect(fn({ ...base, cuSeqlensQ: Array.from(base.cuSeqlensQ), cuSeqlensK: Array.from(base.cuSeqlensK) })).toBe(
        fn(base),
      );
      expectFaError(() => fn({ ...base, cuSeqlensK: cuSeqlensFromLengths([5]) }), 'E_CU_SEQLENS', 'cuSeqlensK');
    }
  });
});
