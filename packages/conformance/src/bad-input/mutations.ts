import type { FaErrorCode } from '@fa/core';
import { type Random, randomHostTensor } from '@fa/testkit';
import { type AttnCall, type CallSpec, numHeadsOf, sumOf } from './calls.js';

/** One way to get a call wrong, and the typed rejection it must earn. */
export interface Mutation {
  readonly name: string;
  readonly argument: string;
  readonly codes: readonly FaErrorCode[];
  /** Whether the mutation makes sense for this spec (e.g. a decreasing offset needs one sequence at least). */
  readonly applies?: (spec: CallSpec) => boolean;
  readonly mutate: (call: AttnCall, spec: CallSpec, random: Random) => void;
}

const cuSeqlens = (argument: 'cuSeqlensQ' | 'cuSeqlensK', name: string, mutate: (cu: Int32Array) => unknown) => ({
  name: `${argument}: ${name}`,
  argument,
  codes: ['E_CU_SEQLENS'] as const,
  mutate: (call: AttnCall) => {
    call.options[argument] = mutate(Int32Array.from(call.options[argument] as Int32Array));
  },
});

function cuSeqlensMutations(argument: 'cuSeqlensQ' | 'cuSeqlensK'): Mutation[] {
  return [
    cuSeqlens(argument, 'does not start at 0', (cu) => {
      cu[0] = 1;
      return cu;
    }),
    cuSeqlens(argument, 'decreases', (cu) => {
      cu[1] = -1;
      return cu;
    }),
    cuSeqlens(argument, 'ends past the token count', (cu) => {
      cu[cu.length - 1] = (cu[cu.length - 1] as number) + 1;
      return cu;
    }),
    cuSeqlens(argument, 'ends before the token count', (cu) => {
      cu[cu.length - 1] = (cu[cu.length - 1] as number) - 1;
      return cu;
    }),
    cuSeqlens(argument, 'is empty', () => new Int32Array(0)),
    cuSeqlens(argument, 'is a plain array ending in a fraction', (cu) => {
      const plain = Array.from(cu);
      plain[plain.length - 1] = (plain[plain.length - 1] as number) + 0.5;
      return plain;
    }),
    cuSeqlens(argument, 'is a plain array with a negative entry', (cu) => [-1, ...Array.from(cu).slice(1)]),
    cuSeqlens(argument, 'is a Float64Array with NaN', (cu) =>
      Float64Array.from(cu, (x, i) => (i === 1 ? Number.NaN : x)),
    ),
    cuSeqlens(argument, 'holds a value beyond int32', (cu) => Uint32Array.from(cu, (x, i) => (i === 1 ? 2 ** 31 : x))),
    cuSeqlens(argument, 'is missing', () => undefined),
    cuSeqlens(argument, 'is a number', () => 3),
  ];
}

