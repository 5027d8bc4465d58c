import { type FloatDType, referenceAttnBackward, referenceAttnForward } from '@fa/core';
import type { Random } from '@fa/testkit';
import type { AttnInputs, Batch, Storage } from './workload.js';

/**
 * The accuracy check: a sample of sequences and heads is recomputed by `@fa/core`'s float64 reference and
 * compared with what a backend returned for the whole batch.
 *
 * The reference costs O(L²) per sequence and head in float64 JavaScript, far slower than any kernel, so it only
 * ever sees a small sub-problem. Two facts keep that sub-problem exact:
 * - Attention rows are independent given all keys: `out`, `lse` and `dq` of any set of query rows come out
 *   exactly when only those rows are queries (and all of the sequence's keys are keys).
 * - Under a causal mask a key j only receives gradient from rows i ≥ j. So when the checked rows are a suffix
 *   [r0, L) of the sequence, `dk`/`dv` of the keys in that same suffix are complete; without a mask they are
 *   complete only when every row is checked (r0 = 0).
 * A long sequence is therefore checked on its last rows (against all its keys), so that the check covers long
 * sequences, where a tiled kernel has the most to get wrong, at a cost the budget controls.
 */

export type Quantity = 'out' | 'lse' | 'dq' | 'dk' | 'dv';
export const QUANTITIES: readonly Quantity[] = ['out', 'lse', 'dq', 'dk', 'dv'];

/** One checked piece: rows [rowStart, length) of sequence `seq`, all of its keys. */
export interface Slice {
  readonly seq: number;
  readonly length: number;
  readonly rowStart: number;
  /** Keys whose dk/dv the slice computes completely: [gradKeyStart, length), empty when equal to length. */
  readonly gradKeyStart: number;
}

export interface CheckPlan {
  readonly slices: readonly Slice[];
  readonly heads: readonly number[];
  readonly causal: boolean;
  /** Query–key pairs the reference evaluates per head. */
  readonly pairs: number;
}

export interface CheckPlanOptions {
  /** Sequences to check at most; the longest, shortest and a median one come first, then random ones. */
  readonly sequences: number;
  readonly heads: number;
  /** Budget in (visible query–key pairs) × heads for the reference. */
  readonly budget: number;
  readonly causal: boolean;
}

function visiblePairs(rows: number, length: number, causal: boolean): number {
  // The last `rows` rows of a causal sequence of length L see L - rows + 1 … L keys.
  return causal ? rows * length - (rows * (rows - 1)) / 2 : rows * length;
}

/** Chooses which sequences, rows and heads the reference recomputes, within the budget. */
export function planCheck(batch: Batch, numHeads: number, rng: Random, options: CheckPlanOptions): CheckPlan {
  const heads = sampleHeads(numHeads, options.heads);
  const order = batch.lengths.map((length, seq) => ({ seq, length })).filter((s) => s.length > 0);
  const byLength = [...order].sort((a, b) => b.length - a.length || a.seq - b.seq);
  const priority: number[] = [];
  const push = (seq: number | undefined) => {
    if (seq !== undefined && !priority.includes(seq)) priority.push(seq);
  };
  push(byLength[0]?.seq);
  push(byLength[byLength.length - 1]?.seq);
  push(byLength[Math.floor(byLength.length / 2)]?.seq);
  const rest = order.map((s) => s.seq).filter((s) => !priority.includes(s));
  while (rest.length > 0) push(rest.splice(Math.floor(rng.next() * rest.length), 1)[0]);

  const chosen = priority.slice(0, options.sequences);
  const perHeadBudget = options.budget / Math.max(1, heads.length);
  let left = perHeadBudget;
  const slices: Slice[] = [];
  // Cheapest first so that the short sequences are always checked in full, and the longest gets what is left
  // (at least a few rows: a check that skips the longest sequence would miss what matters most).
  const byCost = [...chosen].sort((a, b) => (batch.lengths[a] as number) - (batch.lengths[b] as number));
  byCost.forEach((seq, i) => {
    const length = batch.lengths[seq] as number;
    const share = left / (byCost.length - i);
    let rows = length;
    // Without a mask only a complete sequence yields dk/dv, so the cheapest one is checked whole unless that
    // would blow the budget several times over.
    const whole = !options.causal && i === 0 && visiblePairs(length, length, false) <= 4 * perHeadBudget;
    while (!whole && rows > 1 && visiblePairs(rows, length, options.causal) > share) rows = Math.ceil(rows / 2);
    rows = Math.max(rows, Math.min(length, 16));
    const rowStart = length - rows;
    left -= visiblePairs(rows, length, options.causal);
    slices.push({ seq, length, rowStart, gradKeyStart: options.causal || rowStart === 0 ? rowStart : length });
  });
  slices.sort((a, b) => a.seq - b.seq);
  const pairs = slices.reduce((sum, s) => sum + visiblePairs(s.length - s.rowStart, s.length, options.causal), 0);
  return { slices, heads, causal: options.causal, pairs };
}

