// FlashAttention-2 backward for one work item: one head of one sequence. Key tiles run outermost so that dK and
// dV of a tile accumulate in scratch and are written once; the query tiles that see the key tile run inside,
// recomputing P from lse. dQ accumulates in a per-thread scratch for the whole sequence, so the item owns every
// value it writes and no two threads ever add into the same float: results do not depend on scheduling.
// Scores are in natural orientation here (one row per query), with Kᵀ and Vᵀ packed once per key tile, and
// the item's Q and dO rows packed contiguously once per item.

import { gemm, MODE_ADD, MODE_SET } from './gemm';
import { Job } from './job';
import { blockFullyVisible, keySpan, keysSeenBy, queriesSeeing, rangeHi, rangeLo, spanEnd, spanFirst } from './mask';
import { packRows, packTransposed, writeRows, zeroRows } from './pack';
import { philox4, philoxX0, philoxX1, philoxX2, philoxX3 } from './philox';
import { exp2v, LOG2E, tanhv } from './vmath';

const NEG_INF: f32 = -Infinity;

@inline
function roundUp4(x: i32): i32 {
  return (x + 3) & ~3;
}

@inline
function roundUp16(x: i32): i32 {
  return (x + 15) & ~15;
}

/**
 * Per-thread scratch of a backward item: Kᵀ, Vᵀ, K, the P and dS tiles, dK and dV of one key tile, four
 * keep-mask vectors; then, for the longest sequence, D_i, packed Q and dO, and the dQ accumulator.
 */
export function backwardScratchBytes(headDim: i32, headDimV: i32, blockQ: i32, blockK: i32, maxSeqlenQ: i32): usize {
  const dPad = <usize>roundUp4(headDim);
  const dvPad = <usize>roundUp4(headDimV);
  const tiles =
    <usize>headDim * blockK +
    <usize>headDimV * blockK +
    <usize>blockK * dPad +
    2 * <usize>blockQ * blockK +
    <usize>blockK * (dPad + dvPad) +
    16;
  const rows = <usize>maxSeqlenQ;
  return (tiles + <usize>roundUp4(maxSeqlenQ) + rows * (2 * dPad + dvPad)) << 2;
}

/**
 * Turns the tiles S = Q·Kᵀ (in `pTile`) and dP = dO·Vᵀ (in `dsTile`) of one query tile into the dropped,
 * rescaled probabilities (for dV) and into dS · scale (for dQ and dK), in place.
 */
