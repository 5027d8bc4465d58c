import { type CuSeqlensInput, maxSeqlenOf, resolveCuSeqlens } from './cu-seqlens.js';
import { type DType, type FloatDType, isFloatDType } from './dtype.js';
import { describeValue, expectationError, FaError } from './errors.js';
import { checkKnownKeys, optionKeys } from './known-keys.js';
import { checkLayout, contiguousLayout, type TensorLayout } from './layout.js';
import { formatShape } from './tensor.js';

export const MAX_HEAD_DIM = 256;

/** The options of one varlen attention call, as users write them. */
export interface AttnOptions {
  /**
   * batch + 1 cumulative query lengths, starting at 0 and ending at total_q: an `Int32Array` or plain integers
   * (`[0, 4, 9]`), converted once.
   */
  readonly cuSeqlensQ: CuSeqlensInput;
  /** batch + 1 cumulative key lengths, starting at 0 and ending at total_k; as `cuSeqlensQ`. */
  readonly cuSeqlensK: CuSeqlensInput;
  /** Upper bound on query lengths; checked, never trusted. Defaults to the real maximum. */
  readonly maxSeqlenQ?: number;
  readonly maxSeqlenK?: number;
  /** Multiplies q·k. Defaults to 1 / sqrt(head_dim). */
  readonly softmaxScale?: number;
  /** Bottom-right aligned causal mask per sequence: key j visible to query i iff j <= i + Lk - Lq. */
  readonly causal?: boolean;
  /** Sliding window [left, right] around the aligned diagonal; -1 means unbounded. Causal forces right = 0. */
  readonly windowSize?: readonly [number, number];
  /** Soft capping: s = softcap * tanh(s / softcap). 0 disables it. */
  readonly softcap?: number;
  /** Float32Array(nheads): ALiBi slopes, s -= slope_h * |i + Lk - Lq - j|. */
  readonly alibiSlopes?: Float32Array;
  /** Probability of dropping an attention weight, in [0, 1). */
  readonly dropoutP?: number;
  /** Integer seed in [0, 2^53) for the dropout mask. Drawn at random when dropout is on and it is omitted. */
  readonly seed?: number;
  /** Ask for bit-identical results run to run where a backend would otherwise reorder floating-point sums. */
  readonly deterministic?: boolean;
}

/** Every key of `AttnOptions`: any other key in a call's options is a typo and an error. */
export const ATTN_OPTION_KEYS = optionKeys<AttnOptions>()([
  'cuSeqlensQ',
  'cuSeqlensK',
  'maxSeqlenQ',
  'maxSeqlenK',
  'softmaxScale',
  'causal',
  'windowSize',
  'softcap',
  'alibiSlopes',
  'dropoutP',
  'seed',
  'deterministic',
]);

/** What validation needs to know about a tensor argument, wherever its data lives. */
export interface TensorMeta {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /**
   * For a view into a larger storage (a part of a packed `qkv`): where its elements sit, and how many elements the
   * storage holds. Absent for a tensor that owns its storage densely.
   */
  readonly view?: { readonly layout: TensorLayout; readonly storageElements: number };
}

/**
 * One attention problem, validated and with every default resolved: what kernels receive.
 * Kernels trust it and check nothing again.
 */
export interface AttnProblem {
  readonly batch: number;
  readonly totalQ: number;
  readonly totalK: number;
  readonly numHeads: number;
  readonly numHeadsK: number;
  readonly headDim: number;
  readonly headDimV: number;
  readonly dtype: FloatDType;
  readonly cuSeqlensQ: Int32Array;
  readonly cuSeqlensK: Int32Array;
  readonly maxSeqlenQ: number;
  readonly maxSeqlenK: number;
  readonly softmaxScale: number;
  readonly causal: boolean;
  /** -1 when unbounded. */
  readonly windowLeft: number;
  /** -1 when unbounded; 0 when causal. */
  readonly windowRight: number;
  /** 0 when off. */
  readonly softcap: number;
  readonly alibiSlopes: Float32Array | null;
  readonly dropoutP: number;
  /** The dropout seed actually used (drawn when dropout is on and none was given); 0 when dropout is off. */
  readonly seed: number;
  readonly deterministic: boolean;
  /** Where q, k and v sit in the storage of their handles (contiguous unless a caller passed views). */
  readonly layouts: AttnLayouts;
}

