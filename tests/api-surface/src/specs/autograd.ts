import * as ag from '@fa/autograd';
import { tfAttention } from '@fa/autograd/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { JUNK, type Spec } from '../sweep.js';
import { cu } from './fixtures.js';

/**
 * The sweep compares `valid` entries with `Object.is`, so junk objects that are valid somewhere must be the very
 * instances in JUNK.
 */
const EMPTY_OBJECT = JUNK.find(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v),
);
const EMPTY_ARRAY = JUNK.find((v) => Array.isArray(v) && v.length === 0);
const NAN_ARRAY = JUNK.find((v) => Array.isArray(v) && v.length === 1);
const FLOAT64 = JUNK.find((v) => v instanceof Float64Array);
const FUNCTION = JUNK.find((v) => typeof v === 'function');

const values = (n: number, offset: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + offset));
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A float32 leaf that requires grad, never zeros. */
function param(shape: number[], offset = 0.37): ag.Variable {
  return ag.variable(values(count(shape), offset), shape, { requiresGrad: true });
}

function withGrad(shape: number[]): ag.Variable {
  const p = param(shape);
  p.grad = values(p.size, 1.9);
  return p;
}

/** Two sequences of 2 and 3 tokens, 2 query heads over 1 key head, head_dim 3; run on the cpu backend. */
const attnOptions = () => ({ cuSeqlensQ: cu(), cuSeqlensK: cu(), causal: true, backend: 'cpu' });

const adamSpec = (make: (params: never, options: never) => unknown): Spec => ({
  kind: 'checked',
  call: make,
  args: () => [[param([2, 3])], { lr: 0.01, betas: [0.9, 0.99], eps: 1e-8 }],
  names: ['params', 'options'],
  valid: { 1: [undefined, EMPTY_OBJECT] },
});

const unary = (op: (x: never) => unknown, name: string): Spec => ({
  kind: 'checked',
  call: op,
  args: () => [param([2, 3])],
  names: [name],
});

const binary = (op: (a: never, b: never) => unknown, b: number[]): Spec => ({
  kind: 'checked',
  call: op,
  args: () => [param([2, 3]), param(b, 1.3)],
  names: ['a', 'b'],
});

const callback = (op: (fn: never) => unknown): Spec => ({
  kind: 'checked',
  call: op,
  args: () => [() => 1],
  names: ['fn'],
  valid: { 0: [FUNCTION] },
});

