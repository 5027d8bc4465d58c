export type { AttentionBackend, BackendCapabilities, BackendFactory, InterleavePart } from './backend.js';
export {
  type CuSeqlensInput,
  checkCuSeqlens,
  maxSeqlenOf,
  resolveCuSeqlens,
  toCuSeqlens,
} from './cu-seqlens.js';
export {
  bf16BitsToF32,
  bytesPerElement,
  checkDType,
  checkFloatDType,
  type DType,
  decodeToFloat32,
  encodeFromFloat,
  FLOAT_DTYPES,
  type FloatDType,
  f16BitsToF32,
  f32Bits,
  f32FromBits,
  f32ToBf16Bits,
  f32ToF16Bits,
  isDType,
  isFloatDType,
  roundToDType,
  type StorageFor,
} from './dtype.js';
export {
  checkOptionsBag,
  describeValue,
  expectationError,
  FaError,
  type FaErrorCode,
  type FaErrorDetails,
  isFaError,
  isOptionsBag,
} from './errors.js';
export { interleaveHost } from './interleave.js';
export {
  type DropoutScalars,
  type KernelLayouts,
  type KernelPlan,
  lowerProblem,
  type ScoreScalars,
} from './kernel-plan.js';
export { checkKnownKeys, optionKeys } from './known-keys.js';
export {
  checkLayout,
  contiguousLayout,
  isContiguousLayout,
  type TensorLayout,
} from './layout.js';
export { alibiBias, blockFullyVisible, type KeyRange, visibleKeyRange, visibleKeySpan } from './mask.js';
export { mergeAttnStates } from './merge.js';
export {
  ATTN_OPTION_KEYS,
  type AttnOptions,
  type AttnProblem,
  checkTensorMeta,
  MAX_HEAD_DIM,
  optionsOfProblem,
  resolveAttnProblem,
  type TensorMeta,
} from './options.js';
export {
  DropoutMask,
  type DropoutSeed,
  dropoutThreshold,
  mulhi32,
  philox4x32,
  splitSeed,
} from './philox.js';
export {
  type F64Tensor,
  type ReferenceBackwardResult,
  type ReferenceConfig,
  type ReferenceForwardResult,
  type ReferencePrecision,
  type ReferenceTensor,
  referenceAttnBackward,
  referenceAttnForward,
  toFloat64,
} from './reference.js';
export { createReferenceBackend } from './reference-backend.js';
export {
  activeBackendName,
  type BackendRegistration,
  getBackend,
  listBackends,
  type RegisterBackendOptions,
  registerBackend,
  resetBackends,
  resolveBackend,
  setBackend,
  unregisterBackend,
} from './registry.js';
export {
  checkHostTensor,
  type FloatHostTensor,
  formatShape,
  type HostTensor,
  hostTensor,
  inferDType,
  isValidShape,
  numel,
  shapesEqual,
  storageMatches,
  storageTypeName,
} from './tensor.js';
export {
  KEY_TILE,
  type KeyTileOptions,
  longestFirst,
  planKeyTiles,
  planQueryTiles,
  QUERY_TILE,
  type QueryTileOptions,
  TILE_ITEM_INTS,
  type TileList,
  type TileProblem,
  visibleRowSpan,
} from './tiles.js';
