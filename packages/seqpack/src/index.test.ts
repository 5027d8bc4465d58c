import { expect, it } from 'vitest';
import * as seqpack from './index.js';

it('exports exactly the public API', () => {
  expect(Object.keys(seqpack).sort()).toEqual([
    'attentionFlops',
    'cuSeqlensFromLengths',
    'forEachTile',
    'indexFirstAxis',
    'lengthsFromCuSeqlens',
    'maxSeqlen',
    'packDocuments',
    'padInput',
    'paddedAttentionFlops',
    'positionIds',
    'tileMap',
    'unpadInput',
    'unpadInputForConcatenatedSequences',
    'validateCuSeqlens',
  ]);
});

it.each<[string, () => unknown, string, string]>([
  [
    'validateCuSeqlens',
    () => seqpack.validateCuSeqlens(Int32Array.of(0, 2), { totalToken: 2 } as never),
    'totalToken',
    'totalTokens',
  ],
  [
    'attentionFlops',
    () =>
      seqpack.attentionFlops({
        cuSeqlensQ: Int32Array.of(0, 2),
        cuSeqlensK: Int32Array.of(0, 2),
        numHeads: 1,
        headDim: 8,
        casual: true,
      } as never),
    'casual',
    'causal',
  ],
  ['packDocuments', () => seqpack.packDocuments([3, 1], { maxTokens: 4, maxSeq: 1 } as never), 'maxSeq', 'maxSeqs'],
  [
    'tileMap',
    () =>
      seqpack.tileMap(Int32Array.of(0, 2), Int32Array.of(0, 2), { blockM: 2, blockN: 2, windowsize: [1, 0] } as never),
    'windowsize',
    'windowSize',
  ],
])('%s rejects a misspelt option, naming it and the option meant', (_, call, key, meant) => {
  expect(call).toThrow(
    expect.objectContaining({
      code: 'E_VALUE',
      argument: `options.${key}`,
      message: expect.stringContaining(`did you mean \`${meant}\`?`),
    }),
  );
});
