import {
  type AttnProblem,
  blockFullyVisible,
  DropoutMask,
  lowerProblem,
  maxSeqlenOf,
  visibleKeyRange,
  visibleKeySpan,
} from '@fa/core';
import { gemmNN, gemmNT, gemmTN } from './js-gemm.js';

/**
 * The pure-JavaScript kernels: the same FlashAttention-2 tiling as the WebAssembly ones (online softmax over key
 * tiles, tiles outside the visible span skipped, masking only on tiles that are not fully visible), written for
 * a scalar JIT: tiles are packed into contiguous float64 scratch, where the products of js-gemm.ts read plain
 * doubles with no float32 conversions, and accumulate in float64 since JavaScript computes in doubles anyway.
 */

export const JS_BLOCK_Q = 64;
export const JS_BLOCK_K = 64;

/** float32 views of one call's tensors, in the layouts of the backend contract. */
export interface JsTensors {
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  /** Forward: written. Backward: the forward output, read. */
  readonly out: Float32Array;
  /** (H, totalQ). Forward: written. Backward: read. */
  readonly lse: Float32Array;
  readonly dout?: Float32Array;
  readonly dq?: Float32Array;
  /** (totalK, gradHeadsK, D): per key head, or per query head when groups are summed afterwards. */
  readonly dk?: Float32Array;
  readonly dv?: Float32Array;
  readonly gradHeadsK?: number;
}

interface Sequence {
  readonly qStart: number;
  readonly kStart: number;
  readonly seqlenQ: number;
  readonly seqlenK: number;
}

function sequence(problem: AttnProblem, b: number): Sequence {
  const qStart = problem.cuSeqlensQ[b] as number;
  const kStart = problem.cuSeqlensK[b] as number;
  return {
    qStart,
    kStart,
    seqlenQ: (problem.cuSeqlensQ[b + 1] as number) - qStart,
    seqlenK: (problem.cuSeqlensK[b + 1] as number) - kStart,
  };
}

/** Scores before the softmax: scale, softcap, ALiBi. Also returns tanh's derivative factor for the backward. */
class ScoreRule {
  readonly scale: number;
  readonly softcap: number;
  readonly slopes: Float32Array | null;
  /** 1 - tanh² of the last score, when softcapping. */
  capGrad = 1;

  constructor(problem: AttnProblem) {
    this.scale = problem.softmaxScale;
    this.softcap = problem.softcap;
    this.slopes = problem.alibiSlopes;
  }

  score(dot: number, h: number, diag: number): number {
    let s = dot * this.scale;
    if (this.softcap > 0) {
      const t = Math.tanh(s / this.softcap);
      s = this.softcap * t;
      this.capGrad = 1 - t * t;
    }
    if (this.slopes) s -= (this.slopes[h] as number) * Math.abs(diag);
    return s;
  }
}

/** Copies `rows` rows of `width` floats (row stride `stride`) into contiguous float64 rows. */
function packRows(
  dst: Float64Array,
  src: Float32Array,
  offset: number,
  stride: number,
  rows: number,
  width: number,
): void {
  for (let r = 0; r < rows; r++) {
    const from = offset + r * stride;
    const to = r * width;
    for (let d = 0; d < width; d++) dst[to + d] = src[from + d] as number;
  }
}

/** Core's lowered dropout: the keep/drop rule every backend applies, and the scale of what is kept. */
function dropoutOf(problem: AttnProblem): { mask: DropoutMask | null; keepScale: number } {
  const { dropout } = lowerProblem(problem);
  const seed = { lo: dropout.seedLo, hi: dropout.seedHi };
  return { mask: dropout.enabled ? new DropoutMask(seed, dropout.threshold) : null, keepScale: dropout.keepScale };
}

/** Scratch for the JS kernels, sized for a problem: packed tiles, score tiles and accumulators. */
export class JsScratch {
  readonly q: Float64Array;
  readonly k: Float64Array;
  readonly v: Float64Array;
  readonly s = new Float64Array(JS_BLOCK_Q * JS_BLOCK_K);
  readonly ds = new Float64Array(JS_BLOCK_Q * JS_BLOCK_K);
  readonly o: Float64Array;
  readonly m = new Float64Array(JS_BLOCK_Q);
  readonly l = new Float64Array(JS_BLOCK_Q);
  readonly di: Float64Array;
  readonly dq: Float64Array;
  readonly dk: Float64Array;
  readonly dv: Float64Array;
  readonly dout: Float64Array;

  constructor(problem: AttnProblem, backward: boolean) {
    const { headDim, headDimV } = problem;
    const rows = backward ? maxSeqlenOf(problem.cuSeqlensQ) : JS_BLOCK_Q;
    this.q = new Float64Array(rows * headDim);
    this.k = new Float64Array(JS_BLOCK_K * headDim);
    this.v = new Float64Array(JS_BLOCK_K * headDimV);
    this.o = new Float64Array(JS_BLOCK_Q * headDimV);
    this.di = new Float64Array(backward ? rows : 0);
    this.dq = new Float64Array(backward ? rows * headDim : 0);
    this.dk = new Float64Array(backward ? JS_BLOCK_K * headDim : 0);
    this.dv = new Float64Array(backward ? JS_BLOCK_K * headDimV : 0);
    this.dout = new Float64Array(backward ? rows * headDimV : 0);
  }
}

