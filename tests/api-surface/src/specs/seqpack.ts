import * as seqpack from '@fa/seqpack';
import type { Spec } from '../sweep.js';
import { CU_SEQLENS_JUNK_THAT_IS_VALID, cu, host } from './fixtures.js';

const padded = () => host([2, 3, 2]);
/** Row-major (batch, seqlen) = (2, 3). */
const mask = () => [1, 1, 0, 1, 0, 0];

export const seqpackSpecs: Record<string, Spec> = {
  attentionFlops: {
    kind: 'checked',
    call: seqpack.attentionFlops,
    args: () => [{ cuSeqlensQ: cu(), cuSeqlensK: cu(), numHeads: 2, headDim: 8 }],
    // An empty bag is named by the first field it lacks.
    names: [['options', 'cuSeqlensQ', 'numHeads']],
  },
  paddedAttentionFlops: {
    kind: 'checked',
    call: seqpack.paddedAttentionFlops,
    args: () => [{ cuSeqlensQ: cu(), cuSeqlensK: cu(), numHeads: 2, headDim: 8, causal: true }],
    names: [['options', 'cuSeqlensQ', 'numHeads']],
  },
  cuSeqlensFromLengths: {
    kind: 'checked',
    call: seqpack.cuSeqlensFromLengths,
    args: () => [[2, 0, 3]],
    names: ['lengths'],
    // An empty batch and all-zero lengths are valid: one offset, or offsets that never move.
    valid: { 0: [[], new Float64Array(3)] },
  },
  lengthsFromCuSeqlens: {
    kind: 'checked',
    call: seqpack.lengthsFromCuSeqlens,
    args: () => [cu()],
    names: ['cuSeqlens'],
    valid: { 0: CU_SEQLENS_JUNK_THAT_IS_VALID },
  },
  maxSeqlen: {
    kind: 'checked',
    call: seqpack.maxSeqlen,
    args: () => [cu()],
    names: ['cuSeqlens'],
    valid: { 0: CU_SEQLENS_JUNK_THAT_IS_VALID },
  },
  positionIds: {
    kind: 'checked',
    call: seqpack.positionIds,
    args: () => [cu()],
    names: ['cuSeqlens'],
    valid: { 0: CU_SEQLENS_JUNK_THAT_IS_VALID },
  },
  validateCuSeqlens: {
    kind: 'checked',
    call: seqpack.validateCuSeqlens,
    args: () => [cu(), { totalTokens: 5 }],
    names: ['cuSeqlens', 'options'],
    valid: { 1: [undefined, {}] },
  },
  indexFirstAxis: {
    kind: 'checked',
    call: seqpack.indexFirstAxis,
    args: () => [host([4, 2]), Int32Array.from([3, 0])],
    names: ['tensor', 'indices'],
    // Indices take any array of integers: no index at all, or row 0 three times, is a valid gather.
    valid: { 1: [[], new Float64Array(3)] },
  },
  packDocuments: {
    kind: 'checked',
    call: seqpack.packDocuments,
    args: () => [[5, 3, 9, 1], { maxTokens: 10, maxSeqs: 3 }],
    names: ['lengths', ['options', 'maxTokens']],
    valid: { 0: [[], new Float64Array(3)] },
  },
  tileMap: {
    kind: 'checked',
    call: seqpack.tileMap,
    args: () => [cu(), cu(), { blockM: 2, blockN: 2, causal: true }],
    names: ['cuSeqlensQ', 'cuSeqlensK', ['options', 'blockM']],
    valid: { 0: CU_SEQLENS_JUNK_THAT_IS_VALID, 1: CU_SEQLENS_JUNK_THAT_IS_VALID },
  },
  forEachTile: {
    kind: 'checked',
    call: seqpack.forEachTile,
    args: () => [seqpack.tileMap(cu(), cu(), { blockM: 2, blockN: 2 }), () => undefined],
    names: ['map', 'visit'],
    notOptions: { map: 'a TileMap that tileMap made, not options' },
    valid: { 1: [() => 1] },
  },
  unpadInput: {
    kind: 'checked',
    call: seqpack.unpadInput,
    args: () => [padded(), mask()],
    names: ['hidden', 'attentionMask'],
  },
  padInput: {
    kind: 'checked',
    call: seqpack.padInput,
    args: () => {
      const { data, indices } = seqpack.unpadInput(padded(), mask());
      return [data, indices, 2, 3];
    },
    names: ['data', 'indices', 'batch', 'seqlen'],
  },
  unpadInputForConcatenatedSequences: {
    kind: 'checked',
    call: seqpack.unpadInputForConcatenatedSequences,
    args: () => [padded(), [2, 1, 0, 3, 0, 0]],
    names: ['hidden', 'attentionMaskInLength'],
  },
};
