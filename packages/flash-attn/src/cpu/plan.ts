import { type AttnProblem, visibleKeySpan } from '@fa/core';

/**
 * Work items, four int32 each: (sequence, query head, first query row, end query row), sorted longest first so
 * that dynamic scheduling ends with short items and the threads finish together. Every output element belongs
 * to exactly one item, so the partition, not the schedule, fixes the summation order.
 */
export interface WorkList {
  readonly items: Int32Array;
  readonly count: number;
  /** Estimated multiply-adds of the whole list, to decide whether threads are worth waking. */
  readonly cost: number;
}

export const ITEM_INTS = 4;

// Per-row work outside the matrix products (packing, softmax bookkeeping, output), in multiply-add units.
const ROW_OVERHEAD = 8;

function sortedList(entries: { b: number; h: number; q0: number; q1: number; cost: number }[]): WorkList {
  // Array.prototype.sort is stable, so equal costs keep their natural order and the list is reproducible.
  entries.sort((x, y) => y.cost - x.cost);
  const items = new Int32Array(entries.length * ITEM_INTS);
  let cost = 0;
  entries.forEach((e, i) => {
    items.set([e.b, e.h, e.q0, e.q1], i * ITEM_INTS);
    cost += e.cost;
  });
  return { items, count: entries.length, cost };
}

function seqlens(problem: AttnProblem, b: number): { seqlenQ: number; seqlenK: number } {
  const { cuSeqlensQ, cuSeqlensK } = problem;
  return {
    seqlenQ: (cuSeqlensQ[b + 1] as number) - (cuSeqlensQ[b] as number),
    seqlenK: (cuSeqlensK[b + 1] as number) - (cuSeqlensK[b] as number),
  };
}

/** Visible (query, key) pairs of the query rows [q0, q1), counted by tile span as the kernels do. */
function spanPairs(problem: AttnProblem, q0: number, q1: number, seqlenQ: number, seqlenK: number): number {
  const span = visibleKeySpan(q0, q1, seqlenQ, seqlenK, problem.windowLeft, problem.windowRight);
  return (q1 - q0) * Math.max(0, span.end - span.first);
}

/** Forward items: one query tile of one head of one sequence. */
export function forwardWork(problem: AttnProblem, blockQ: number): WorkList {
  const entries: { b: number; h: number; q0: number; q1: number; cost: number }[] = [];
  const width = problem.headDim + problem.headDimV;
  for (let b = 0; b < problem.batch; b++) {
    const { seqlenQ, seqlenK } = seqlens(problem, b);
    for (let q0 = 0; q0 < seqlenQ; q0 += blockQ) {
      const q1 = Math.min(q0 + blockQ, seqlenQ);
      const cost = (spanPairs(problem, q0, q1, seqlenQ, seqlenK) + (q1 - q0) * ROW_OVERHEAD) * width;
      for (let h = 0; h < problem.numHeads; h++) entries.push({ b, h, q0, q1, cost });
    }
  }
  return sortedList(entries);
}

/**
 * Backward items: one head of one sequence, all its rows. The item owns dQ of its rows outright and its own
 * slice of dK and dV (per query head when heads share keys, summed later in a fixed order).
 */
export function backwardWork(problem: AttnProblem, blockQ: number): WorkList {
  const entries: { b: number; h: number; q0: number; q1: number; cost: number }[] = [];
  // Five products per visible pair: S, dP, dV, dK, dQ.
  const width = 2.5 * (problem.headDim + problem.headDimV);
  for (let b = 0; b < problem.batch; b++) {
    const { seqlenQ, seqlenK } = seqlens(problem, b);
    if (seqlenQ === 0 && seqlenK === 0) continue;
    let pairs = 0;
    for (let q0 = 0; q0 < seqlenQ; q0 += blockQ) {
      pairs += spanPairs(problem, q0, Math.min(q0 + blockQ, seqlenQ), seqlenQ, seqlenK);
    }
    const cost = (pairs + (seqlenQ + seqlenK) * ROW_OVERHEAD) * width;
    for (let h = 0; h < problem.numHeads; h++) entries.push({ b, h, q0: 0, q1: seqlenQ, cost });
  }
  return sortedList(entries);
}