function sampleHeads(numHeads: number, count: number): number[] {
  // First and last head: the ends of the head axis are where an indexing slip shows first.
  if (count >= numHeads) return Array.from({ length: numHeads }, (_, h) => h);
  if (count <= 1) return [0];
  const heads = new Set<number>();
  for (let i = 0; i < count; i++) heads.add(Math.round((i * (numHeads - 1)) / (count - 1)));
  return [...heads].sort((a, b) => a - b);
}

/**
 * Where the values of (sequence b, row i) live in a result tensor. Packed results are `(total, H, D)` with lse
 * `(H, total)`; padded ones `(B, S, H, D)` with lse `(B, H, S)`.
 */
export interface ResultLayout {
  readonly numHeads: number;
  token(seq: number, row: number): number;
  lse(seq: number, head: number, row: number): number;
}

export function packedLayout(batch: Batch, numHeads: number): ResultLayout {
  const cu = batch.cuSeqlens;
  return {
    numHeads,
    token: (seq, row) => (cu[seq] as number) + row,
    lse: (seq, head, row) => head * batch.tokens + (cu[seq] as number) + row,
  };
}

export function paddedLayout(seqlen: number, numHeads: number): ResultLayout {
  return {
    numHeads,
    token: (seq, row) => seq * seqlen + row,
    lse: (seq, head, row) => (seq * numHeads + head) * seqlen + row,
  };
}

/** Results of a backend as float32 values (f16/bf16 decoded); any subset may be present. */
export type Results = Partial<Record<Quantity, Float32Array>>;

export interface QuantityCheck {
  readonly quantity: Quantity;
  readonly maxError: number;
  readonly tolerance: number;
  readonly pass: boolean;
}

export interface CheckResult {
  readonly quantities: QuantityCheck[];
  /** Quantities the results had but the sample could not check (no complete dk/dv rows without a mask). */
  readonly unchecked: Quantity[];
  readonly pass: boolean;
  readonly rule: string;
}

/** The reference's answer for a plan, laid out per slice. */
export interface ReferenceAnswer {
  readonly plan: CheckPlan;
  readonly headDim: number;
  /** Float64 reference, and for f16/bf16 the same-precision reference that sets the tolerance. */
  readonly exact: Record<Quantity, Float64Array>;
  readonly samePrecision: Record<Quantity, Float64Array> | null;
  readonly dtype: FloatDType;
  /** Offsets of each slice's rows in the reference's query axis and keys in its key axis. */
  readonly rowOffsets: readonly number[];
  readonly keyOffsets: readonly number[];
  readonly totalRows: number;
}

