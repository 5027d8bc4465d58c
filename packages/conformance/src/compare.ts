import type { FloatDType } from '@fa/core';

/**
 * Tolerances. For f16/bf16 we use flash-attention's rule: a kernel's error against the float64 reference may be
 * at most 2× (forward) or 3× (gradients) the error of a reference computed at the same precision, because a
 * kernel cannot be asked to beat its storage type. f32 has no such natural yardstick here, so it gets fixed
 * bounds relative to the output's magnitude. A small floor keeps a reference that happens to be exact from
 * demanding zero error.
 */
export type Quantity = 'out' | 'lse' | 'dq' | 'dk' | 'dv';

export interface Comparison {
  readonly quantity: Quantity;
  readonly maxError: number;
  readonly tolerance: number;
  readonly rule: string;
  readonly pass: boolean;
  /** Where the largest error is, for the failure message. */
  readonly worstIndex: number;
}

const F32_RELATIVE: Record<Quantity, number> = { out: 2e-5, lse: 2e-5, dq: 1e-4, dk: 1e-4, dv: 1e-4 };

/**
 * Machine epsilon of the 16-bit types. Gradients start from `out` rounded to 16 bits; where dP and D_i nearly
 * cancel, that rounding alone can exceed 3× a same-precision reference that happened to round favourably
 * (about one random case in 5000). A gradient stored in the dtype cannot be asked for better than one epsilon
 * of its largest value, so that is the floor.
 */
export const DTYPE_EPSILON: Readonly<Record<'f16' | 'bf16', number>> = { f16: 2 ** -10, bf16: 2 ** -7 };

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i] as number);
    if (Number.isFinite(v) && v > max) max = v;
  }
  return max;
}

/** Largest |a - b|, where matching infinities count as exact and NaN or a mismatched infinity as infinite. */
export function maxError(actual: ArrayLike<number>, exact: ArrayLike<number>): { error: number; index: number } {
  let error = 0;
  let index = -1;
  if (actual.length !== exact.length) return { error: Number.POSITIVE_INFINITY, index: -1 };
  for (let i = 0; i < exact.length; i++) {
    const a = actual[i] as number;
    const e = exact[i] as number;
    let diff: number;
    if (Number.isNaN(a) || Number.isNaN(e)) diff = Number.POSITIVE_INFINITY;
    else if (!Number.isFinite(e) || !Number.isFinite(a)) diff = a === e ? 0 : Number.POSITIVE_INFINITY;
    else diff = Math.abs(a - e);
    if (diff > error || index < 0) {
      error = Math.max(error, diff);
      index = i;
    }
  }
  return { error, index };
}

export function compareToReference(
  quantity: Quantity,
  dtype: FloatDType,
  actual: ArrayLike<number>,
  exact: ArrayLike<number>,
  samePrecision: ArrayLike<number> | null,
): Comparison {
  const { error, index } = maxError(actual, exact);
  const magnitude = 1 + maxAbs(exact);
  let tolerance: number;
  let rule: string;
  if (dtype === 'f32' || samePrecision === null) {
    tolerance = F32_RELATIVE[quantity] * magnitude;
    rule = `f32: ≤ ${F32_RELATIVE[quantity]} × (1 + max|ref|)`;
  } else {
    const isGradient = quantity !== 'out' && quantity !== 'lse';
    const factor = isGradient ? 3 : 2;
    const baseline = maxError(samePrecision, exact).error;
    const floor = isGradient ? DTYPE_EPSILON[dtype] : 1e-6;
    tolerance = factor * baseline + floor * magnitude;
    rule = `${dtype}: ≤ ${factor} × same-precision reference error (${baseline.toExponential(3)}) + ${floor.toExponential(2)} × (1 + max|ref|)`;
  }
  return { quantity, maxError: error, tolerance, rule, pass: error <= tolerance, worstIndex: index };
}

/** Storage epsilons of the result's magnitude a 16-bit result may be off by in `withinStorageSteps`. */
const STORAGE_STEPS = 4;

/**
 * The unusual valid calls draw outputs of a handful of elements. With so few, the same-precision reference's
 * error is a sample of one: now and then it is exact by luck, and twice zero holds a 16-bit kernel that rounds
 * in another order (flash-attention rounds P before normalising; the reference after) to the impossible. So a
 * 16-bit result also passes within STORAGE_STEPS epsilons of the dtype times (1 + max|ref|): far below what a
 * wrong mask, index or option gives (errors of the order of the values), while the conformance suite holds
 * larger outputs to the 2×/3× rule alone.
 */
export function withinStorageSteps(c: Comparison, dtype: FloatDType, exact: ArrayLike<number>): Comparison {
  if (dtype === 'f32' || c.pass) return c;
  const tolerance = STORAGE_STEPS * DTYPE_EPSILON[dtype] * (1 + maxAbs(exact));
  return {
    ...c,
    tolerance,
    rule: `${c.rule}, or ≤ ${STORAGE_STEPS} × ${dtype} epsilon × (1 + max|ref|) on these few-element outputs`,
    pass: c.maxError <= tolerance,
  };
}
