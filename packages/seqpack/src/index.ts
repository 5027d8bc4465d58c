export type { MaskInput } from './attention-mask.js';
export { unpadInputForConcatenatedSequences } from './concatenated.js';
export {
  cuSeqlensFromLengths,
  lengthsFromCuSeqlens,
  maxSeqlen,
  positionIds,
  type ValidateCuSeqlensOptions,
  validateCuSeqlens,
} from './cu-seqlens.js';
export { type AttentionFlopsOptions, attentionFlops, paddedAttentionFlops } from './flops.js';
export { indexFirstAxis } from './index-first-axis.js';
export { type PackedBatch, type PackOptions, type PackPlan, type PackStats, packDocuments } from './pack.js';
export { forEachTile, type TileCounts, type TileMap, type TileMapOptions, tileMap } from './tile-map.js';
export { padInput, type Unpadded, unpadInput } from './unpad.js';