function gather(
  source: Storage,
  numHeads: number,
  dim: number,
  plan: CheckPlan,
  pick: (slice: Slice) => [number, number],
  tokenOf: (seq: number, row: number) => number,
): Storage {
  const count = plan.slices.reduce((sum, s) => sum + pick(s)[1] - pick(s)[0], 0);
  const out = new (source.constructor as new (n: number) => Storage)(count * plan.heads.length * dim);
  let at = 0;
  for (const slice of plan.slices) {
    const [from, to] = pick(slice);
    for (let row = from; row < to; row++) {
      const token = tokenOf(slice.seq, row);
      for (const h of plan.heads) {
        const base = (token * numHeads + h) * dim;
        out.set(source.subarray(base, base + dim), at);
        at += dim;
      }
    }
  }
  return out;
}

/** Runs the reference on the plan's sub-problem (forward only when `backward` is false). */
export function computeReference(
  inputs: AttnInputs,
  batch: Batch,
  plan: CheckPlan,
  backward: boolean,
  softmaxScale?: number,
): ReferenceAnswer {
  const [, numHeads, headDim] = inputs.shape;
  const layout = packedLayout(batch, numHeads);
  const rows = (s: Slice): [number, number] => [s.rowStart, s.length];
  const keys = (s: Slice): [number, number] => [0, s.length];
  const nh = plan.heads.length;
  const tensor = (data: Storage, pick: (s: Slice) => [number, number]) => {
    const sub = gather(data, numHeads, headDim, plan, pick, layout.token);
    return { data: sub, shape: [sub.length / (nh * headDim), nh, headDim], dtype: inputs.dtype } as const;
  };
  const q = tensor(inputs.q, rows);
  const k = tensor(inputs.k, keys);
  const v = tensor(inputs.v, keys);
  const cuQ = Int32Array.from([0, ...cumulative(plan.slices.map((s) => s.length - s.rowStart))]);
  const cuK = Int32Array.from([0, ...cumulative(plan.slices.map((s) => s.length))]);
  const options = {
    cuSeqlensQ: cuQ,
    cuSeqlensK: cuK,
    causal: plan.causal,
    softmaxScale: softmaxScale ?? 1 / Math.sqrt(headDim),
  };

  const run = (precision: 'f64' | FloatDType): Record<Quantity, Float64Array> => {
    if (backward) {
      const dout = tensor(inputs.dout, rows);
      const r = referenceAttnBackward(dout, q, k, v, options, { precision });
      return { out: r.out, lse: r.lse, dq: r.dq, dk: r.dk, dv: r.dv };
    }
    const r = referenceAttnForward(q, k, v, options, { precision });
    const empty = new Float64Array(0);
    return { out: r.out, lse: r.lse, dq: empty, dk: empty, dv: empty };
  };
  return {
    plan,
    headDim,
    exact: run('f64'),
    samePrecision: inputs.dtype === 'f32' ? null : run(inputs.dtype),
    dtype: inputs.dtype,
    rowOffsets: Array.from(cuQ.subarray(0, -1)),
    keyOffsets: Array.from(cuK.subarray(0, -1)),
    totalRows: cuQ[cuQ.length - 1] as number,
  };
}

function cumulative(values: readonly number[]): number[] {
  let sum = 0;
  return values.map((v) => (sum += v));
}

/**
 * Tolerances, as in the conformance suite: f32 gets bounds relative to the magnitude of the reference; f16 and
 * bf16 may err at most 2× (forward) or 3× (gradients) the error of a reference that rounds like a kernel must.
 */
const F32_RELATIVE: Record<Quantity, number> = { out: 2e-5, lse: 2e-5, dq: 1e-4, dk: 1e-4, dv: 1e-4 };

export function toleranceRule(dtype: FloatDType): string {
  return dtype === 'f32'
    ? 'f32: |err| ≤ c × (1 + max|ref|), c = 2e-5 for out/lse, 1e-4 for gradients'
    : `${dtype}: |err| ≤ 2× (out/lse) or 3× (gradients) the error of a ${dtype}-rounding reference, + 1e-6 × (1 + max|ref|)`;
}