/** Forward for query rows [q0, q1) of head h of sequence b. */
export function jsForwardItem(
  problem: AttnProblem,
  t: JsTensors,
  scratch: JsScratch,
  b: number,
  h: number,
  q0: number,
  q1: number,
): void {
  const { numHeads, numHeadsK, headDim, headDimV, windowLeft, windowRight, totalQ } = problem;
  const { qStart, kStart, seqlenQ, seqlenK } = sequence(problem, b);
  const kvHead = Math.floor(h / (numHeads / numHeadsK));
  const rows = q1 - q0;
  const { q, k, v, s, o, m, l } = scratch;
  const rule = new ScoreRule(problem);
  const { mask, keepScale } = dropoutOf(problem);
  packRows(q, t.q, ((qStart + q0) * numHeads + h) * headDim, numHeads * headDim, rows, headDim);
  o.fill(0, 0, rows * headDimV);
  m.fill(Number.NEGATIVE_INFINITY, 0, rows);
  l.fill(0, 0, rows);

  const span = visibleKeySpan(q0, q1, seqlenQ, seqlenK, windowLeft, windowRight);
  for (let k0 = span.first; k0 < span.end; k0 += JS_BLOCK_K) {
    const k1 = Math.min(k0 + JS_BLOCK_K, span.end);
    const cols = k1 - k0;
    packRows(k, t.k, ((kStart + k0) * numHeadsK + kvHead) * headDim, numHeadsK * headDim, cols, headDim);
    packRows(v, t.v, ((kStart + k0) * numHeadsK + kvHead) * headDimV, numHeadsK * headDimV, cols, headDimV);
    gemmNT(rows, cols, headDim, q, 0, headDim, k, 0, headDim, s, 0, JS_BLOCK_K, false);
    const full = blockFullyVisible(q0, q1, k0, k1, seqlenQ, seqlenK, windowLeft, windowRight);
    for (let i = 0; i < rows; i++) {
      const row = q0 + i;
      let first = 0;
      let end = cols;
      if (!full) {
        const range = visibleKeyRange(row, seqlenQ, seqlenK, windowLeft, windowRight);
        first = Math.max(0, range.first - k0);
        end = Math.min(cols, range.last + 1 - k0);
      }
      const at = i * JS_BLOCK_K;
      const diag = row + seqlenK - seqlenQ - k0;
      let tileMax = Number.NEGATIVE_INFINITY;
      for (let j = first; j < end; j++) {
        const x = rule.score(s[at + j] as number, h, diag - j);
        s[at + j] = x;
        if (x > tileMax) tileMax = x;
      }
      const mOld = m[i] as number;
      const mNew = Math.max(mOld, tileMax);
      // A row that has seen nothing yet keeps m = -inf; its alpha is 1 and its probabilities 0.
      const alpha = mNew === Number.NEGATIVE_INFINITY ? 1 : Math.exp(mOld - mNew);
      let sum = 0;
      for (let j = 0; j < cols; j++) {
        let p = 0;
        if (j >= first && j < end) {
          p = Math.exp((s[at + j] as number) - mNew);
          sum += p;
          if (mask && !mask.keep(b, h, row, k0 + j)) p = 0;
        }
        s[at + j] = p;
      }
      l[i] = (l[i] as number) * alpha + sum;
      m[i] = mNew;
      if (alpha !== 1) {
        const oAt = i * headDimV;
        for (let d = 0; d < headDimV; d++) o[oAt + d] = (o[oAt + d] as number) * alpha;
      }
    }
    gemmNN(rows, headDimV, cols, s, 0, JS_BLOCK_K, v, 0, headDimV, o, 0, headDimV, true);
  }

  for (let i = 0; i < rows; i++) {
    const row = qStart + q0 + i;
    const outOff = (row * numHeads + h) * headDimV;
    const sum = l[i] as number;
    if (sum === 0) {
      t.out.fill(0, outOff, outOff + headDimV);
      t.lse[h * totalQ + row] = Number.POSITIVE_INFINITY;
      continue;
    }
    const inv = keepScale / sum;
    for (let d = 0; d < headDimV; d++) t.out[outOff + d] = (o[i * headDimV + d] as number) * inv;
    t.lse[h * totalQ + row] = (m[i] as number) + Math.log(sum);
  }
}