export const autogradSpecs: Record<string, Spec> = {
  Adam: adamSpec((params, options) => new ag.Adam(params, options)),
  AdamW: adamSpec((params, options) => new ag.AdamW(params, options)),
  // Any safe integer seeds a stream (negative and beyond 2^32 included); fractions and NaN do not.
  Rng: {
    kind: 'checked',
    call: (seed: never) => new ag.Rng(seed),
    args: () => [7],
    names: ['seed'],
    valid: { 0: [undefined, -1, 2 ** 40] },
  },
  Variable: {
    kind: 'checked',
    call: (data: never, shape: never, options: never) => new ag.Variable(data, shape, options),
    args: () => [values(3, 0.5), [3], { requiresGrad: true, name: 'v' }],
    names: ['data', 'shape', 'options'],
    valid: { 0: [FLOAT64], 2: [undefined, EMPTY_OBJECT] },
  },
  variable: {
    kind: 'checked',
    call: ag.variable,
    // The shape defaults to [data.length], so any array of numbers (empty, or holding NaN) is a valid leaf.
    args: () => [[1, 2, 3], undefined, { requiresGrad: true }],
    names: ['data', 'shape', 'options'],
    valid: { 0: [EMPTY_ARRAY, NAN_ARRAY, FLOAT64], 1: [undefined], 2: [undefined, EMPTY_OBJECT] },
  },
  parameter: {
    kind: 'checked',
    call: ag.parameter,
    args: () => [values(3, 0.5), [3], 'w'],
    names: ['data', 'shape', 'name'],
    valid: { 0: [FLOAT64], 2: [undefined, 'junk'] },
  },
  isGradEnabled: {
    kind: 'total',
    call: () => ag.isGradEnabled(),
    samples: [[]],
    returns: (r) => typeof r === 'boolean',
  },
  noGrad: callback(ag.noGrad),
  withReferenceAttention: callback(ag.withReferenceAttention),
  willRecord: {
    kind: 'checked',
    call: ag.willRecord,
    args: () => [[param([2])]],
    names: ['inputs'],
    valid: { 0: [EMPTY_ARRAY] },
  },
  recordOp: {
    kind: 'checked',
    call: ag.recordOp,
    args: () => {
      const x = param([3]);
      return ['double', [x], values(3, 0.1), [3], (g: Float32Array) => [g], () => undefined];
    },
    names: ['name', 'inputs', 'data', 'shape', 'backward', 'release'],
    valid: { 0: ['junk'], 1: [EMPTY_ARRAY], 2: [FLOAT64], 4: [FUNCTION], 5: [undefined, FUNCTION] },
  },
  defineFunction: {
    kind: 'checked',
    call: ag.defineFunction,
    args: () => [
      {
        name: 'double',
        forward: ([x]: ag.Variable[]) => ({ data: x!.data.map((v) => 2 * v), shape: x!.shape, saved: null }),
        backward: (g: Float32Array) => [g.map((v) => 2 * v)],
      },
    ],
    names: ['def'],
    notOptions: { def: 'a definition { name, forward, backward, release? }, often an object with state of its own' },
  },
  add: binary(ag.add, [3]),
  mul: binary(ag.mul, [2, 3]),
  matmul: binary(ag.matmul, [3, 4]),
  checkSameDtype: {
    kind: 'checked',
    call: (op: never, a: never, b: never) => ag.checkSameDtype(op, a, b),
    args: () => ['add', param([2]), param([3])],
    names: ['op', 'vars', 'vars'],
    valid: { 0: ['junk'] },
  },
  scale: {
    kind: 'checked',
    call: ag.scale,
    args: () => [param([2, 3]), 0.5],
    names: ['a', 'c'],
    valid: { 1: [-1, 1.5, 2 ** 40] },
  },
  sum: unary(ag.sum, 'a'),
  mean: unary(ag.mean, 'a'),
  silu: unary(ag.silu, 'x'),
  gelu: unary(ag.gelu, 'x'),
  reshape: { kind: 'checked', call: ag.reshape, args: () => [param([2, 3]), [3, -1]], names: ['a', 'shape'] },
  split: {
    kind: 'checked',
    call: ag.split,
    args: () => [param([2, 6]), [2, 4], 1],
    names: ['a', 'sizes', 'axis'],
    valid: { 2: [undefined, -1] },
  },
  linear: {
    kind: 'checked',
    call: ag.linear,
    args: () => [param([2, 3]), param([3, 4], 0.8), param([4], 1.2)],
    names: ['x', 'w', 'bias'],
    valid: { 2: [undefined] },
  },
  zeros: {
    kind: 'checked',
    call: ag.zeros,
    args: () => [[2, 3], 'f64'],
    names: ['shape', 'dtype'],
    valid: { 0: [EMPTY_ARRAY], 1: [undefined] },
  },
  zerosLike: {
    kind: 'checked',
    call: ag.zerosLike,
    args: () => [values(3, 0.2), 2],
    names: ['like', 'n'],
    valid: { 0: [FLOAT64], 1: [undefined] },
  },
  embedding: {
    kind: 'checked',
    call: ag.embedding,
    args: () => [param([4, 2]), Int32Array.of(0, 3, 1)],
    names: ['table', 'ids'],
  },
  rmsNorm: {
    kind: 'checked',
    call: ag.rmsNorm,
    args: () => [param([2, 3]), param([3], 1.1), 1e-6],
    names: ['x', 'weight', 'eps'],
    valid: { 2: [undefined, 1.5, 2 ** 40] },
  },
  layerNorm: {
    kind: 'checked',
    call: ag.layerNorm,
    args: () => [param([2, 3]), param([3], 1.1), param([3], 2.1), 1e-5],
    names: ['x', 'weight', 'bias', 'eps'],
    valid: { 3: [undefined, 1.5, 2 ** 40] },
  },
  rotary: {
    kind: 'checked',
    call: ag.rotary,
    args: () => [param([3, 2, 4]), Int32Array.of(0, 1, 2), { base: 500, rotaryDim: 2 }],
    names: ['x', 'positions', 'options'],
    valid: { 2: [undefined, EMPTY_OBJECT] },
  },
  crossEntropy: {
    kind: 'checked',
    call: ag.crossEntropy,
    args: () => [param([3, 4]), Int32Array.of(0, 3, 1), { ignoreIndex: 3 }],
    names: ['logits', 'targets', 'options'],
    valid: { 2: [undefined, EMPTY_OBJECT] },
  },
  attention: {
    kind: 'checked',
    call: ag.attention,
    args: () => [param([5, 2, 3]), param([5, 1, 3], 1.1), param([5, 1, 3], 2.3), attnOptions()],
    names: ['q', 'k', 'v', 'options'],
  },
  attentionKVPacked: {
    kind: 'checked',
    call: ag.attentionKVPacked,
    args: () => [param([5, 2, 3]), param([5, 2, 1, 3], 1.1), attnOptions()],
    names: ['q', 'kv', 'options'],
  },
  attentionQKVPacked: {
    kind: 'checked',
    call: ag.attentionQKVPacked,
    args: () => [param([5, 3, 2, 3]), { cuSeqlens: cu(), causal: true, backend: 'cpu' }],
    names: ['qkv', 'options'],
  },
  gradcheck: {
    kind: 'checked',
    call: ag.gradcheck,
    args: () => [
      (x: ag.Variable) => ag.mul(x, x),
      [ag.variable(Float64Array.of(0.5, -1.5, 2), [3], { requiresGrad: true })],
      { eps: 1e-6, maxElements: 2, seed: 3 },
    ],
    names: ['fn', 'inputs', 'options'],
    valid: { 2: [undefined, EMPTY_OBJECT] },
  },
  clipGradNorm: {
    kind: 'checked',
    call: ag.clipGradNorm,
    args: () => [[withGrad([2, 3])], 1],
    names: ['params', 'maxNorm'],
    valid: { 0: [EMPTY_ARRAY], 1: [1.5, 2 ** 40] },
  },
  createReferenceBackend: {
    kind: 'checked',
    call: ag.createReferenceBackend,
    args: () => ['reference-sweep-autograd'],
    names: ['name'],
    valid: { 0: [undefined, 'junk'] },
  },
};

const tfInput = (shape: [number, number, number], offset: number) => tf.tensor3d(values(count(shape), offset), shape);

export const tfjsSpecs: Record<string, Spec> = {
  tfAttention: {
    kind: 'checked',
    call: tfAttention,
    args: () => [
      tfInput([5, 2, 3], 0.37),
      tfInput([5, 1, 3], 1.1),
      tfInput([5, 1, 3], 2.3),
      { cuSeqlensQ: cu(), cuSeqlensK: cu(), causal: true },
    ],
    names: ['q', 'k', 'v', 'options'],
  },
};