/** Compares the results of a backend (any subset of quantities) with the reference on the plan's slices. */
export function compareResults(answer: ReferenceAnswer, results: Results, layout: ResultLayout): CheckResult {
  const quantities: QuantityCheck[] = [];
  const unchecked: Quantity[] = [];
  for (const quantity of QUANTITIES) {
    const actual = results[quantity];
    if (!actual || answer.exact[quantity].length === 0) continue;
    const { error, magnitude, baseline, compared } = errorOf(answer, quantity, actual, layout);
    if (compared === 0) {
      unchecked.push(quantity);
      continue;
    }
    let tolerance: number;
    if (answer.dtype === 'f32' || baseline === null) tolerance = F32_RELATIVE[quantity] * (1 + magnitude);
    else tolerance = (quantity === 'out' || quantity === 'lse' ? 2 : 3) * baseline + 1e-6 * (1 + magnitude);
    quantities.push({ quantity, maxError: error, tolerance, pass: error <= tolerance });
  }
  return { quantities, unchecked, pass: quantities.every((q) => q.pass), rule: toleranceRule(answer.dtype) };
}

function errorOf(answer: ReferenceAnswer, quantity: Quantity, actual: Float32Array, layout: ResultLayout) {
  const { plan, headDim, exact, samePrecision } = answer;
  const nh = plan.heads.length;
  const ref = exact[quantity];
  const same = samePrecision?.[quantity] ?? null;
  let error = 0;
  let baseline = same ? 0 : null;
  let magnitude = 0;
  let compared = 0;
  const visit = (a: number, r: number) => {
    compared++;
    const e = ref[r] as number;
    const x = actual[a] as number;
    // Rows that see no key have lse +inf in both; anything else non-finite is an infinite error.
    const diff = e === x ? 0 : Math.abs(x - e);
    error = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : Math.max(error, diff);
    if (Number.isFinite(e)) magnitude = Math.max(magnitude, Math.abs(e));
    if (same && baseline !== null) {
      const s = same[r] as number;
      baseline = Math.max(baseline, s === e ? 0 : Math.abs(s - e));
    }
  };
  plan.slices.forEach((slice, si) => {
    if (quantity === 'lse') {
      const offset = answer.rowOffsets[si] as number;
      plan.heads.forEach((h, hi) => {
        for (let row = slice.rowStart; row < slice.length; row++) {
          visit(layout.lse(slice.seq, h, row), hi * answer.totalRows + offset + row - slice.rowStart);
        }
      });
      return;
    }
    const isKey = quantity === 'dk' || quantity === 'dv';
    const from = isKey ? slice.gradKeyStart : slice.rowStart;
    // Reference rows of this slice start at its offset; keys at the key offset, rows at the row offset.
    const base = isKey ? (answer.keyOffsets[si] as number) : (answer.rowOffsets[si] as number) - slice.rowStart;
    for (let row = from; row < slice.length; row++) {
      const token = layout.token(slice.seq, row);
      plan.heads.forEach((h, hi) => {
        const a = (token * layout.numHeads + h) * headDim;
        const r = ((base + row) * nh + hi) * headDim;
        for (let d = 0; d < headDim; d++) visit(a + d, r + d);
      });
    }
  });
  return { error, magnitude, baseline, compared };
}

/** A one-line description of what was checked, e.g. "3 of 21 sequences (L = 2304 [last 256 rows], 96, 12)". */
export function describePlan(plan: CheckPlan, sequences: number): string {
  const parts = [...plan.slices]
    .sort((a, b) => b.length - a.length)
    .map((s) => (s.rowStart === 0 ? `${s.length}` : `${s.length} [last ${s.length - s.rowStart} rows]`));
  return `${plan.slices.length} of ${sequences} sequences (L = ${parts.join(', ')}), heads ${plan.heads.join(', ')}`;
}