export interface AttnLayouts {
  readonly q: TensorLayout;
  readonly k: TensorLayout;
  readonly v: TensorLayout;
}

function layoutOf(meta: TensorMeta, argument: string): TensorLayout {
  const [, heads = 0, dim = 0] = meta.shape;
  if (meta.view === undefined) return contiguousLayout(heads, dim);
  const { layout, storageElements } = meta.view;
  return checkLayout(layout, argument, meta.shape, storageElements);
}

function checkRank3(meta: TensorMeta | undefined, argument: string, layout: string): readonly number[] {
  if (!meta || !Array.isArray(meta.shape)) {
    throw expectationError('E_SHAPE', argument, `a tensor of shape ${layout}`, describeValue(meta));
  }
  if (meta.shape.length !== 3) {
    throw expectationError('E_SHAPE', argument, `a rank-3 tensor ${layout}`, `shape ${formatShape(meta.shape)}`);
  }
  return meta.shape;
}

function checkHeadDim(value: number, argument: string, what: string): void {
  if (!(value >= 1 && value <= MAX_HEAD_DIM)) {
    throw expectationError('E_UNSUPPORTED', argument, `${what} in [1, ${MAX_HEAD_DIM}]`, String(value));
  }
}

function checkOptionalNumber(
  value: unknown,
  argument: string,
  expected: string,
  ok: (v: number) => boolean,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !ok(value)) {
    throw expectationError('E_VALUE', argument, expected, describeValue(value));
  }
  return value;
}

function checkMaxSeqlen(value: unknown, argument: string, actual: number): number {
  const given = checkOptionalNumber(
    value,
    argument,
    'a non-negative integer',
    (v) => Number.isSafeInteger(v) && v >= 0,
  );
  if (given === undefined) return actual;
  if (given < actual) {
    throw new FaError(
      'E_VALUE',
      `Expected \`${argument}\` to be at least the longest sequence (${actual}), received ${given}.`,
      { argument, expected: `>= ${actual}`, received: String(given) },
    );
  }
  return given;
}

function checkWindow(windowSize: unknown, causal: boolean): [number, number] {
  if (windowSize === undefined) return [-1, causal ? 0 : -1];
  if (
    !Array.isArray(windowSize) ||
    windowSize.length !== 2 ||
    !windowSize.every((w) => Number.isSafeInteger(w) && w >= -1)
  ) {
    throw expectationError(
      'E_VALUE',
      'windowSize',
      '[left, right] with integers >= -1 (-1 = unbounded)',
      describeValue(windowSize),
    );
  }
  const [left, right] = windowSize as [number, number];
  return [left, causal ? 0 : right];
}

function drawSeed(): number {
  // Dropout masks need no cryptographic quality; a 53-bit integer keeps the seed exact in a JS number.
  return Math.floor(Math.random() * 2 ** 53);
}

/**
 * Validates a varlen attention call and resolves every default. `q: (total_q, H, D)`, `k: (total_k, Hk, D)`,
 * `v: (total_k, Hk, Dv)`. Throws an `FaError` naming the argument at fault.
 */
