import * as fa from '@fa/flash-attn';
import * as cpu from '@fa/flash-attn/cpu';
import type { Spec } from '../sweep.js';
import { coreSpecs } from './core.js';
import { attnInputs, cu, host } from './fixtures.js';

const isBoolean = (r: unknown) => typeof r === 'boolean';
/** Options name the first field they lack when a bag is empty: the cu_seqlens. */
const OPTIONS = ['options', 'cuSeqlensQ'] as const;

/** (batch, seqlen, heads, dim) inputs of the padded API: two sequences of 3, 2 heads over 1, dim 3. */
const paddedInputs = () => ({ q: host([2, 3, 2, 3]), k: host([2, 3, 1, 3], 0.8), v: host([2, 3, 1, 3], 1.9) });

function varlenBackwardArgs() {
  const { q, k, v, options } = attnInputs();
  return [host([5, 2, 3], 3.3), q, k, v, host([5, 2, 3], 0.4), host([2, 5], 0.2), options];
}

export const flashAttnSpecs: Record<string, Spec> = {
  FaError: coreSpecs.FaError as Spec,
  isFaError: {
    kind: 'total',
    call: fa.isFaError,
    samples: [[null], [new Error('x')], ['E_SHAPE']],
    returns: isBoolean,
  },
  listBackends: { kind: 'total', call: () => fa.listBackends(), samples: [[]], returns: Array.isArray },
  resetBackends: coreSpecs.resetBackends as Spec,
  getBackend: { ...(coreSpecs.getBackend as Spec & { kind: 'checked' }), call: fa.getBackend, args: () => ['cpu'] },
  setBackend: { ...(coreSpecs.setBackend as Spec & { kind: 'checked' }), call: fa.setBackend, args: () => ['cpu'] },
  resolveBackend: {
    ...(coreSpecs.resolveBackend as Spec & { kind: 'checked' }),
    call: fa.resolveBackend,
    args: () => ['cpu'],
  },
  registerBackend: coreSpecs.registerBackend as Spec,
  unregisterBackend: coreSpecs.unregisterBackend as Spec,
  mergeAttnStates: coreSpecs.mergeAttnStates as Spec,
  Tensor: {
    kind: 'checked',
    call: (shape: never, dtype: never, place: never) => new fa.Tensor(shape, dtype, place),
    args: () => [[2, 2], 'f32', { host: host([2, 2]) }],
    names: ['shape', 'dtype', 'place'],
    notOptions: { place: 'a placement { host } | { viewOf } | { backend, handle }: its keys say which kind it is' },
    valid: { 0: [[]] },
  },
  tensor: {
    kind: 'checked',
    call: fa.tensor,
    args: () => [Float32Array.from([1, 2, 3, 4]), [2, 2], 'f32'],
    // An empty shape is a valid scalar shape, so the count mismatch is then named as the data's.
    names: ['data', ['shape', 'data'], 'dtype'],
    // Shape and dtype default to the data's own length and type.
    valid: { 1: [undefined], 2: [undefined] },
  },
  flashAttnVarlen: {
    kind: 'checked',
    call: fa.flashAttnVarlen,
    args: () => {
      const { q, k, v, options } = attnInputs();
      return [q, k, v, options];
    },
    names: ['q', 'k', 'v', OPTIONS],
  },
  flashAttnVarlenBackward: {
    kind: 'checked',
    call: fa.flashAttnVarlenBackward,
    args: varlenBackwardArgs,
    names: ['dout', 'q', 'k', 'v', 'out', 'lse', OPTIONS],
  },
  flashAttnVarlenKVPacked: {
    kind: 'checked',
    call: fa.flashAttnVarlenKVPacked,
    args: () => [host([5, 2, 3]), host([5, 2, 1, 3], 0.6), { cuSeqlensQ: cu(), cuSeqlensK: cu() }],
    names: ['q', 'kv', OPTIONS],
  },
  flashAttnVarlenKVPackedBackward: {
    kind: 'checked',
    call: fa.flashAttnVarlenKVPackedBackward,
    args: () => [
      host([5, 2, 3], 1.2),
      host([5, 2, 3]),
      host([5, 2, 1, 3], 0.6),
      host([5, 2, 3], 2.1),
      host([2, 5], 0.3),
      { cuSeqlensQ: cu(), cuSeqlensK: cu() },
    ],
    names: ['dout', 'q', 'kv', 'out', 'lse', OPTIONS],
  },
  flashAttnVarlenQKVPacked: {
    kind: 'checked',
    call: fa.flashAttnVarlenQKVPacked,
    args: () => [host([5, 3, 2, 3]), { cuSeqlens: cu() }],
    names: ['qkv', ['options', 'cuSeqlens']],
  },
  flashAttnVarlenQKVPackedBackward: {
    kind: 'checked',
    call: fa.flashAttnVarlenQKVPackedBackward,
    args: () => [
      host([5, 2, 3], 1.2),
      host([5, 3, 2, 3]),
      host([5, 2, 3], 2.1),
      host([2, 5], 0.3),
      { cuSeqlens: cu() },
    ],
    names: ['dout', 'qkv', 'out', 'lse', ['options', 'cuSeqlens']],
  },
  flashAttn: {
    kind: 'checked',
    call: fa.flashAttn,
    args: () => {
      const { q, k, v } = paddedInputs();
      return [q, k, v, { causal: true }];
    },
    names: ['q', 'k', 'v', 'options'],
    valid: { 3: [undefined, {}] },
  },
  flashAttnBackward: {
    kind: 'checked',
    call: fa.flashAttnBackward,
    args: () => {
      const { q, k, v } = paddedInputs();
      return [host([2, 3, 2, 3], 0.5), q, k, v, host([2, 3, 2, 3], 1.5), host([2, 2, 3], 0.1), { causal: true }];
    },
    names: ['dout', 'q', 'k', 'v', 'out', 'lse', 'options'],
    valid: { 6: [undefined, {}] },
  },
};

