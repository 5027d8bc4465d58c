import { type AttnProblem, visibleKeyRange } from '@fa/core';

/**
 * Exact attention for a few query rows, in float64, straight from the definitions of docs/semantics.md (no
 * dropout): the full reference is O(T² D) in JavaScript, far too slow at benchmark sizes, but a sample of rows
 * is enough to catch a kernel that is fast because it is wrong.
 */
export interface SampledRow {
  readonly b: number;
  readonly h: number;
  readonly i: number;
  readonly out: Float64Array;
  readonly lse: number;
  /** Present when `dout` was given. */
  readonly dq?: Float64Array;
}

export function sampledReference(
  problem: AttnProblem,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dout: Float32Array | null,
  rows: readonly { b: number; h: number; i: number }[],
): SampledRow[] {
  const { numHeads: H, numHeadsK: Hk, headDim: D, headDimV: Dv, softmaxScale, cuSeqlensQ, cuSeqlensK } = problem;
  const group = H / Hk;
  return rows.map(({ b, h, i }) => {
    const qStart = cuSeqlensQ[b]!;
    const kStart = cuSeqlensK[b]!;
    const lq = cuSeqlensQ[b + 1]! - qStart;
    const lk = cuSeqlensK[b + 1]! - kStart;
    const kvh = Math.floor(h / group);
    const { first, last } = visibleKeyRange(i, lq, lk, problem.windowLeft, problem.windowRight);
    const qBase = ((qStart + i) * H + h) * D;
    const scores: number[] = [];
    for (let j = first; j <= last; j++) {
      const kBase = ((kStart + j) * Hk + kvh) * D;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[qBase + d]! * k[kBase + d]!;
      let s = dot * softmaxScale;
      if (problem.softcap > 0) s = problem.softcap * Math.tanh(s / problem.softcap);
      if (problem.alibiSlopes) s -= problem.alibiSlopes[h]! * Math.abs(i + lk - lq - j);
      scores.push(s);
    }
    const out = new Float64Array(Dv);
    if (scores.length === 0)
      return { b, h, i, out, lse: Number.POSITIVE_INFINITY, dq: dout ? new Float64Array(D) : undefined };
    const max = Math.max(...scores);
    const lse = max + Math.log(scores.reduce((a, s) => a + Math.exp(s - max), 0));
    const probs = scores.map((s) => Math.exp(s - lse));
    probs.forEach((p, n) => {
      const vBase = ((kStart + first + n) * Hk + kvh) * Dv;
      for (let d = 0; d < Dv; d++) out[d] = out[d]! + p * v[vBase + d]!;
    });
    if (!dout) return { b, h, i, out, lse };
    // dq_i = scale Σ_j P_ij (dO_i · v_j − D_i) k_j with D_i = dO_i · out_i (softcap's chain rule included).
    const oBase = ((qStart + i) * H + h) * Dv;
    let rowDot = 0;
    for (let d = 0; d < Dv; d++) rowDot += dout[oBase + d]! * out[d]!;
    const dq = new Float64Array(D);
    probs.forEach((p, n) => {
      const j = first + n;
      const vBase = ((kStart + j) * Hk + kvh) * Dv;
      const kBase = ((kStart + j) * Hk + kvh) * D;
      let dp = 0;
      for (let d = 0; d < Dv; d++) dp += dout[oBase + d]! * v[vBase + d]!;
      let ds = p * (dp - rowDot);
      if (problem.softcap > 0) {
        const raw = scores[n]! + (problem.alibiSlopes ? problem.alibiSlopes[h]! * Math.abs(i + lk - lq - j) : 0);
        const t = raw / problem.softcap;
        ds *= 1 - t * t;
      }
      for (let d = 0; d < D; d++) dq[d] = dq[d]! + softmaxScale * ds * k[kBase + d]!;
    });
    return { b, h, i, out, lse, dq };
  });
}