export function resolveAttnProblem(q: TensorMeta, k: TensorMeta, v: TensorMeta, options: AttnOptions): AttnProblem {
  if (options === null || typeof options !== 'object') {
    throw expectationError(
      'E_VALUE',
      'options',
      'an options object with cuSeqlensQ and cuSeqlensK',
      describeValue(options),
    );
  }
  checkKnownKeys(options, 'options', ATTN_OPTION_KEYS);
  const [totalQ, numHeads, headDim] = checkRank3(q, 'q', '(total_q, nheads, head_dim)') as [number, number, number];
  const [totalK, numHeadsK, headDimK] = checkRank3(k, 'k', '(total_k, nheads_k, head_dim)') as [number, number, number];
  const [totalV, numHeadsV, headDimV] = checkRank3(v, 'v', '(total_k, nheads_k, head_dim_v)') as [
    number,
    number,
    number,
  ];

  if (!isFloatDType(q.dtype)) {
    throw expectationError('E_DTYPE', 'q', "dtype 'f32', 'f16' or 'bf16'", `'${q.dtype}'`);
  }
  for (const [meta, name] of [
    [k, 'k'],
    [v, 'v'],
  ] as const) {
    if (meta.dtype !== q.dtype) {
      throw expectationError('E_DTYPE', name, `dtype '${q.dtype}' (the dtype of q)`, `'${meta.dtype}'`);
    }
  }
  if (numHeads < 1) throw expectationError('E_SHAPE', 'q', 'at least one head', `shape ${formatShape(q.shape)}`);
  checkHeadDim(headDim, 'q', 'head_dim');
  if (headDimK !== headDim) {
    throw expectationError('E_SHAPE', 'k', `head_dim ${headDim} (the head_dim of q)`, `shape ${formatShape(k.shape)}`);
  }
  if (totalV !== totalK || numHeadsV !== numHeadsK) {
    throw expectationError(
      'E_SHAPE',
      'v',
      `shape (${totalK}, ${numHeadsK}, head_dim_v) to match k`,
      `shape ${formatShape(v.shape)}`,
    );
  }
  checkHeadDim(headDimV, 'v', 'head_dim_v');
  if (numHeadsK < 1 || numHeads % numHeadsK !== 0) {
    throw new FaError(
      'E_SHAPE',
      `Expected the number of query heads (${numHeads}) to be a multiple of the number of key/value heads (${numHeadsK}) for \`k\`.`,
      { argument: 'k', expected: `nheads_k dividing ${numHeads}`, received: String(numHeadsK) },
    );
  }

  const cuSeqlensQ = resolveCuSeqlens(options.cuSeqlensQ, 'cuSeqlensQ', totalQ);
  const cuSeqlensK = resolveCuSeqlens(options.cuSeqlensK, 'cuSeqlensK', totalK);
  const batch = cuSeqlensQ.length - 1;
  const batchK = cuSeqlensK.length - 1;
  if (batchK !== batch) {
    throw expectationError(
      'E_CU_SEQLENS',
      'cuSeqlensK',
      `length ${batch + 1} (batch + 1, as cuSeqlensQ)`,
      `length ${batchK + 1}`,
    );
  }
  const maxSeqlenQ = checkMaxSeqlen(options.maxSeqlenQ, 'maxSeqlenQ', maxSeqlenOf(cuSeqlensQ));
  const maxSeqlenK = checkMaxSeqlen(options.maxSeqlenK, 'maxSeqlenK', maxSeqlenOf(cuSeqlensK));

  const softmaxScale =
    checkOptionalNumber(
      options.softmaxScale,
      'softmaxScale',
      'a finite number > 0',
      (s) => Number.isFinite(s) && s > 0,
    ) ?? 1 / Math.sqrt(headDim);
  if (options.causal !== undefined && typeof options.causal !== 'boolean') {
    throw expectationError('E_VALUE', 'causal', 'a boolean', describeValue(options.causal));
  }
  const causal = options.causal ?? false;
  const [windowLeft, windowRight] = checkWindow(options.windowSize, causal);
  const softcap =
    checkOptionalNumber(
      options.softcap,
      'softcap',
      'a finite number >= 0 (0 = off)',
      (s) => Number.isFinite(s) && s >= 0,
    ) ?? 0;

  let alibiSlopes: Float32Array | null = null;
  if (options.alibiSlopes !== undefined) {
    const slopes = options.alibiSlopes;
    if (!(slopes instanceof Float32Array) || slopes.length !== numHeads) {
      throw expectationError(
        'E_VALUE',
        'alibiSlopes',
        `a Float32Array of length ${numHeads} (nheads)`,
        describeValue(slopes),
      );
    }
    const bad = slopes.findIndex((s) => !Number.isFinite(s));
    if (bad >= 0) {
      throw expectationError('E_VALUE', 'alibiSlopes', 'finite slopes', `alibiSlopes[${bad}] = ${slopes[bad]}`);
    }
    alibiSlopes = slopes;
  }

  const dropoutP =
    checkOptionalNumber(options.dropoutP, 'dropoutP', 'a probability in [0, 1)', (p) => p >= 0 && p < 1) ?? 0;
  const givenSeed = checkOptionalNumber(
    options.seed,
    'seed',
    'an integer in [0, 2^53)',
    (s) => Number.isSafeInteger(s) && s >= 0,
  );
  const seed = dropoutP > 0 ? (givenSeed ?? drawSeed()) : (givenSeed ?? 0);
  if (options.deterministic !== undefined && typeof options.deterministic !== 'boolean') {
    throw expectationError('E_VALUE', 'deterministic', 'a boolean', describeValue(options.deterministic));
  }

  return {
    batch,
    totalQ,
    totalK,
    numHeads,
    numHeadsK,
    headDim,
    headDimV,
    dtype: q.dtype,
    cuSeqlensQ,
    cuSeqlensK,
    maxSeqlenQ,
    maxSeqlenK,
    softmaxScale,
    causal,
    windowLeft,
    windowRight,
    softcap,
    alibiSlopes,
    dropoutP,
    seed,
    deterministic: options.deterministic ?? false,
    layouts: { q: layoutOf(q, 'q'), k: layoutOf(k, 'k'), v: layoutOf(v, 'v') },
  };
}

