export { createReferenceBackend } from '@fa/core';
export {
  type AttentionOptions,
  attention,
  attentionKVPacked,
  attentionQKVPacked,
  type PackedAttentionOptions,
  withReferenceAttention,
} from './attention.js';
export { type GradcheckMismatch, type GradcheckOptions, type GradcheckResult, gradcheck } from './gradcheck.js';
export {
  type CrossEntropyOptions,
  crossEntropy,
  embedding,
  gelu,
  layerNorm,
  type RotaryOptions,
  rmsNorm,
  rotary,
  silu,
} from './layers.js';
export { add, checkSameDtype, linear, matmul, mean, mul, reshape, scale, split, sum, zeros, zerosLike } from './ops.js';
export { Adam, type AdamOptions, AdamW, clipGradNorm, type ParamGroup } from './optim.js';
export { Rng } from './random.js';
export {
  type BackwardFn,
  type BackwardOptions,
  type CustomFunction,
  defineFunction,
  type Float,
  type Grads,
  isGradEnabled,
  noGrad,
  parameter,
  recordOp,
  type TapeNode,
  Variable,
  type VariableOptions,
  variable,
  willRecord,
} from './variable.js';
