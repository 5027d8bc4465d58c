import { bf16BitsToF32, checkFloatDType, type FloatDType, f16BitsToF32, roundToDType } from './dtype.js';
import { checkOptionsBag, describeValue, expectationError } from './errors.js';
import { checkKnownKeys, optionKeys } from './known-keys.js';
import { visibleKeyRange } from './mask.js';
import { type AttnOptions, type AttnProblem, checkTensorMeta, resolveAttnProblem } from './options.js';
import { DropoutMask, dropoutThreshold, splitSeed } from './philox.js';
import { checkHostTensor, type FloatHostTensor, isValidShape, numel } from './tensor.js';

/**
 * The reference attention: the numerical specification of the library. It favours clarity over speed and
 * accumulates in float64. Every backend is tested against it.
 */

/** A float64 tensor, for reference inputs that need more than float32 (finite differences, gradcheck). */
export interface F64Tensor {
  readonly data: Float64Array;
  readonly shape: readonly number[];
  readonly dtype: 'f64';
}

export type ReferenceTensor = FloatHostTensor | F64Tensor;

/**
 * `'f64'` computes in float64 throughout. A storage dtype instead rounds every intermediate a real kernel stores
 * in that dtype (scores, probabilities, outputs and gradients of each matrix product) while summing in float64:
 * the "same-precision reference" of flash-attention's test rule.
 */
export type ReferencePrecision = 'f64' | FloatDType;

export interface ReferenceConfig {
  readonly precision?: ReferencePrecision;
}

const REFERENCE_CONFIG_KEYS = optionKeys<ReferenceConfig>()(['precision']);

export interface ReferenceForwardResult {
  /** (total_q, nheads, head_dim_v) */
  readonly out: Float64Array;
  /** (nheads, total_q); +inf for a row that sees no key. */
  readonly lse: Float64Array;
  readonly problem: AttnProblem;
}

export interface ReferenceBackwardResult extends ReferenceForwardResult {
  /** (total_q, nheads, head_dim) */
  readonly dq: Float64Array;
  /** (total_k, nheads_k, head_dim), summed over each group of query heads. */
  readonly dk: Float64Array;
  /** (total_k, nheads_k, head_dim_v) */
  readonly dv: Float64Array;
}

/** Checks a reference input: a float host tensor, or an f64 one, whose data matches its shape. */
function checkReferenceTensor(value: unknown, argument: string): ReferenceTensor {
  if (value !== null && typeof value === 'object' && (value as { dtype?: unknown }).dtype === 'f64') {
    const { data, shape } = value as F64Tensor;
    if (!(data instanceof Float64Array)) {
      throw expectationError('E_DTYPE', argument, "a Float64Array for dtype 'f64'", describeValue(data));
    }
    if (!isValidShape(shape) || numel(shape) !== data.length) {
      throw expectationError('E_SHAPE', argument, `a shape of ${data.length} elements`, describeValue(shape));
    }
    return value as F64Tensor;
  }
  const tensor = checkHostTensor(value, argument);
  checkFloatDType(tensor.dtype, `${argument}.dtype`);
  return tensor as FloatHostTensor;
}

const PRECISIONS: readonly unknown[] = ['f64', 'f32', 'f16', 'bf16'];

function checkConfig(config: unknown): ReferencePrecision {
  if (config === undefined) return 'f64';
  checkOptionsBag(config, 'config', 'a config object { precision? }');
  checkKnownKeys(config, 'config', REFERENCE_CONFIG_KEYS);
  const { precision = 'f64' } = config as ReferenceConfig;
  if (!PRECISIONS.includes(precision)) {
    throw expectationError('E_VALUE', 'config.precision', "'f64', 'f32', 'f16' or 'bf16'", describeValue(precision));
  }
  return precision;
}

export function toFloat64(tensor: ReferenceTensor): Float64Array {
  checkReferenceTensor(tensor, 'tensor');
  switch (tensor.dtype) {
    case 'f64':
      return tensor.data;
    case 'f32':
      return Float64Array.from(tensor.data as Float32Array);
    case 'f16':
    case 'bf16': {
      const decode = tensor.dtype === 'f16' ? f16BitsToF32 : bf16BitsToF32;
      const bits = tensor.data as Uint16Array;
      const out = new Float64Array(bits.length);
      for (let i = 0; i < bits.length; i++) out[i] = decode(bits[i] as number);
      return out;
    }
  }
}

/** The reference accepts f64 tensors; validation sees them as f32 since kernels never do. */
function metaOf(tensor: ReferenceTensor) {
  return { shape: tensor.shape, dtype: tensor.dtype === 'f64' ? ('f32' as const) : tensor.dtype };
}

