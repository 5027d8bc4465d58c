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
