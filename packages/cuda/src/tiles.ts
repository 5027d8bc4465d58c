import { type AttnProblem, visibleKeySpan } from '@fa/core';
import { checkProblem, checkTileExtent } from './options.js';

/**
 * Work lists, built on the host from cu_seqlens: one `(sequence, first row)` (or `first key`) pair per real tile,
 * so a skewed batch launches no block for the padding a `ceil(maxLen / tile) × batch` grid would hold. Every tile
 * is listed, even one whose rows see no key (the forward must still write its `lse = +inf`, the gradients their
 * zeros); the kernels find each tile's visible range themselves with the same rules (csrc/block_info.h).
 * Longest work first, so long tiles start early and short ones fill the tail; the sort is stable, so the list —
 * and with it the block order — is the same every run.
 */
type MaskProblem = Pick<AttnProblem, 'batch' | 'cuSeqlensQ' | 'cuSeqlensK' | 'windowLeft' | 'windowRight'>;

function lengths(problem: MaskProblem, b: number): { lq: number; lk: number } {
  return {
    lq: (problem.cuSeqlensQ[b + 1] as number) - (problem.cuSeqlensQ[b] as number),
    lk: (problem.cuSeqlensK[b + 1] as number) - (problem.cuSeqlensK[b] as number),
  };
}

/** Query rows `[first, end)` that see a key of `[col0, col1)`; mirrors `visible_row_span` in csrc/block_info.h. */
export function visibleRowSpan(
  col0: number,
  col1: number,
  lq: number,
  lk: number,
  left: number,
  right: number,
): { first: number; end: number } {
  if (col1 <= col0 || lq === 0 || lk === 0) return { first: 0, end: 0 };
  const offset = lk - lq;
  const first = right < 0 ? 0 : Math.max(0, col0 - offset - right);
  const end = left < 0 ? lq : Math.min(lq, col1 - 1 - offset + left + 1);
  return end > first ? { first, end } : { first: 0, end: 0 };
}

function pack(entries: { b: number; start: number; cost: number }[]): Int32Array {
  entries.sort((x, y) => y.cost - x.cost);
  const list = new Int32Array(entries.length * 2);
  entries.forEach((e, t) => {
    list[2 * t] = e.b;
    list[2 * t + 1] = e.start;
  });
  return list;
}

/** Query tiles of `rows` rows: the forward's and the dQ kernel's work. Cost: visible keys × rows (core's `visibleKeySpan`, which `visible_key_span` in csrc/block_info.h mirrors). */
export function queryWorkList(problem: MaskProblem, rows: number): Int32Array {
  checkProblem(problem);
  checkTileExtent(rows, 'rows');
  const entries: { b: number; start: number; cost: number }[] = [];
  for (let b = 0; b < problem.batch; b++) {
    const { lq, lk } = lengths(problem, b);
    for (let row0 = 0; row0 < lq; row0 += rows) {
      const row1 = Math.min(lq, row0 + rows);
      const span = visibleKeySpan(row0, row1, lq, lk, problem.windowLeft, problem.windowRight);
      entries.push({ b, start: row0, cost: (span.end - span.first) * (row1 - row0) });
    }
  }
  return pack(entries);
}

/** Key tiles of `keys` keys: the dK/dV kernel's work. Cost: visible query rows × keys. */
export function keyWorkList(problem: MaskProblem, keys: number): Int32Array {
  checkProblem(problem);
  checkTileExtent(keys, 'keys');
  const entries: { b: number; start: number; cost: number }[] = [];
  for (let b = 0; b < problem.batch; b++) {
    const { lq, lk } = lengths(problem, b);
    for (let col0 = 0; col0 < lk; col0 += keys) {
      const col1 = Math.min(lk, col0 + keys);
      const span = visibleRowSpan(col0, col1, lq, lk, problem.windowLeft, problem.windowRight);
      entries.push({ b, start: col0, cost: (span.end - span.first) * (col1 - col0) });
    }
  }
  return pack(entries);
}