type Rounder = (x: number) => number;

function rounderFor(precision: ReferencePrecision): Rounder {
  if (precision === 'f64') return (x) => x;
  return (x) => roundToDType(x, precision);
}

/** Scores of one row, with everything that comes before the softmax applied; -inf where a key is hidden. */
interface RowContext {
  readonly problem: AttnProblem;
  readonly q: Float64Array;
  readonly k: Float64Array;
  readonly round: Rounder;
}

function rowScores(
  ctx: RowContext,
  head: number,
  qRow: number,
  row: number,
  kStart: number,
  seqlenQ: number,
  seqlenK: number,
  scores: Float64Array,
  capDerivative: Float64Array | null,
): number {
  const { problem, q, k, round } = ctx;
  const { headDim, numHeads, numHeadsK, softmaxScale, softcap, alibiSlopes } = problem;
  const kvHead = Math.floor(head / (numHeads / numHeadsK));
  const { first, last } = visibleKeyRange(row, seqlenQ, seqlenK, problem.windowLeft, problem.windowRight);
  scores.fill(Number.NEGATIVE_INFINITY, 0, seqlenK);
  const qBase = (qRow * numHeads + head) * headDim;
  let max = Number.NEGATIVE_INFINITY;
  for (let j = first; j <= last; j++) {
    const kBase = ((kStart + j) * numHeadsK + kvHead) * headDim;
    let dot = 0;
    for (let d = 0; d < headDim; d++) dot += (q[qBase + d] as number) * (k[kBase + d] as number);
    let s = round(dot * softmaxScale);
    if (softcap > 0) {
      const t = Math.tanh(s / softcap);
      s = round(softcap * t);
      if (capDerivative) capDerivative[j] = 1 - t * t;
    }
    if (alibiSlopes) s = round(s - (alibiSlopes[head] as number) * Math.abs(row + seqlenK - seqlenQ - j));
    scores[j] = s;
    if (s > max) max = s;
  }
  return max;
}

/** Reference forward. `q: (total_q, H, D)`, `k: (total_k, Hk, D)`, `v: (total_k, Hk, Dv)`. */
export function referenceAttnForward(
  q: ReferenceTensor,
  k: ReferenceTensor,
  v: ReferenceTensor,
  options: AttnOptions,
  config?: ReferenceConfig,
): ReferenceForwardResult {
  const problem = resolveAttnProblem(
    metaOf(checkReferenceTensor(q, 'q')),
    metaOf(checkReferenceTensor(k, 'k')),
    metaOf(checkReferenceTensor(v, 'v')),
    options,
  );
  return run(problem, toFloat64(q), toFloat64(k), toFloat64(v), null, checkConfig(config));
}

/**
 * Reference backward: returns the forward results too. It recomputes the forward pass in float64 instead of
 * trusting a kernel's `out` and `lse`, so that the gradients it hands the tests are as exact as its outputs.
 */
export function referenceAttnBackward(
  dout: ReferenceTensor,
  q: ReferenceTensor,
  k: ReferenceTensor,
  v: ReferenceTensor,
  options: AttnOptions,
  config?: ReferenceConfig,
): ReferenceBackwardResult {
  const problem = resolveAttnProblem(
    metaOf(checkReferenceTensor(q, 'q')),
    metaOf(checkReferenceTensor(k, 'k')),
    metaOf(checkReferenceTensor(v, 'v')),
    options,
  );
  checkReferenceTensor(dout, 'dout');
  checkTensorMeta(metaOf(dout), 'dout', [problem.totalQ, problem.numHeads, problem.headDimV], metaOf(q).dtype);
  const result = run(problem, toFloat64(q), toFloat64(k), toFloat64(v), toFloat64(dout), checkConfig(config));
  return result as ReferenceBackwardResult;
}