/** A fresh live tensor for every call: `Tensor`'s methods are swept like functions, with it as `this`. */
const live = () => fa.tensor(Float32Array.from([1, 2, 3, 4]), [2, 2]);
const internal = { kind: 'exempt', reason: '@internal: the façade calls it with values it has checked' } as const;
const noArgument = { kind: 'exempt', reason: 'takes no argument' } as const;

export const tensorMethodSpecs: Record<string, Spec> = {
  to: { kind: 'checked', call: (backend: never) => live().to(backend), args: () => ['cpu'], names: ['backend'] },
  reshape: { kind: 'checked', call: (shape: never) => live().reshape(shape), args: () => [[4]], names: ['shape'] },
  toArray: noArgument,
  toHost: noArgument,
  dispose: noArgument,
  readHost: internal,
  checkLive: internal,
  pin: internal,
  unpin: internal,
  handleFor: internal,
  // Internal too, but it validates what it is given: the views it makes reach kernels.
  strided: {
    kind: 'checked',
    call: (shape: never, layout: never) => fa.tensor(new Float32Array(24), [2, 3, 2, 2]).strided(shape, layout),
    args: () => [[2, 2, 2], { offset: 4, tokenStride: 12, headStride: 2 }],
    names: ['shape', 'layout'],
    notOptions: { layout: 'a TensorLayout { offset, tokenStride, headStride }, not options' },
  },
};

export const cpuSpecs: Record<string, Spec> = {
  createCpuBackend: {
    kind: 'checked',
    call: cpu.createCpuBackend,
    args: () => [{ threads: 1, simd: false }],
    names: ['options'],
    valid: { 0: [undefined, {}] },
  },
  attnForwardSync: {
    kind: 'checked',
    call: cpu.attnForwardSync,
    args: () => {
      const { q, k, v, options } = attnInputs();
      return [q, k, v, options];
    },
    names: ['q', 'k', 'v', OPTIONS],
  },
  attnBackwardSync: {
    kind: 'checked',
    call: cpu.attnBackwardSync,
    args: varlenBackwardArgs,
    names: ['dout', 'q', 'k', 'v', 'out', 'lse', OPTIONS],
  },
};