function invalidOption(argument: string, values: readonly unknown[], codes: readonly FaErrorCode[] = ['E_VALUE']) {
  return values.map(
    (value): Mutation => ({
      name: `${argument} = ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
      argument,
      codes,
      mutate: (call) => {
        call.options[argument] = value;
      },
    }),
  );
}

function replaceTensor(
  argument: 'q' | 'k' | 'v',
  name: string,
  codes: readonly FaErrorCode[],
  make: (call: AttnCall, spec: CallSpec, random: Random) => unknown,
): Mutation {
  return {
    name: `${argument}: ${name}`,
    argument,
    codes,
    mutate: (call, spec, random) => void (call[argument] = make(call, spec, random)),
  };
}

/** Rebuilds a tensor with other dimensions (and the dtype of the spec). */
function reshaped(dims: (spec: CallSpec) => number[]) {
  return (_call: AttnCall, spec: CallSpec, random: Random) => randomHostTensor(random, dims(spec), spec.dtype);
}

const totalQ = (s: CallSpec) => sumOf(s.lengthsQ);
const totalK = (s: CallSpec) => sumOf(s.lengthsK);
const otherDtype = (s: CallSpec) => (s.dtype === 'f32' ? 'f16' : 'f32');

/**
 * Every wrong forward call the library must answer with a typed error naming the argument. The spec always has
 * one sequence at least, so that "decreasing" and "ends before" have an offset to break.
 */
export const forwardMutations: readonly Mutation[] = [
  ...cuSeqlensMutations('cuSeqlensQ'),
  ...cuSeqlensMutations('cuSeqlensK'),
  {
    name: 'cuSeqlensK: one sequence more than cuSeqlensQ',
    argument: 'cuSeqlensK',
    codes: ['E_CU_SEQLENS'],
    mutate: (call) => {
      const cu = call.options.cuSeqlensK as Int32Array;
      call.options.cuSeqlensK = Int32Array.from([0, ...cu]);
    },
  },
  {
    name: 'maxSeqlenQ below the longest sequence',
    argument: 'maxSeqlenQ',
    codes: ['E_VALUE'],
    mutate: (call, spec) => {
      call.options.maxSeqlenQ = Math.max(...spec.lengthsQ, 0) - 1;
    },
  },
  {
    name: 'maxSeqlenK below the longest sequence',
    argument: 'maxSeqlenK',
    codes: ['E_VALUE'],
    applies: (spec) => Math.max(...spec.lengthsK, 0) > 0,
    mutate: (call, spec) => {
      call.options.maxSeqlenK = Math.max(...spec.lengthsK) - 1;
    },
  },
  ...invalidOption('maxSeqlenQ', [Number.NaN, 1.5, '4', -1]),
  // v follows k's head count, or the v-matches-k check would answer first.
  replaceTensor('k', 'nheads_k not dividing nheads', ['E_SHAPE'], (call, spec, random) => {
    call.v = randomHostTensor(random, [totalK(spec), numHeadsOf(spec) + 1, spec.headDimV], spec.dtype);
    return randomHostTensor(random, [totalK(spec), numHeadsOf(spec) + 1, spec.headDim], spec.dtype);
  }),
  replaceTensor('q', 'head_dim 0', ['E_UNSUPPORTED', 'E_SHAPE'], (call, spec, random) => {
    call.k = randomHostTensor(random, [totalK(spec), spec.numHeadsK, 0], spec.dtype);
    return randomHostTensor(random, [totalQ(spec), numHeadsOf(spec), 0], spec.dtype);
  }),
  replaceTensor('q', 'head_dim 257', ['E_UNSUPPORTED'], (call, spec, random) => {
    call.k = randomHostTensor(random, [totalK(spec), spec.numHeadsK, 257], spec.dtype);
    return randomHostTensor(random, [totalQ(spec), numHeadsOf(spec), 257], spec.dtype);
  }),
  replaceTensor(
    'v',
    'head_dim_v 0',
    ['E_UNSUPPORTED', 'E_SHAPE'],
    reshaped((s) => [totalK(s), s.numHeadsK, 0]),
  ),
  replaceTensor(
    'v',
    'head_dim_v 300',
    ['E_UNSUPPORTED'],
    reshaped((s) => [totalK(s), s.numHeadsK, 300]),
  ),
  replaceTensor(
    'k',
    'head_dim differs from q',
    ['E_SHAPE'],
    reshaped((s) => [totalK(s), s.numHeadsK, s.headDim + 1]),
  ),
  replaceTensor(
    'v',
    'one row more than k',
    ['E_SHAPE'],
    reshaped((s) => [totalK(s) + 1, s.numHeadsK, s.headDimV]),
  ),
  replaceTensor(
    'q',
    'rank 2',
    ['E_SHAPE'],
    reshaped((s) => [totalQ(s), numHeadsOf(s) * s.headDim]),
  ),
  replaceTensor(
    'k',
    'rank 4',
    ['E_SHAPE'],
    reshaped((s) => [totalK(s), 1, s.numHeadsK, s.headDim]),
  ),
  replaceTensor(
    'q',
    'zero heads',
    ['E_SHAPE'],
    reshaped((s) => [totalQ(s), 0, s.headDim]),
  ),
  replaceTensor('q', 'i32 dtype', ['E_DTYPE'], (_call, spec) => ({
    data: new Int32Array(totalQ(spec) * numHeadsOf(spec) * spec.headDim).fill(3),
    shape: [totalQ(spec), numHeadsOf(spec), spec.headDim],
    dtype: 'i32',
  })),
  replaceTensor('k', 'dtype differs from q', ['E_DTYPE'], (_call, spec, random) =>
    randomHostTensor(random, [totalK(spec), spec.numHeadsK, spec.headDim], otherDtype(spec)),
  ),
  replaceTensor('q', 'one element too many', ['E_SHAPE'], (_call, spec, random) => ({
    ...randomHostTensor(random, [totalQ(spec) * numHeadsOf(spec) * spec.headDim + 1], spec.dtype),
    shape: [totalQ(spec), numHeadsOf(spec), spec.headDim],
  })),
  {
    ...replaceTensor('k', 'one element short', ['E_SHAPE'], (_call, spec, random) => ({
      ...randomHostTensor(random, [totalK(spec) * spec.numHeadsK * spec.headDim - 1], spec.dtype),
      shape: [totalK(spec), spec.numHeadsK, spec.headDim],
    })),
    applies: (spec) => totalK(spec) > 0,
  },
  replaceTensor('v', 'storage of another dtype', ['E_DTYPE'], (call) => ({
    ...(call.v as object),
    dtype: (call.v as { dtype: string }).dtype === 'f32' ? 'f16' : 'f32',
  })),
  replaceTensor('q', 'dtype f64', ['E_DTYPE'], (call) => ({ ...(call.q as object), dtype: 'f64' })),
  replaceTensor('q', 'shape with NaN', ['E_SHAPE'], (call) => ({
    ...(call.q as object),
    shape: [Number.NaN, ...(call.q as { shape: number[] }).shape.slice(1)],
  })),
  replaceTensor('q', 'null', ['E_VALUE', 'E_SHAPE'], () => null),
  replaceTensor('v', 'a plain array', ['E_VALUE', 'E_SHAPE'], () => [1, 2, 3]),
  replaceTensor('k', 'a number', ['E_VALUE', 'E_SHAPE'], () => 7),
  ...invalidOption('windowSize', [[-2, 0], [0, -3], [1.5, 2], [3], 'wide', [Number.NaN, 1]]),
  ...invalidOption('softmaxScale', [-0.5, 0, Number.NaN, Number.POSITIVE_INFINITY, '0.1']),
  ...invalidOption('softcap', [-1, Number.NaN, Number.POSITIVE_INFINITY, true]),
  ...invalidOption('dropoutP', [-0.1, 1, 1.5, Number.NaN, '0.1']),
  ...invalidOption('seed', [-1, 1.5, 2 ** 53, Number.NaN, '7']),
  ...invalidOption('causal', ['yes', 1]),
  ...invalidOption('deterministic', ['true', 0]),
  ...invalidOption('alibiSlopes', [new Float64Array(4), [0.5, 0.25], 0.5]),
  {
    name: 'alibiSlopes: one slope too many',
    argument: 'alibiSlopes',
    codes: ['E_VALUE'],
    mutate: (call, spec) => {
      call.options.alibiSlopes = new Float32Array(numHeadsOf(spec) + 1).fill(0.25);
    },
  },
  {
    name: 'alibiSlopes: a NaN slope',
    argument: 'alibiSlopes',
    codes: ['E_VALUE'],
    mutate: (call, spec) => {
      call.options.alibiSlopes = new Float32Array(numHeadsOf(spec)).fill(0.25).fill(Number.NaN, 0, 1);
    },
  },
  ...invalidOption('backend', ['no-such-backend'], ['E_BACKEND_UNAVAILABLE']),
  ...invalidOption('backend', [42, ''], ['E_VALUE', 'E_BACKEND_UNAVAILABLE']),
  {
    // Read as "not given", the typo would run the call non-causal: a wrong answer that looks right.
    name: 'options has a misspelled key (casual)',
    argument: 'options.casual',
    codes: ['E_VALUE'],
    mutate: (call) => {
      call.options.casual = call.options.causal;
      delete call.options.causal;
    },
  },
  {
    name: 'options: null',
    argument: 'options',
    codes: ['E_VALUE'],
    mutate: (call) => {
      call.options = null as unknown as Record<string, unknown>;
    },
  },
];
