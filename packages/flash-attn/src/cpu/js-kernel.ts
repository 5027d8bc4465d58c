import {
  type AttnProblem,
  blockFullyVisible,
  DropoutMask,
  dropoutThreshold,
  maxSeqlenOf,
  splitSeed,
  visibleKeyRange,
  visibleKeySpan,
} from '@fa/core';

/**
 * The pure-JavaScript kernels: the same FlashAttention-2 tiling as the WebAssembly ones (online softmax over key
 * tiles, tiles outside the visible span skipped, masking only on tiles that are not fully visible), written for
 * a scalar JIT. Accumulators are float64, since JavaScript computes in doubles anyway.
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

function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    s0 += (a[aOff + d] as number) * (b[bOff + d] as number);
    s1 += (a[aOff + d + 1] as number) * (b[bOff + d + 1] as number);
    s2 += (a[aOff + d + 2] as number) * (b[bOff + d + 2] as number);
    s3 += (a[aOff + d + 3] as number) * (b[bOff + d + 3] as number);
  }
  for (; d < n; d++) s0 += (a[aOff + d] as number) * (b[bOff + d] as number);
  return s0 + s1 + (s2 + s3);
}

/** acc[accOff..+n] += x · src[srcOff..+n] */
function axpy(acc: Float64Array, accOff: number, x: number, src: Float32Array, srcOff: number, n: number): void {
  for (let d = 0; d < n; d++) acc[accOff + d] = (acc[accOff + d] as number) + x * (src[srcOff + d] as number);
}

function dropoutMask(problem: AttnProblem): DropoutMask | null {
  return problem.dropoutP > 0 ? new DropoutMask(splitSeed(problem.seed), dropoutThreshold(problem.dropoutP)) : null;
}

/** Scratch for one thread of JS kernels, sized for a problem. */
export class JsScratch {
  readonly scores = new Float64Array(JS_BLOCK_K);
  readonly o: Float64Array;
  readonly m = new Float64Array(JS_BLOCK_Q);
  readonly l = new Float64Array(JS_BLOCK_Q);
  readonly di: Float64Array;
  readonly dq: Float64Array;
  readonly dk: Float64Array;
  readonly dv: Float64Array;