/** Checks that a tensor has exactly the expected shape and dtype (used for dout, out, lse). */
export function checkTensorMeta(
  meta: TensorMeta | undefined,
  argument: string,
  shape: readonly number[],
  dtype: DType,
): void {
  if (!meta || !Array.isArray(meta.shape)) {
    throw expectationError('E_SHAPE', argument, `a tensor of shape ${formatShape(shape)}`, describeValue(meta));
  }
  if (meta.shape.length !== shape.length || meta.shape.some((d, i) => d !== shape[i])) {
    throw expectationError('E_SHAPE', argument, `shape ${formatShape(shape)}`, `shape ${formatShape(meta.shape)}`);
  }
  if (meta.dtype !== dtype) {
    throw expectationError('E_DTYPE', argument, `dtype '${dtype}'`, `'${meta.dtype}'`);
  }
}

/** The user-facing options that resolve to `problem` again: lets a backend hand a problem to the reference. */
export function optionsOfProblem(problem: AttnProblem): AttnOptions {
  if (problem === null || typeof problem !== 'object' || !(problem.cuSeqlensQ instanceof Int32Array)) {
    throw expectationError('E_VALUE', 'problem', 'an AttnProblem made by resolveAttnProblem', describeValue(problem));
  }
  return {
    cuSeqlensQ: problem.cuSeqlensQ,
    cuSeqlensK: problem.cuSeqlensK,
    maxSeqlenQ: problem.maxSeqlenQ,
    maxSeqlenK: problem.maxSeqlenK,
    softmaxScale: problem.softmaxScale,
    causal: problem.causal,
    windowSize: [problem.windowLeft, problem.windowRight],
    softcap: problem.softcap,
    alibiSlopes: problem.alibiSlopes ?? undefined,
    dropoutP: problem.dropoutP,
    seed: problem.seed,
    deterministic: problem.deterministic,
  };
}
