export {
  type AttentionBackend,
  type AttnOptions,
  type BackendCapabilities,
  type BackendFactory,
  type DType,
  FaError,
  type FaErrorCode,
  type FloatDType,
  type HostTensor,
  isFaError,
  mergeAttnStates,
  registerBackend,
  resetBackends,
  unregisterBackend,
} from '@fa/core';
export { getBackend, listBackends, resolveBackend, setBackend } from './backends.js';
export type { TensorInput } from './inputs.js';
export {
  flashAttnVarlenKVPacked,
  flashAttnVarlenKVPackedBackward,
  flashAttnVarlenQKVPacked,
  flashAttnVarlenQKVPackedBackward,
  PACKED_OPTION_KEYS,
  type PackedOptions,
} from './packed.js';
export { flashAttn, flashAttnBackward, PADDED_OPTION_KEYS, type PaddedOptions } from './padded.js';
export { Tensor, tensor } from './tensor.js';
export {
  flashAttnVarlen,
  flashAttnVarlenBackward,
  VARLEN_OPTION_KEYS,
  type VarlenBackwardResult,
  type VarlenForwardResult,
  type VarlenOptions,
} from './varlen.js';
