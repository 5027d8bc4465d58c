import * as core from '@fa/core';
import type { Spec } from '../sweep.js';
import {
  ANY_SAMPLES,
  attnInputs,
  CU_SEQLENS_JUNK_THAT_IS_VALID,
  cu,
  host,
  NUMBER_SAMPLES,
  numericSamples,
} from './fixtures.js';

// The backend the registry specs choose: their valid arguments must work before junk replaces them.
core.registerBackend('reference', () => core.createReferenceBackend());

const isNumber = (r: unknown) => typeof r === 'number';
const isBoolean = (r: unknown) => typeof r === 'boolean';
const isString = (r: unknown) => typeof r === 'string';

/** A validated problem of the two-sequence fixture, as backends and the planner receive it. */
const attnProblem = () => {
  const { q, k, v, options } = attnInputs();
  return core.resolveAttnProblem(q, k, v, options);
};

export const coreSpecs: Record<string, Spec> = {
  DropoutMask: {
    kind: 'checked',
    call: (seed: never, threshold: never) => new core.DropoutMask(seed, threshold),
    args: () => [core.splitSeed(12345), core.dropoutThreshold(0.25)],
    names: ['seed', 'threshold'],
    notOptions: { seed: 'a DropoutSeed { lo, hi } that splitSeed made, not options' },
  },
  FaError: { kind: 'exempt', reason: 'the error class itself: the library constructs it from its own checked values' },
  expectationError: { kind: 'exempt', reason: 'builds an FaError from strings the library writes itself' },
  resetBackends: { kind: 'exempt', reason: 'takes no argument' },
  activeBackendName: {
    kind: 'total',
    call: () => core.activeBackendName(),
    samples: [[]],
    returns: (r) => r === undefined || isString(r),
  },
  listBackends: { kind: 'total', call: () => core.listBackends(), samples: [[]], returns: Array.isArray },
  alibiBias: { kind: 'total', call: core.alibiBias, samples: numericSamples(5, [0.5, 3, 1, 4, 6]), returns: isNumber },
  blockFullyVisible: {
    kind: 'total',
    call: core.blockFullyVisible,
    samples: numericSamples(8, [0, 4, 0, 4, 8, 8, 2, 0]),
    returns: isBoolean,
  },
  visibleKeyRange: {
    kind: 'total',
    call: core.visibleKeyRange,
    samples: numericSamples(5, [2, 8, 8, 3, 0]),
    returns: (r) => typeof r === 'object' && r !== null,
  },
  visibleKeySpan: {
    kind: 'total',
    call: core.visibleKeySpan,
    samples: numericSamples(6, [0, 4, 8, 8, 3, 0]),
    returns: (r) => typeof r === 'object' && r !== null,
  },
  visibleRowSpan: {
    kind: 'total',
    call: core.visibleRowSpan,
    samples: numericSamples(6, [0, 4, 8, 8, 3, 0]),
    returns: (r) => typeof r === 'object' && r !== null,
  },
  contiguousLayout: {
    kind: 'total',
    call: core.contiguousLayout,
    samples: numericSamples(2, [2, 3]),
    returns: (r) => typeof r === 'object' && r !== null,
  },
  isContiguousLayout: {
    kind: 'total',
    call: core.isContiguousLayout,
    samples: [...ANY_SAMPLES, [{ offset: 0, tokenStride: 6, headStride: 3 }, 2, 3]],
    returns: isBoolean,
  },
  checkLayout: {
    kind: 'checked',
    call: core.checkLayout,
    args: () => [{ offset: 2, tokenStride: 9, headStride: 3 }, 'q', [2, 2, 3], 20],
    names: ['q', null, 'shape', ['storageElements', 'q']],
    // Any non-negative storage size is valid, a huge one included.
    valid: { 3: [2 ** 40] },
    notOptions: { q: 'a TensorLayout { offset, tokenStride, headStride }, not options' },
  },
  interleaveHost: {
    kind: 'checked',
    call: core.interleaveHost,
    args: () => [
      [
        { handle: host([2, 3]), offset: 0 },
        { handle: host([4, 3]), offset: 3 },
      ],
      2,
      3,
      'f32',
    ],
    // An empty row count or row length is a valid, empty interleave.
    // Too many rows, or too long ones, are the parts' fault as much as the count's: the storage holds fewer.
    names: [
      ['parts', 'parts[0]'],
      ['rows', 'parts[0]'],
      ['rowElements', 'parts[0]', 'parts[1]'],
      ['dtype', 'parts[0]'],
    ],
    valid: { 1: [], 2: [] },
    notOptions: {
      'parts[0]': 'an InterleavePart { handle, offset }, not options',
      'parts[1]': 'an InterleavePart { handle, offset }, not options',
    },
  },
  lowerProblem: {
    kind: 'checked',
    call: core.lowerProblem,
    args: () => [attnProblem()],
    names: ['problem'],
    notOptions: { problem: 'an AttnProblem that resolveAttnProblem made, not options' },
  },
  planQueryTiles: {
    kind: 'checked',
    call: core.planQueryTiles,
    args: () => [attnProblem(), { blockM: 2, blockN: 2, keepEmpty: true }],
    names: ['problem', ['options', 'keepEmpty']],
    notOptions: { problem: 'an AttnProblem that resolveAttnProblem made, not options' },
  },
  planKeyTiles: {
    kind: 'checked',
    call: core.planKeyTiles,
    args: () => [attnProblem(), { blockN: 2, keepEmpty: false }],
    names: ['problem', ['options', 'keepEmpty']],
    notOptions: { problem: 'an AttnProblem that resolveAttnProblem made, not options' },
  },
  longestFirst: {
    kind: 'checked',
    call: core.longestFirst,
    args: () => [core.planKeyTiles(attnProblem(), { blockN: 2, keepEmpty: true })],
    names: ['list'],
    notOptions: { list: 'a TileList that the tile planner made, not options' },
  },
  bf16BitsToF32: { kind: 'total', call: core.bf16BitsToF32, samples: NUMBER_SAMPLES, returns: isNumber },
  f16BitsToF32: { kind: 'total', call: core.f16BitsToF32, samples: NUMBER_SAMPLES, returns: isNumber },
  f32Bits: { kind: 'total', call: core.f32Bits, samples: NUMBER_SAMPLES, returns: isNumber },
  f32FromBits: { kind: 'total', call: core.f32FromBits, samples: NUMBER_SAMPLES, returns: isNumber },
  f32ToBf16Bits: { kind: 'total', call: core.f32ToBf16Bits, samples: NUMBER_SAMPLES, returns: isNumber },
  f32ToF16Bits: { kind: 'total', call: core.f32ToF16Bits, samples: NUMBER_SAMPLES, returns: isNumber },
  mulhi32: { kind: 'total', call: core.mulhi32, samples: numericSamples(2, [3, 5]), returns: isNumber },
  // Counter and key words wrap to uint32 (`>>> 0`), as Philox's definition does; `out` is the caller's buffer.
  philox4x32: {
    kind: 'total',
    call: (...a: never[]) => {
      const out = new Uint32Array(4);
      core.philox4x32(...(a as unknown as [number, number, number, number, number, number]), out);
      return out;
    },
    samples: numericSamples(6, [1, 2, 3, 4, 5, 6]),
    returns: (r) => r instanceof Uint32Array,
  },
  checkDType: { kind: 'checked', call: core.checkDType, args: () => ['i32', 'dtype'], names: ['dtype', null] },
  checkFloatDType: {
    kind: 'checked',
    call: core.checkFloatDType,
    args: () => ['bf16', 'dtype'],
    names: ['dtype', null],
  },
  checkHostTensor: { kind: 'checked', call: core.checkHostTensor, args: () => [host([2, 2]), 'x'], names: ['x', null] },
  describeValue: { kind: 'total', call: core.describeValue, samples: ANY_SAMPLES, returns: isString },
  formatShape: { kind: 'total', call: core.formatShape, samples: ANY_SAMPLES, returns: isString },
  isDType: { kind: 'total', call: core.isDType, samples: ANY_SAMPLES, returns: isBoolean },
  isFloatDType: { kind: 'total', call: core.isFloatDType, samples: ANY_SAMPLES, returns: isBoolean },
  isFaError: { kind: 'total', call: core.isFaError, samples: ANY_SAMPLES, returns: isBoolean },
  isOptionsBag: { kind: 'total', call: core.isOptionsBag, samples: ANY_SAMPLES, returns: isBoolean },
  checkOptionsBag: {
    kind: 'checked',
    call: core.checkOptionsBag,
    args: () => [{ priority: 1 }, 'options', 'an options object'],
    names: ['options', null, null],
    valid: { 0: [{}] },
    notOptions: { options: 'checkOptionsBag checks that a value is an options bag; checkKnownKeys checks its keys' },
  },
  checkKnownKeys: {
    kind: 'checked',
    call: core.checkKnownKeys,
    args: () => [{ causal: true }, 'options', ['causal', 'seed']],
    names: ['options', null, null],
    valid: { 0: [{}] },
  },
  optionKeys: {
    kind: 'exempt',
    reason: 'a compile-time helper: the compiler checks the key list it is given, and returns a function of it',
  },
  isValidShape: { kind: 'total', call: core.isValidShape, samples: ANY_SAMPLES, returns: isBoolean },
  shapesEqual: {
    kind: 'total',
    call: core.shapesEqual,
    samples: ANY_SAMPLES.map((s) => [s[0], [1, 2]]),
    returns: isBoolean,
  },
  storageMatches: {
    kind: 'total',
    call: core.storageMatches,
    samples: ANY_SAMPLES.map((s) => [s[0], 'f32']),
    returns: isBoolean,
  },
  roundToDType: { kind: 'checked', call: core.roundToDType, args: () => [0.3, 'f16'], names: [null, 'dtype'] },
  bytesPerElement: { kind: 'checked', call: core.bytesPerElement, args: () => ['bf16'], names: ['dtype'] },
  storageTypeName: { kind: 'checked', call: core.storageTypeName, args: () => ['f16'], names: ['dtype'] },
  dropoutThreshold: {
    kind: 'checked',
    call: core.dropoutThreshold,
    args: () => [0.1],
    names: ['dropoutP'],
    valid: { 0: [-1] },
  },
  splitSeed: { kind: 'checked', call: core.splitSeed, args: () => [77], names: ['seed'], valid: { 0: [2 ** 40] } },
  numel: { kind: 'checked', call: core.numel, args: () => [[2, 3]], names: ['shape'], valid: { 0: [[]] } },
  checkCuSeqlens: {
    kind: 'checked',
    call: core.checkCuSeqlens,
    args: () => [cu(), 'cuSeqlens', 5],
    // A well-formed total that differs from the offsets is the offsets' fault as much as its own.
    names: ['cuSeqlens', null, ['totalTokens', 'cuSeqlens']],
    valid: { 2: [undefined] },
  },
  resolveCuSeqlens: {
    kind: 'checked',
    call: core.resolveCuSeqlens,
    args: () => [[0, 2, 5], 'cuSeqlens', 5],
    names: ['cuSeqlens', null, ['totalTokens', 'cuSeqlens']],
    valid: { 2: [undefined] },
  },
  maxSeqlenOf: {
    kind: 'checked',
    call: core.maxSeqlenOf,
    args: () => [cu()],
    names: ['cuSeqlens'],
    valid: { 0: CU_SEQLENS_JUNK_THAT_IS_VALID },
  },
  toCuSeqlens: {
    kind: 'checked',
    call: core.toCuSeqlens,
    args: () => [[0, 2, 5], 'cuSeqlens'],
    names: ['cuSeqlens', null],
    valid: { 0: [[], new Float64Array(3)] },
  },
  checkTensorMeta: {
    kind: 'checked',
    call: core.checkTensorMeta,
    args: () => [host([2, 3]), 'out', [2, 3], 'f32'],
    names: ['out', null, null, null],
  },
  createReferenceBackend: {
    kind: 'checked',
    call: core.createReferenceBackend,
    args: () => ['reference-sweep'],
    names: ['name'],
    valid: { 0: [undefined, 'junk'] },
  },
  decodeToFloat32: {
    kind: 'checked',
    call: core.decodeToFloat32,
    args: () => [Uint16Array.from([15360, 16384]), 'f16'],
    names: ['data', 'dtype'],
  },
  encodeFromFloat: {
    kind: 'checked',
    call: core.encodeFromFloat,
    args: () => [[0.5, 1.5], 'bf16'],
    names: ['values', 'dtype'],
    valid: { 0: [[], [Number.NaN], new Float64Array(3)] },
  },
  hostTensor: {
    kind: 'checked',
    call: core.hostTensor,
    args: () => [Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], 'f32', 'data'],
    // An empty shape is a valid scalar shape: the mismatch is then the data's, and named so.
    names: ['data', 'data', 'data.dtype', null],
  },
  inferDType: {
    kind: 'checked',
    call: core.inferDType,
    args: () => [new Float32Array(2), 'data'],
    names: ['data', null],
  },
  getBackend: { kind: 'checked', call: core.getBackend, args: () => ['reference'], names: ['backend'] },
  setBackend: { kind: 'checked', call: core.setBackend, args: () => ['reference'], names: ['backend'] },
  resolveBackend: {
    kind: 'checked',
    call: core.resolveBackend,
    args: () => ['reference'],
    names: ['backend'],
    valid: { 0: [undefined] },
  },
  registerBackend: {
    kind: 'checked',
    call: core.registerBackend,
    args: () => ['sweep-registered', () => core.createReferenceBackend('sweep-registered'), { priority: -5 }],
    names: ['name', 'factory', 'options'],
    // Factories run on first use, so any function is accepted here; what it returns is checked then.
    valid: { 0: ['junk'], 1: [() => 1], 2: [undefined, {}] },
  },
  unregisterBackend: {
    kind: 'checked',
    call: core.unregisterBackend,
    args: () => ['sweep-never-registered'],
    names: ['name'],
    valid: { 0: ['junk'] },
  },
  mergeAttnStates: {
    kind: 'checked',
    call: core.mergeAttnStates,
    args: () => [host([5, 2, 3]), host([2, 5]), host([5, 2, 3], 0.9), host([2, 5], 1.7)],
    names: ['out1', 'lse1', 'out2', 'lse2'],
  },
  optionsOfProblem: {
    kind: 'checked',
    call: core.optionsOfProblem,
    args: () => {
      const { q, k, v, options } = attnInputs();
      return [core.resolveAttnProblem(q, k, v, options)];
    },
    names: ['problem'],
    notOptions: { problem: 'an AttnProblem that resolveAttnProblem made, not options' },
  },
  resolveAttnProblem: {
    kind: 'checked',
    call: core.resolveAttnProblem,
    args: () => {
      const { q, k, v, options } = attnInputs();
      return [q, k, v, options];
    },
    names: ['q', 'k', 'v', ['options', 'cuSeqlensQ']],
  },
  referenceAttnForward: {
    kind: 'checked',
    call: core.referenceAttnForward,
    args: () => {
      const { q, k, v, options } = attnInputs();
      return [q, k, v, options, { precision: 'f16' }];
    },
    names: ['q', 'k', 'v', ['options', 'cuSeqlensQ'], 'config'],
    valid: { 4: [undefined, {}] },
  },
  referenceAttnBackward: {
    kind: 'checked',
    call: core.referenceAttnBackward,
    args: () => {
      const { q, k, v, options } = attnInputs();
      return [host([5, 2, 3], 4.2), q, k, v, options, { precision: 'bf16' }];
    },
    names: ['dout', 'q', 'k', 'v', ['options', 'cuSeqlensQ'], 'config'],
    valid: { 5: [undefined, {}] },
  },
  toFloat64: { kind: 'checked', call: core.toFloat64, args: () => [host([2, 2])], names: ['tensor'] },
};
