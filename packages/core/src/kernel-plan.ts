import type { FloatDType } from './dtype.js';
import { describeValue, expectationError } from './errors.js';
import { contiguousLayout, type TensorLayout } from './layout.js';
import type { AttnProblem } from './options.js';
import { dropoutThreshold, splitSeed } from './philox.js';

/**
 * What a kernel executes, lowered once from a validated `AttnProblem`: every derived number a backend used to
 * compute for itself (the dropout threshold and keep-scale, the seed split into Philox's key words, scale·log2e,
 * the GQA group size, element strides). A plain object of numbers and typed arrays, so a backend can hand it to a
 * worker, a WGSL uniform buffer or a CUDA parameter block as it is; the work lists come from the tile planner
 * (`planQueryTiles`, `planKeyTiles`) with the backend's tile sizes.
 */
export interface KernelPlan {
  readonly dtype: FloatDType;
  readonly batch: number;
  readonly totalQ: number;
  readonly totalK: number;
  readonly numHeads: number;
  readonly numHeadsK: number;
  /** Query heads per key/value head: query head h reads key/value head `floor(h / groupSize)`. */
  readonly groupSize: number;
  readonly headDim: number;
  readonly headDimV: number;
  readonly maxSeqlenQ: number;
  readonly maxSeqlenK: number;
  readonly cuSeqlensQ: Int32Array;
  readonly cuSeqlensK: Int32Array;
  /** Element strides of every tensor a kernel reads or writes. */
  readonly layouts: KernelLayouts;
  readonly scores: ScoreScalars;
  readonly dropout: DropoutScalars;
  readonly deterministic: boolean;
}

/**
 * In elements of each handle's storage: element `(t, h, d)` is at `offset + t · tokenStride + h · headStride + d`.
 * `q`, `k`, `v` may be views (the parts of a packed `qkv` share one buffer); the outputs a backend allocates are
 * contiguous, and `lse` is `(heads, total_q)`.
 */
export interface KernelLayouts {
  readonly q: TensorLayout;
  readonly k: TensorLayout;
  readonly v: TensorLayout;
  readonly out: TensorLayout;
  readonly lse: TensorLayout;
}

export interface ScoreScalars {
  readonly softmaxScale: number;
  /** `softmaxScale · log2(e)`: kernels that exponentiate with exp2 fold it into one multiply-add. */
  readonly scaleLog2: number;
  /** 0 when off. */
  readonly softcap: number;
  readonly causal: boolean;
  /** -1 unbounded; causal has `windowRight = 0`. */
  readonly windowLeft: number;
  readonly windowRight: number;
  /** `Float32Array(numHeads)`, or null without ALiBi. */
  readonly alibiSlopes: Float32Array | null;
}

export interface DropoutScalars {
  readonly enabled: boolean;
  readonly p: number;
  /** Keep an attention weight iff its Philox word is at least this 32-bit threshold (core's `dropoutThreshold`). */
  readonly threshold: number;
  /** `1 / (1 − p)`, the scale of kept weights; 1 when off. */
  readonly keepScale: number;
  /** The seed as Philox's two 32-bit key words. */
  readonly seedLo: number;
  readonly seedHi: number;
}

/** Lowers a validated problem (from `resolveAttnProblem`) to what its kernels execute. */
export function lowerProblem(problem: AttnProblem): KernelPlan {
  if (problem === null || typeof problem !== 'object' || !(problem.cuSeqlensQ instanceof Int32Array)) {
    throw expectationError('E_VALUE', 'problem', 'an AttnProblem made by resolveAttnProblem', describeValue(problem));
  }
  const dropout = problem.dropoutP > 0;
  const seed = splitSeed(problem.seed);
  return {
    dtype: problem.dtype,
    batch: problem.batch,
    totalQ: problem.totalQ,
    totalK: problem.totalK,
    numHeads: problem.numHeads,
    numHeadsK: problem.numHeadsK,
    groupSize: problem.numHeads / problem.numHeadsK,
    headDim: problem.headDim,
    headDimV: problem.headDimV,
    maxSeqlenQ: problem.maxSeqlenQ,
    maxSeqlenK: problem.maxSeqlenK,
    cuSeqlensQ: problem.cuSeqlensQ,
    cuSeqlensK: problem.cuSeqlensK,
    layouts: {
      ...problem.layouts,
      out: contiguousLayout(problem.numHeads, problem.headDimV),
      lse: { offset: 0, tokenStride: 1, headStride: problem.totalQ },
    },
    scores: {
      softmaxScale: problem.softmaxScale,
      scaleLog2: problem.softmaxScale * Math.LOG2E,
      softcap: problem.softcap,
      causal: problem.causal,
      windowLeft: problem.windowLeft,
      windowRight: problem.windowRight,
      alibiSlopes: problem.alibiSlopes,
    },
    dropout: {
      enabled: dropout,
      p: problem.dropoutP,
      threshold: dropout ? dropoutThreshold(problem.dropoutP) : 0,
      keepScale: dropout ? 1 / (1 - problem.dropoutP) : 1,
      seedLo: seed.lo,
      seedHi: seed.hi,
    },
    deterministic: problem.deterministic,
  };
}