function gradScores(
  job: Job,
  pTile: usize,
  dsTile: usize,
  rowBytes: usize,
  rows: i32,
  colsPad: i32,
  q0: i32,
  k0: i32,
  qStart: i32,
  seqlenQ: i32,
  seqlenK: i32,
  b: i32,
  h: i32,
  full: bool,
  di: usize,
  keepBuf: usize,
): void {
  const scale = job.scale;
  const softcap = job.softcap;
  const alibi = job.alibiSlopes;
  const windowLeft = job.windowLeft;
  const windowRight = job.windowRight;
  const dropout = job.dropout != 0;
  const scaleV = f32x4.splat(scale);
  const capV = f32x4.splat(softcap);
  const invCapV = f32x4.splat(softcap == 0 ? 0 : 1.0 / softcap);
  const slopeV = f32x4.splat(alibi == 0 ? 0 : load<f32>(alibi + (<usize>h << 2)));
  const log2eV = f32x4.splat(LOG2E);
  const negInf = f32x4.splat(NEG_INF);
  const one = f32x4.splat(1.0);
  const keepScaleV = f32x4.splat(job.keepScale);
  const leftV = i32x4.splat(windowLeft);
  const negRightV = i32x4.splat(-windowRight);
  const threshold = i32x4.splat(job.dropoutThreshold);
  const headV = i32x4.splat(h);
  const batchV = i32x4.splat(b);
  const lanes = i32x4(0, 1, 2, 3);
  const lseBase = job.lse + ((<usize>h * job.totalQ + qStart) << 2);

  for (let i = 0; i < rows; i++) {
    const query = q0 + i;
    const lse2 = f32x4.splat(load<f32>(lseBase + (<usize>query << 2)) * LOG2E);
    const dRow = f32x4.splat(load<f32>(di + (<usize>query << 2)));
    const pRow = pTile + <usize>i * rowBytes;
    const dsRow = dsTile + <usize>i * rowBytes;
    const diag0 = i32x4.sub(i32x4.splat(query + seqlenK - seqlenQ - k0), lanes);
    const queryV = i32x4.splat(query);
    for (let j = 0; j < colsPad; j += 4) {
      const at = <usize>j << 2;
      let s = f32x4.mul(v128.load(pRow + at), scaleV);
      let capGrad = one;
      if (softcap != 0) {
        const t = tanhv(f32x4.mul(s, invCapV));
        s = f32x4.mul(capV, t);
        capGrad = f32x4.sub(one, f32x4.mul(t, t));
      }
      const diag = i32x4.sub(diag0, i32x4.splat(j));
      if (alibi != 0) s = f32x4.sub(s, f32x4.mul(slopeV, f32x4.abs(f32x4.convert_i32x4_s(diag))));
      let x = f32x4.mul(s, log2eV);
      let visible = i32x4.splat(-1);
      if (!full) {
        if (windowLeft >= 0) visible = v128.and(visible, i32x4.le_s(diag, leftV));
        if (windowRight >= 0) visible = v128.and(visible, i32x4.ge_s(diag, negRightV));
        x = v128.bitselect(x, negInf, visible);
      }
      const p = exp2v(f32x4.sub(x, lse2));
      let dp = v128.load(dsRow + at);
      let pKept = p;
      if (dropout) {
        if ((j & 15) == 0) {
          // Lanes are four consecutive groups of four keys; transposing gives one vector of words per group.
          const groups = i32x4.add(i32x4.splat((k0 + j) >>> 2), lanes);
          philox4(groups, queryV, headV, batchV, job.seedLo, job.seedHi);
          const t0 = i32x4.shuffle(philoxX0, philoxX1, 0, 4, 1, 5);
          const t1 = i32x4.shuffle(philoxX2, philoxX3, 0, 4, 1, 5);
          const t2 = i32x4.shuffle(philoxX0, philoxX1, 2, 6, 3, 7);
          const t3 = i32x4.shuffle(philoxX2, philoxX3, 2, 6, 3, 7);
          v128.store(keepBuf, i32x4.ge_u(i32x4.shuffle(t0, t1, 0, 1, 4, 5), threshold));
          v128.store(keepBuf, i32x4.ge_u(i32x4.shuffle(t0, t1, 2, 3, 6, 7), threshold), 16);
          v128.store(keepBuf, i32x4.ge_u(i32x4.shuffle(t2, t3, 0, 1, 4, 5), threshold), 32);
          v128.store(keepBuf, i32x4.ge_u(i32x4.shuffle(t2, t3, 2, 3, 6, 7), threshold), 48);
        }
        const keep = v128.load(keepBuf + (<usize>(j & 15) << 2));
        pKept = v128.and(f32x4.mul(p, keepScaleV), keep);
        dp = v128.and(f32x4.mul(dp, keepScaleV), keep);
      }
      let ds = f32x4.mul(p, f32x4.sub(dp, dRow));
      if (softcap != 0) ds = f32x4.mul(ds, capGrad);
      ds = f32x4.mul(ds, scaleV);
      // Masked parts of a partly visible tile may hold stale dP (the products skip them): zero, not 0 · stale.
      if (!full) ds = v128.and(ds, visible);
      v128.store(pRow + at, pKept);
      v128.store(dsRow + at, ds);
    }
  }
}

