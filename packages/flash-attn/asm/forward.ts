// FlashAttention-2 forward for one work item: one query tile of one head of one sequence.
// Scores are kept transposed (one row per key, one lane per query) so that the online softmax's running max and
// sum reduce down columns, lane-parallel, with no horizontal reductions. The query tile is packed transposed
// once per item, pre-multiplied by scale·log2(e) so that the product lands directly in the base-2 domain exp2
// works in; each key tile of K and V is packed contiguously before its two products.

import { gemm, MODE_SCALE_ADD, MODE_SET } from './gemm';
import { Job } from './job';
import { blockFullyVisible, keySpan, keysSeenBy, queriesSeeing, rangeHi, rangeLo, spanEnd, spanFirst } from './mask';
import { packRows, packTransposed, writeRows } from './pack';
import { philox4, philoxX0, philoxX1, philoxX2, philoxX3 } from './philox';
import { exp2Fast, exp2v, LN2, LOG2E, lnPositive, tanhv } from './vmath';

const NEG_INF: f32 = -Infinity;

@inline
function roundUp4(x: i32): i32 {
  return (x + 3) & ~3;
}

/** Per-thread scratch of a forward item: Qᵀ, the score tile, O, K and V tiles, and m, l, alpha per row. */
export function forwardScratchBytes(headDim: i32, headDimV: i32, blockQ: i32, blockK: i32): usize {
  const floats =
    <usize>headDim * blockQ +
    <usize>blockK * blockQ +
    <usize>blockQ * roundUp4(headDimV) +
    <usize>blockK * roundUp4(headDim) +
    <usize>blockK * roundUp4(headDimV) +
    3 * <usize>blockQ;
  return floats << 2;
}

/**
 * Turns a tile of base-2 scores (`cols` keys x `lanes` queries, transposed) into probabilities relative to the
 * running max, updating the running max `m` and sum `l` and leaving the rescale factor of the previous
 * accumulator in `alphaRow`. With dropout, dropped probabilities are zeroed after they were summed: lse is of
 * the undropped softmax.
 */
function softmaxTile(
  job: Job,
  st: usize,
  rowBytes: usize,
  cols: i32,
  lanes: i32,
  q0: i32,
  k0: i32,
  seqlenQ: i32,
  seqlenK: i32,
  b: i32,
  h: i32,
  full: bool,
  mRow: usize,
  lRow: usize,
  alphaRow: usize,
): void {
  const softcap = job.softcap;
  const alibi = job.alibiSlopes;
  const windowLeft = job.windowLeft;
  const windowRight = job.windowRight;
  const dropout = job.dropout != 0;
  const simple = full && softcap == 0 && alibi == 0;
  const ln2V = f32x4.splat(<f32>LN2);
  const capV = f32x4.splat(softcap);
  const invCapV = f32x4.splat(softcap == 0 ? 0 : 1.0 / softcap);
  const slopeV = f32x4.splat(alibi == 0 ? 0 : load<f32>(alibi + (<usize>h << 2)));
  const log2eV = f32x4.splat(LOG2E);
  const negInf = f32x4.splat(NEG_INF);
  const leftV = i32x4.splat(windowLeft);
  const negRightV = i32x4.splat(-windowRight);
  const threshold = i32x4.splat(job.dropoutThreshold);
  const headV = i32x4.splat(h);
  const batchV = i32x4.splat(b);

  for (let ig = 0; ig < lanes; ig += 4) {
    const col = st + (<usize>ig << 2);
    const mOld = v128.load(mRow + (<usize>ig << 2));
    let tileMax = negInf;
    let p = col;
    if (simple) {
      for (let j = 0; j < cols; j++) {
        tileMax = f32x4.max(tileMax, v128.load(p));
        p += rowBytes;
      }
    } else {
      // diag = i + Lk - Lq - j for this lane's query i and key j; visibility and ALiBi both derive from it.
      const diag0 = i32x4.add(i32x4.splat(q0 + ig + seqlenK - seqlenQ - k0), i32x4(0, 1, 2, 3));
      for (let j = 0; j < cols; j++) {
        let x = v128.load(p);
        if (softcap != 0 || alibi != 0) {
          let s = f32x4.mul(x, ln2V);
          if (softcap != 0) s = f32x4.mul(capV, tanhv(f32x4.mul(s, invCapV)));
          const diag = i32x4.sub(diag0, i32x4.splat(j));
          if (alibi != 0) s = f32x4.sub(s, f32x4.mul(slopeV, f32x4.abs(f32x4.convert_i32x4_s(diag))));
          x = f32x4.mul(s, log2eV);
        }
        if (!full) {
          const diag = i32x4.sub(diag0, i32x4.splat(j));
          let visible = i32x4.splat(-1);
          if (windowLeft >= 0) visible = v128.and(visible, i32x4.le_s(diag, leftV));
          if (windowRight >= 0) visible = v128.and(visible, i32x4.ge_s(diag, negRightV));
          x = v128.bitselect(x, negInf, visible);
        }
        v128.store(p, x);
        tileMax = f32x4.max(tileMax, x);
        p += rowBytes;
      }
    }
    const mNew = f32x4.max(mOld, tileMax);
    // A row that has seen nothing yet keeps m = -inf; subtracting 0 instead avoids -inf - -inf = NaN.
    const mSafe = v128.andnot(mNew, f32x4.eq(mNew, negInf));
    const alpha = exp2v(f32x4.sub(mOld, mSafe));
    let sum = f32x4.splat(0);
    p = col;
    const queries = i32x4.add(i32x4.splat(q0 + ig), i32x4(0, 1, 2, 3));
    for (let j = 0; j < cols; j++) {
      // Masked scores are -inf and must give exactly 0; fully visible tiles can skip the flush.
      let e = simple ? exp2Fast(f32x4.sub(v128.load(p), mSafe)) : exp2v(f32x4.sub(v128.load(p), mSafe));
      sum = f32x4.add(sum, e);
      if (dropout) {
        const key = k0 + j;
        if (j == 0 || (key & 3) == 0) {
          philox4(i32x4.splat(key >>> 2), queries, headV, batchV, job.seedLo, job.seedHi);
        }
        const word = key & 3;
        const bits = word == 0 ? philoxX0 : word == 1 ? philoxX1 : word == 2 ? philoxX2 : philoxX3;
        e = v128.and(e, i32x4.ge_u(bits, threshold));
      }
      v128.store(p, e);
      p += rowBytes;
    }
    const lOld = v128.load(lRow + (<usize>ig << 2));
    v128.store(lRow + (<usize>ig << 2), f32x4.add(f32x4.mul(lOld, alpha), sum));
    v128.store(mRow + (<usize>ig << 2), mNew);
    v128.store(alphaRow + (<usize>ig << 2), alpha);
  }
}