  constructor(problem: AttnProblem, backward: boolean) {
    const { headDim, headDimV } = problem;
    const maxSeqlenQ = maxSeqlenOf(problem.cuSeqlensQ);
    this.o = new Float64Array(JS_BLOCK_Q * headDimV);
    this.di = new Float64Array(backward ? maxSeqlenQ : 0);
    this.dq = new Float64Array(backward ? maxSeqlenQ * headDim : 0);
    this.dk = new Float64Array(backward ? JS_BLOCK_K * headDim : 0);
    this.dv = new Float64Array(backward ? JS_BLOCK_K * headDimV : 0);
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
  const { scores, o, m, l } = scratch;
  const rule = new ScoreRule(problem);
  const mask = dropoutMask(problem);
  o.fill(0, 0, rows * headDimV);
  m.fill(Number.NEGATIVE_INFINITY, 0, rows);
  l.fill(0, 0, rows);

  const span = visibleKeySpan(q0, q1, seqlenQ, seqlenK, windowLeft, windowRight);
  for (let k0 = span.first; k0 < span.end; k0 += JS_BLOCK_K) {
    const k1 = Math.min(k0 + JS_BLOCK_K, span.end);
    const full = blockFullyVisible(q0, q1, k0, k1, seqlenQ, seqlenK, windowLeft, windowRight);
    for (let i = 0; i < rows; i++) {
      const row = q0 + i;
      let first = k0;
      let end = k1;
      if (!full) {
        const range = visibleKeyRange(row, seqlenQ, seqlenK, windowLeft, windowRight);
        first = Math.max(k0, range.first);
        end = Math.min(k1, range.last + 1);
        if (end <= first) continue;
      }
      const qOff = ((qStart + row) * numHeads + h) * headDim;
      const diag = row + seqlenK - seqlenQ;
      let tileMax = Number.NEGATIVE_INFINITY;
      for (let j = first; j < end; j++) {
        const kOff = ((kStart + j) * numHeadsK + kvHead) * headDim;
        const s = rule.score(dot(t.q, qOff, t.k, kOff, headDim), h, diag - j);
        scores[j - k0] = s;
        if (s > tileMax || Number.isNaN(s)) tileMax = s;
      }
      const mOld = m[i] as number;
      const mNew = Math.max(mOld, tileMax);
      const alpha = Math.exp(mOld - mNew);
      const oOff = i * headDimV;
      if (alpha !== 1) for (let d = 0; d < headDimV; d++) o[oOff + d] = (o[oOff + d] as number) * alpha;
      let sum = 0;
      for (let j = first; j < end; j++) {
        const p = Math.exp((scores[j - k0] as number) - mNew);
        sum += p;
        if (mask && !mask.keep(b, h, row, j)) continue;
        axpy(o, oOff, p, t.v, ((kStart + j) * numHeadsK + kvHead) * headDimV, headDimV);
      }
      l[i] = (l[i] as number) * alpha + sum;
      m[i] = mNew;
    }
  }

  const keepScale = mask ? 1 / (1 - problem.dropoutP) : 1;
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
  const dout = t.dout as Float32Array;
  const dqOut = t.dq as Float32Array;
  const dkOut = t.dk as Float32Array;
  const dvOut = t.dv as Float32Array;
  const gradHeads = t.gradHeadsK as number;
  const kvHead = Math.floor(h / (numHeads / numHeadsK));
  const gradHead = gradHeads === numHeadsK ? kvHead : h;
  const { di, dq, dk, dv } = scratch;
  const rule = new ScoreRule(problem);
  const mask = dropoutMask(problem);
  const keepScale = mask ? 1 / (1 - problem.dropoutP) : 1;
  const scale = problem.softmaxScale;

  for (let i = 0; i < seqlenQ; i++) {
    const off = ((qStart + i) * numHeads + h) * headDimV;
    di[i] = dot(dout, off, t.out, off, headDimV);
  }
  dq.fill(0, 0, seqlenQ * headDim);

  for (let k0 = 0; k0 < seqlenK; k0 += JS_BLOCK_K) {
    const k1 = Math.min(k0 + JS_BLOCK_K, seqlenK);
    dk.fill(0);
    dv.fill(0);
    for (let q0 = 0; q0 < seqlenQ; q0 += JS_BLOCK_Q) {
      const q1 = Math.min(q0 + JS_BLOCK_Q, seqlenQ);
      const span = visibleKeySpan(q0, q1, seqlenQ, seqlenK, windowLeft, windowRight);
      if (span.first >= k1 || span.end <= k0) continue;
      const full = blockFullyVisible(q0, q1, k0, k1, seqlenQ, seqlenK, windowLeft, windowRight);
      for (let row = q0; row < q1; row++) {
        let first = k0;
        let end = k1;
        if (!full) {
          const range = visibleKeyRange(row, seqlenQ, seqlenK, windowLeft, windowRight);
          first = Math.max(k0, range.first);
          end = Math.min(k1, range.last + 1);
          if (end <= first) continue;
        }
        const lse = t.lse[h * totalQ + qStart + row] as number;
        const qOff = ((qStart + row) * numHeads + h) * headDim;
        const doOff = ((qStart + row) * numHeads + h) * headDimV;
        const diag = row + seqlenK - seqlenQ;
        const dRow = di[row] as number;
        for (let j = first; j < end; j++) {
          const kOff = ((kStart + j) * numHeadsK + kvHead) * headDim;
          const vOff = ((kStart + j) * numHeadsK + kvHead) * headDimV;
          const p = Math.exp(rule.score(dot(t.q, qOff, t.k, kOff, headDim), h, diag - j) - lse);
          let dp = dot(dout, doOff, t.v, vOff, headDimV);
          let pKept = p;
          if (mask) {
            const keep = mask.keep(b, h, row, j);
            pKept = keep ? p * keepScale : 0;
            dp = keep ? dp * keepScale : 0;
          }
          let ds = p * (dp - dRow);
          if (rule.softcap > 0) ds *= rule.capGrad;
          ds *= scale;
          const local = j - k0;
          if (pKept !== 0) axpy(dv, local * headDimV, pKept, dout, doOff, headDimV);
          if (ds !== 0) {
            axpy(dk, local * headDim, ds, t.q, qOff, headDim);
            axpy(dq, row * headDim, ds, t.k, kOff, headDim);
          }
        }
      }
    }
    for (let j = k0; j < k1; j++) {
      const local = j - k0;
      const dkOff = ((kStart + j) * gradHeads + gradHead) * headDim;
      const dvOff = ((kStart + j) * gradHeads + gradHead) * headDimV;
      for (let d = 0; d < headDim; d++) dkOut[dkOff + d] = dk[local * headDim + d] as number;
      for (let d = 0; d < headDimV; d++) dvOut[dvOff + d] = dv[local * headDimV + d] as number;
    }
  }
  for (let row = 0; row < seqlenQ; row++) {
    const off = ((qStart + row) * numHeads + h) * headDim;
    for (let d = 0; d < headDim; d++) dqOut[off + d] = dq[row * headDim + d] as number;
  }
}