export function backwardItem(job: Job, b: i32, h: i32, scratch: usize): void {
  const numHeads = job.numHeads;
  const numHeadsK = job.numHeadsK;
  const headDim = job.headDim;
  const headDimV = job.headDimV;
  const blockQ = job.blockQ;
  const blockK = job.blockK;
  const windowLeft = job.windowLeft;
  const windowRight = job.windowRight;
  const dropout = job.dropout != 0;
  const qStart = load<i32>(job.cuSeqlensQ + (<usize>b << 2));
  const seqlenQ = load<i32>(job.cuSeqlensQ + (<usize>(b + 1) << 2)) - qStart;
  const kStart = load<i32>(job.cuSeqlensK + (<usize>b << 2));
  const seqlenK = load<i32>(job.cuSeqlensK + (<usize>(b + 1) << 2)) - kStart;
  const kvHead = h / (numHeads / numHeadsK);
  const gradHead = job.gradHeadsK == numHeadsK ? kvHead : h;
  const dPad = roundUp4(headDim);
  const dvPad = roundUp4(headDimV);
  const tileRowBytes = <usize>blockK << 2;

  const kt = scratch;
  const vt = kt + <usize>headDim * tileRowBytes;
  const kTile = vt + <usize>headDimV * tileRowBytes;
  const pTile = kTile + ((<usize>blockK * dPad) << 2);
  const dsTile = pTile + <usize>blockQ * tileRowBytes;
  const dkAcc = dsTile + <usize>blockQ * tileRowBytes;
  const dvAcc = dkAcc + ((<usize>blockK * dPad) << 2);
  const keepBuf = dvAcc + ((<usize>blockK * dvPad) << 2);
  const di = keepBuf + 64;
  const qPack = di + (<usize>roundUp4(job.maxSeqlenQ) << 2);
  const doPack = qPack + ((<usize>job.maxSeqlenQ * dPad) << 2);
  const dqAcc = doPack + ((<usize>job.maxSeqlenQ * dvPad) << 2);

  const qRowBytes = (<usize>numHeads * headDim) << 2;
  const oRowBytes = (<usize>numHeads * headDimV) << 2;
  const kRowBytes = (<usize>numHeadsK * headDim) << 2;
  const vRowBytes = (<usize>numHeadsK * headDimV) << 2;
  const qBase = job.q + (((<usize>qStart * numHeads + h) * headDim) << 2);
  const doBase = job.dout + (((<usize>qStart * numHeads + h) * headDimV) << 2);
  const oBase = job.out + (((<usize>qStart * numHeads + h) * headDimV) << 2);
  const kBase = job.k + (((<usize>kStart * numHeadsK + kvHead) * headDim) << 2);
  const vBase = job.v + (((<usize>kStart * numHeadsK + kvHead) * headDimV) << 2);
  const qPackBytes = <usize>dPad << 2;
  const doPackBytes = <usize>dvPad << 2;

  packRows(qPack, dPad, qBase, qRowBytes, seqlenQ, headDim);
  packRows(doPack, dvPad, doBase, oRowBytes, seqlenQ, headDimV);
  // D_i = rowsum(dO ∘ O), FlashAttention-2's preprocessing, done per item since each item owns its rows.
  for (let i = 0; i < seqlenQ; i++) {
    const dRow = doPack + <usize>i * doPackBytes;
    const oRow = oBase + <usize>i * oRowBytes;
    let acc = f32x4.splat(0);
    let d = 0;
    for (; d + 4 <= headDimV; d += 4) {
      acc = f32x4.add(acc, f32x4.mul(v128.load(dRow + (<usize>d << 2)), v128.load(oRow + (<usize>d << 2))));
    }
    let sum = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1);
    sum += f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; d < headDimV; d++) sum += load<f32>(dRow + (<usize>d << 2)) * load<f32>(oRow + (<usize>d << 2));
    store<f32>(di + (<usize>i << 2), sum);
  }
  memory.fill(dqAcc, 0, <usize>seqlenQ * qPackBytes);

  const gradHeads = job.gradHeadsK;
  const dkRowBytes = (<usize>gradHeads * headDim) << 2;
  const dvRowBytes = (<usize>gradHeads * headDimV) << 2;
  const dkBase = job.dk + (((<usize>kStart * gradHeads + gradHead) * headDim) << 2);
  const dvBase = job.dv + (((<usize>kStart * gradHeads + gradHead) * headDimV) << 2);

  for (let k0 = 0; k0 < seqlenK; k0 += blockK) {
    const k1 = min(k0 + blockK, seqlenK);
    const cols = k1 - k0;
    const colsPad = dropout ? roundUp16(cols) : roundUp4(cols);
    const kRows = kBase + <usize>k0 * kRowBytes;
    let packed = false;
    for (let q0 = 0; q0 < seqlenQ; q0 += blockQ) {
      const q1 = min(q0 + blockQ, seqlenQ);
      keySpan(q0, q1, seqlenQ, seqlenK, windowLeft, windowRight);
      if (spanFirst >= k1 || spanEnd <= k0) continue;
      if (!packed) {
        packTransposed(kt, tileRowBytes, kRows, kRowBytes, cols, colsPad, headDim, 1.0);
        packTransposed(vt, tileRowBytes, vBase + <usize>k0 * vRowBytes, vRowBytes, cols, colsPad, headDimV, 1.0);
        packRows(kTile, dPad, kRows, kRowBytes, cols, headDim);
        memory.fill(dkAcc, 0, (<usize>blockK * dPad) << 2);
        memory.fill(dvAcc, 0, (<usize>blockK * dvPad) << 2);
        packed = true;
      }
      const rows = q1 - q0;
      const qTile = qPack + <usize>q0 * qPackBytes;
      const doTile = doPack + <usize>q0 * doPackBytes;
      const full = blockFullyVisible(q0, q1, k0, k1, seqlenQ, seqlenK, windowLeft, windowRight);
      if (full) {
        // S = Q · Kᵀ and dP = dO · Vᵀ
        gemm(rows, colsPad, headDim, qTile, qPackBytes, 4, kt, tileRowBytes, pTile, tileRowBytes, MODE_SET, 0);
        gemm(rows, colsPad, headDimV, doTile, doPackBytes, 4, vt, tileRowBytes, dsTile, tileRowBytes, MODE_SET, 0);
        gradScores(
          job,
          pTile,
          dsTile,
          tileRowBytes,
          rows,
          colsPad,
          q0,
          k0,
          qStart,
          seqlenQ,
          seqlenK,
          b,
          h,
          true,
          di,
          keepBuf,
        );
        // dV += Pᵀ · dO, dK += dSᵀ · Q, dQ += dS · K
        gemm(cols, dvPad, rows, pTile, 4, tileRowBytes, doTile, doPackBytes, dvAcc, doPackBytes, MODE_ADD, 0);
        gemm(cols, dPad, rows, dsTile, 4, tileRowBytes, qTile, qPackBytes, dkAcc, qPackBytes, MODE_ADD, 0);
        gemm(
          rows,
          dPad,
          cols,
          dsTile,
          tileRowBytes,
          4,
          kTile,
          qPackBytes,
          dqAcc + <usize>q0 * qPackBytes,
          qPackBytes,
          MODE_ADD,
          0,
        );
        continue;
      }
      // A tile on the diagonal or a window edge: each product only covers the scores that are visible.
      for (let i = 0; i < rows; i += 4) {
        const queries = min(4, rows - i);
        keysSeenBy(q0 + i, q0 + i + queries, k0, cols, seqlenQ, seqlenK, windowLeft, windowRight);
        const lo = rangeLo & ~3;
        const hi = min(roundUp4(rangeHi), colsPad);
        if (hi <= lo) continue;
        const at = <usize>i * tileRowBytes + (<usize>lo << 2);
        gemm(
          queries,
          hi - lo,
          headDim,
          qTile + <usize>i * qPackBytes,
          qPackBytes,
          4,
          kt + (<usize>lo << 2),
          tileRowBytes,
          pTile + at,
          tileRowBytes,
          MODE_SET,
          0,
        );
        gemm(
          queries,
          hi - lo,
          headDimV,
          doTile + <usize>i * doPackBytes,
          doPackBytes,
          4,
          vt + (<usize>lo << 2),
          tileRowBytes,
          dsTile + at,
          tileRowBytes,
          MODE_SET,
          0,
        );
      }
      gradScores(
        job,
        pTile,
        dsTile,
        tileRowBytes,
        rows,
        colsPad,
        q0,
        k0,
        qStart,
        seqlenQ,
        seqlenK,
        b,
        h,
        false,
        di,
        keepBuf,
      );
      for (let j = 0; j < cols; j += 4) {
        const keys = min(4, cols - j);
        queriesSeeing(q0, rows, k0 + j, k0 + j + keys, seqlenQ, seqlenK, windowLeft, windowRight);
        const lo = rangeLo;
        const count = rangeHi - lo;
        const at = <usize>lo * tileRowBytes + (<usize>j << 2);
        gemm(
          keys,
          dvPad,
          count,
          pTile + at,
          4,
          tileRowBytes,
          doTile + <usize>lo * doPackBytes,
          doPackBytes,
          dvAcc + <usize>j * doPackBytes,
          doPackBytes,
          MODE_ADD,
          0,
        );
        gemm(
          keys,
          dPad,
          count,
          dsTile + at,
          4,
          tileRowBytes,
          qTile + <usize>lo * qPackBytes,
          qPackBytes,
          dkAcc + <usize>j * qPackBytes,
          qPackBytes,
          MODE_ADD,
          0,
        );
      }
      for (let i = 0; i < rows; i += 4) {
        const queries = min(4, rows - i);
        keysSeenBy(q0 + i, q0 + i + queries, k0, cols, seqlenQ, seqlenK, windowLeft, windowRight);
        const lo = rangeLo;
        gemm(
          queries,
          dPad,
          rangeHi - lo,
          dsTile + <usize>i * tileRowBytes + (<usize>lo << 2),
          tileRowBytes,
          4,
          kTile + <usize>lo * qPackBytes,
          qPackBytes,
          dqAcc + <usize>(q0 + i) * qPackBytes,
          qPackBytes,
          MODE_ADD,
          0,
        );
      }
    }
    const dkTile = dkBase + <usize>k0 * dkRowBytes;
    const dvTile = dvBase + <usize>k0 * dvRowBytes;
    if (packed) {
      writeRows(dkTile, dkRowBytes, dkAcc, qPackBytes, cols, headDim);
      writeRows(dvTile, dvRowBytes, dvAcc, doPackBytes, cols, headDimV);
    } else {
      zeroRows(dkTile, dkRowBytes, cols, headDim);
      zeroRows(dvTile, dvRowBytes, cols, headDimV);
    }
  }
  const dqBase = job.dq + (((<usize>qStart * numHeads + h) * headDim) << 2);
  writeRows(dqBase, qRowBytes, dqAcc, qPackBytes, seqlenQ, headDim);
}