export function forwardItem(job: Job, b: i32, h: i32, q0: i32, q1: i32, scratch: usize): void {
  const numHeads = job.numHeads;
  const numHeadsK = job.numHeadsK;
  const headDim = job.headDim;
  const headDimV = job.headDimV;
  const blockQ = job.blockQ;
  const blockK = job.blockK;
  const windowLeft = job.windowLeft;
  const windowRight = job.windowRight;
  const qStart = load<i32>(job.cuSeqlensQ + (<usize>b << 2));
  const seqlenQ = load<i32>(job.cuSeqlensQ + (<usize>(b + 1) << 2)) - qStart;
  const kStart = load<i32>(job.cuSeqlensK + (<usize>b << 2));
  const seqlenK = load<i32>(job.cuSeqlensK + (<usize>(b + 1) << 2)) - kStart;
  const kvHead = h / (numHeads / numHeadsK);
  const rows = q1 - q0;
  const lanes = roundUp4(rows);
  const dPad = roundUp4(headDim);
  const dvPad = roundUp4(headDimV);
  const rowBytes = <usize>blockQ << 2;

  const qt = scratch;
  const st = qt + <usize>headDim * rowBytes;
  const o = st + <usize>blockK * rowBytes;
  const kTile = o + ((<usize>blockQ * dvPad) << 2);
  const vTile = kTile + ((<usize>blockK * dPad) << 2);
  const mRow = vTile + ((<usize>blockK * dvPad) << 2);
  const lRow = mRow + rowBytes;
  const alphaRow = lRow + rowBytes;

  // Qᵀ: one row per feature, one lane per query; padding lanes are zero so their scores stay finite.
  const qRowBytes = (<usize>numHeads * headDim) << 2;
  const qTile = job.q + (((<usize>(qStart + q0) * numHeads + h) * headDim) << 2);
  packTransposed(qt, rowBytes, qTile, qRowBytes, rows, lanes, headDim, job.scale * LOG2E);
  for (let i = 0; i < lanes; i += 4) {
    v128.store(mRow + (<usize>i << 2), f32x4.splat(NEG_INF));
    v128.store(lRow + (<usize>i << 2), f32x4.splat(0));
  }

  keySpan(q0, q1, seqlenQ, seqlenK, windowLeft, windowRight);
  const first = spanFirst;
  const end = spanEnd;
  const kRowBytes = (<usize>numHeadsK * headDim) << 2;
  const vRowBytes = (<usize>numHeadsK * headDimV) << 2;
  const kBase = job.k + (((<usize>kStart * numHeadsK + kvHead) * headDim) << 2);
  const vBase = job.v + (((<usize>kStart * numHeadsK + kvHead) * headDimV) << 2);
  const oRowBytes = <usize>dvPad << 2;
  let firstTile = true;
  for (let k0 = first; k0 < end; k0 += blockK) {
    const k1 = min(k0 + blockK, end);
    const cols = k1 - k0;
    packRows(kTile, dPad, kBase + <usize>k0 * kRowBytes, kRowBytes, cols, headDim);
    packRows(vTile, dvPad, vBase + <usize>k0 * vRowBytes, vRowBytes, cols, headDimV);
    const full = blockFullyVisible(q0, q1, k0, k1, seqlenQ, seqlenK, windowLeft, windowRight);
    const mode = firstTile ? MODE_SET : MODE_SCALE_ADD;
    if (full) {
      // Sᵀ = K · Qᵀ, already in base-2 units
      gemm(cols, lanes, headDim, kTile, <usize>dPad << 2, 4, qt, rowBytes, st, rowBytes, MODE_SET, 0);
      softmaxTile(job, st, rowBytes, cols, lanes, q0, k0, seqlenQ, seqlenK, b, h, true, mRow, lRow, alphaRow);
      // O = diag(alpha) · O + P · V, reading P out of the transposed tile.
      gemm(rows, dvPad, cols, st, 4, rowBytes, vTile, oRowBytes, o, oRowBytes, mode, alphaRow);
    } else {
      // A tile on the diagonal or a window edge: compute only the lanes of each 4 keys that some query sees
      // (the softmax masks the rest), and give each 4 queries only the keys they see.
      for (let j = 0; j < cols; j += 4) {
        const keys = min(4, cols - j);
        queriesSeeing(q0, lanes, k0 + j, k0 + j + keys, seqlenQ, seqlenK, windowLeft, windowRight);
        const lo = rangeLo & ~3;
        const hi = min(roundUp4(rangeHi), lanes);
        if (hi <= lo) continue;
        const at = (<usize>j * rowBytes) + (<usize>lo << 2);
        gemm(
          keys,
          hi - lo,
          headDim,
          kTile + ((<usize>j * dPad) << 2),
          <usize>dPad << 2,
          4,
          qt + (<usize>lo << 2),
          rowBytes,
          st + at,
          rowBytes,
          MODE_SET,
          0,
        );
      }
      softmaxTile(job, st, rowBytes, cols, lanes, q0, k0, seqlenQ, seqlenK, b, h, false, mRow, lRow, alphaRow);
      for (let i = 0; i < rows; i += 4) {
        const queries = min(4, rows - i);
        keysSeenBy(q0 + i, q0 + i + queries, k0, cols, seqlenQ, seqlenK, windowLeft, windowRight);
        const lo = rangeLo;
        gemm(
          queries,
          dvPad,
          rangeHi - lo,
          st + <usize>lo * rowBytes + (<usize>i << 2),
          4,
          rowBytes,
          vTile + ((<usize>lo * dvPad) << 2),
          oRowBytes,
          o + <usize>i * oRowBytes,
          oRowBytes,
          mode,
          alphaRow + (<usize>i << 2),
        );
      }
    }
    firstTile = false;
  }

  const outRowBytes = (<usize>numHeads * headDimV) << 2;
  const outTile = job.out + (((<usize>(qStart + q0) * numHeads + h) * headDimV) << 2);
  const lseRow = job.lse + ((<usize>h * job.totalQ + qStart + q0) << 2);
  for (let i = 0; i < rows; i++) {
    const l = load<f32>(lRow + (<usize>i << 2));
    const oRow = o + <usize>i * oRowBytes;
    const outRow = outTile + <usize>i * outRowBytes;
    if (l != 0 && !firstTile) {
      // NaN takes this branch on purpose, so that it reaches the output.
      const inv = f32x4.splat(job.keepScale / l);
      for (let d = 0; d < dvPad; d += 4) {
        v128.store(oRow + (<usize>d << 2), f32x4.mul(v128.load(oRow + (<usize>d << 2)), inv));
      }
      const m = <f64>load<f32>(mRow + (<usize>i << 2));
      const lnL = l > 0 && l < Infinity ? lnPositive(<f64>l) : NaN;
      store<f32>(lseRow + (<usize>i << 2), <f32>(m * LN2 + lnL));
    } else {
      // No visible key: output 0 and lse +inf, as the reference defines.
      memory.fill(oRow, 0, oRowBytes);
      store<f32>(lseRow + (<usize>i << 2), Infinity);
    }
  }
  writeRows(outTile, outRowBytes, o, oRowBytes, rows, headDimV);
}