/** Backward for head h of sequence b: key tiles outside, query tiles inside, dQ accumulated for the sequence. */
export function jsBackwardItem(problem: AttnProblem, t: JsTensors, scratch: JsScratch, b: number, h: number): void {
  const { numHeads, numHeadsK, headDim, headDimV, windowLeft, windowRight, totalQ } = problem;
  const { qStart, kStart, seqlenQ, seqlenK } = sequence(problem, b);
  const dqOut = t.dq as Float32Array;
  const dkOut = t.dk as Float32Array;
  const dvOut = t.dv as Float32Array;
  const gradHeads = t.gradHeadsK as number;
  const kvHead = Math.floor(h / (numHeads / numHeadsK));
  const gradHead = gradHeads === numHeadsK ? kvHead : h;
  const { q, k, v, s, ds, di, dq, dk, dv, dout } = scratch;
  const rule = new ScoreRule(problem);
  const { mask, keepScale } = dropoutOf(problem);
  const scale = problem.softmaxScale;

  packRows(q, t.q, (qStart * numHeads + h) * headDim, numHeads * headDim, seqlenQ, headDim);
  packRows(dout, t.dout as Float32Array, (qStart * numHeads + h) * headDimV, numHeads * headDimV, seqlenQ, headDimV);
  for (let i = 0; i < seqlenQ; i++) {
    const off = ((qStart + i) * numHeads + h) * headDimV;
    let sum = 0;
    for (let d = 0; d < headDimV; d++) sum += (dout[i * headDimV + d] as number) * (t.out[off + d] as number);
    di[i] = sum;
  }
  dq.fill(0, 0, seqlenQ * headDim);

  for (let k0 = 0; k0 < seqlenK; k0 += JS_BLOCK_K) {
    const k1 = Math.min(k0 + JS_BLOCK_K, seqlenK);
    const cols = k1 - k0;
    let packed = false;
    for (let q0 = 0; q0 < seqlenQ; q0 += JS_BLOCK_Q) {
      const q1 = Math.min(q0 + JS_BLOCK_Q, seqlenQ);
      const span = visibleKeySpan(q0, q1, seqlenQ, seqlenK, windowLeft, windowRight);
      if (span.first >= k1 || span.end <= k0) continue;
      if (!packed) {
        packRows(k, t.k, ((kStart + k0) * numHeadsK + kvHead) * headDim, numHeadsK * headDim, cols, headDim);
        packRows(v, t.v, ((kStart + k0) * numHeadsK + kvHead) * headDimV, numHeadsK * headDimV, cols, headDimV);
        dk.fill(0);
        dv.fill(0);
        packed = true;
      }
      const rows = q1 - q0;
      gemmNT(rows, cols, headDim, q, q0 * headDim, headDim, k, 0, headDim, s, 0, JS_BLOCK_K, false);
      gemmNT(rows, cols, headDimV, dout, q0 * headDimV, headDimV, v, 0, headDimV, ds, 0, JS_BLOCK_K, false);
      const full = blockFullyVisible(q0, q1, k0, k1, seqlenQ, seqlenK, windowLeft, windowRight);
      for (let i = 0; i < rows; i++) {
        const row = q0 + i;
        let first = 0;
        let end = cols;
        if (!full) {
          const range = visibleKeyRange(row, seqlenQ, seqlenK, windowLeft, windowRight);
          first = Math.max(0, range.first - k0);
          end = Math.min(cols, range.last + 1 - k0);
        }
        const at = i * JS_BLOCK_K;
        const lse = t.lse[h * totalQ + qStart + row] as number;
        const dRow = di[row] as number;
        const diag = row + seqlenK - seqlenQ - k0;
        for (let j = 0; j < cols; j++) {
          if (j < first || j >= end) {
            s[at + j] = 0;
            ds[at + j] = 0;
            continue;
          }
          const p = Math.exp(rule.score(s[at + j] as number, h, diag - j) - lse);
          let dp = ds[at + j] as number;
          let pKept = p;
          if (mask) {
            const keep = mask.keep(b, h, row, k0 + j);
            pKept = keep ? p * keepScale : 0;
            dp = keep ? dp * keepScale : 0;
          }
          let grad = p * (dp - dRow);
          if (rule.softcap > 0) grad *= rule.capGrad;
          s[at + j] = pKept;
          ds[at + j] = grad * scale;
        }
      }
      gemmTN(cols, headDimV, rows, s, 0, JS_BLOCK_K, dout, q0 * headDimV, headDimV, dv, 0, headDimV, true);
      gemmTN(cols, headDim, rows, ds, 0, JS_BLOCK_K, q, q0 * headDim, headDim, dk, 0, headDim, true);
      gemmNN(rows, headDim, cols, ds, 0, JS_BLOCK_K, k, 0, headDim, dq, q0 * headDim, headDim, true);
    }
    for (let j = 0; j < cols; j++) {
      const dkOff = ((kStart + k0 + j) * gradHeads + gradHead) * headDim;
      const dvOff = ((kStart + k0 + j) * gradHeads + gradHead) * headDimV;
      for (let d = 0; d < headDim; d++) dkOut[dkOff + d] = packed ? (dk[j * headDim + d] as number) : 0;
      for (let d = 0; d < headDimV; d++) dvOut[dvOff + d] = packed ? (dv[j * headDimV + d] as number) : 0;
    }
  }
  for (let row = 0; row < seqlenQ; row++) {
    const off = ((qStart + row) * numHeads + h) * headDim;
    for (let d = 0; d < headDim; d++) dqOut[off + d] = dq[row * headDim + d] as number;
  }
}