function run(
  problem: AttnProblem,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dout: Float64Array | null,
  precision: ReferencePrecision,
): ReferenceForwardResult | ReferenceBackwardResult {
  const { batch, totalQ, totalK, numHeads, numHeadsK, headDim, headDimV, cuSeqlensQ, cuSeqlensK } = problem;
  const round = rounderFor(precision);
  const ctx: RowContext = { problem, q, k, round };
  const out = new Float64Array(totalQ * numHeads * headDimV);
  const lse = new Float64Array(numHeads * totalQ);
  const dq = dout ? new Float64Array(totalQ * numHeads * headDim) : null;
  const dk = dout ? new Float64Array(totalK * numHeadsK * headDim) : null;
  const dv = dout ? new Float64Array(totalK * numHeadsK * headDimV) : null;
  const dropout =
    problem.dropoutP > 0 ? new DropoutMask(splitSeed(problem.seed), dropoutThreshold(problem.dropoutP)) : null;
  const keepScale = 1 / (1 - problem.dropoutP);
  const groupSize = numHeads / numHeadsK;

  const maxK = problem.maxSeqlenK;
  const scores = new Float64Array(maxK);
  const probs = new Float64Array(maxK);
  const kept = new Float64Array(maxK);
  const keptMask = new Uint8Array(maxK);
  const capDerivative = problem.softcap > 0 ? new Float64Array(maxK) : null;
  const outRow = new Float64Array(headDimV);

  for (let b = 0; b < batch; b++) {
    const qStart = cuSeqlensQ[b] as number;
    const kStart = cuSeqlensK[b] as number;
    const seqlenQ = (cuSeqlensQ[b + 1] as number) - qStart;
    const seqlenK = (cuSeqlensK[b + 1] as number) - kStart;
    for (let h = 0; h < numHeads; h++) {
      const kvHead = Math.floor(h / groupSize);
      for (let i = 0; i < seqlenQ; i++) {
        const qRow = qStart + i;
        const max = rowScores(ctx, h, qRow, i, kStart, seqlenQ, seqlenK, scores, capDerivative);
        const outBase = (qRow * numHeads + h) * headDimV;
        if (max === Number.NEGATIVE_INFINITY) {
          // No visible key: the row's output is 0, its lse +inf, and it passes no gradient.
          lse[h * totalQ + qRow] = Number.POSITIVE_INFINITY;
          continue;
        }
        let sum = 0;
        for (let j = 0; j < seqlenK; j++) sum += Math.exp((scores[j] as number) - max);
        const rowLse = max + Math.log(sum);
        lse[h * totalQ + qRow] = rowLse;
        outRow.fill(0);
        for (let j = 0; j < seqlenK; j++) {
          const p = round(Math.exp((scores[j] as number) - rowLse));
          probs[j] = p;
          const keep = dropout === null || dropout.keep(b, h, i, j);
          keptMask[j] = keep ? 1 : 0;
          const pKept = keep ? (dropout ? p * keepScale : p) : 0;
          kept[j] = pKept;
          if (pKept === 0) continue;
          const vBase = ((kStart + j) * numHeadsK + kvHead) * headDimV;
          for (let d = 0; d < headDimV; d++) outRow[d] = (outRow[d] as number) + pKept * (v[vBase + d] as number);
        }
        for (let d = 0; d < headDimV; d++) out[outBase + d] = round(outRow[d] as number);

        if (!dout || !dq || !dk || !dv) continue;
        // D_i = dO_i · O_i, with O the (dropped) output the forward pass produced.
        let rowDot = 0;
        for (let d = 0; d < headDimV; d++) rowDot += (dout[outBase + d] as number) * (out[outBase + d] as number);
        const qBase = (qRow * numHeads + h) * headDim;
        for (let j = 0; j < seqlenK; j++) {
          const p = probs[j] as number;
          if (p === 0 || scores[j] === Number.NEGATIVE_INFINITY) continue;
          const vBase = ((kStart + j) * numHeadsK + kvHead) * headDimV;
          const kBase = ((kStart + j) * numHeadsK + kvHead) * headDim;
          const pKept = kept[j] as number;
          let dpDropped = 0;
          for (let d = 0; d < headDimV; d++) {
            const g = dout[outBase + d] as number;
            dv[vBase + d] = (dv[vBase + d] as number) + pKept * g;
            dpDropped += g * (v[vBase + d] as number);
          }
          const dp = keptMask[j] ? round(dpDropped) * (dropout ? keepScale : 1) : 0;
          let ds = round(p * (dp - rowDot));
          if (capDerivative) ds *= capDerivative[j] as number;
          const dRaw = ds * problem.softmaxScale;
          for (let d = 0; d < headDim; d++) {
            dq[qBase + d] = (dq[qBase + d] as number) + dRaw * (k[kBase + d] as number);
            dk[kBase + d] = (dk[kBase + d] as number) + dRaw * (q[qBase + d] as number);
          }
        }
      }
    }
  }
  if (dq && dk && dv) {
    for (const grad of [dq, dk, dv]) for (let i = 0; i < grad.length; i++) grad[i] = round(grad[i] as number);
    return { out, lse, problem, dq, dk, dv };
  }
  return { out, lse, problem };
}
