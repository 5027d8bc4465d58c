import { maxError } from '@fa/conformance';
import {
  type AttnProblem,
  type FloatHostTensor,
  type HostTensor,
  referenceAttnBackward,
  referenceAttnForward,
  resolveAttnProblem,
  toFloat64,
} from '@fa/core';
import { type AttnInputs, attnInputs, type CaseSpec } from '@fa/testkit';
import type { CpuBackend } from './backend.js';

/**
 * The CPU backend's checks against @fa/core's float64 reference, run on a backend object directly rather than
 * through the façade (not exported from the package). Its cases and inputs come from @fa/testkit.
 */

/** Decoded values of a host tensor of any float dtype. */
export function values(tensor: HostTensor): Float64Array {
  return toFloat64(tensor as FloatHostTensor);
}

export interface Mismatch {
  readonly quantity: string;
  readonly error: number;
  readonly tolerance: number;
  readonly index: number;
}

function magnitude(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i] as number);
    if (Number.isFinite(v) && v > max) max = v;
  }
  return 1 + max;
}

/**
 * Checks `actual` against the float64 reference `exact`; NaN always fails. float32: error at most
 * `relative · (1 + max|exact|)`. f16/bf16 (flash-attention's rule, as the conformance suite applies it): at most
 * `factor ×` the error of a reference that rounds its intermediates to the same dtype, plus a small floor.
 * Gradients also get a floor of two units of the dtype's precision: the backward pass starts from `out` rounded
 * to 16 bits, and where D = rowsum(dO ∘ O) nearly cancels dP that rounding alone can exceed 3× the baseline
 * (every kernel, float64 JavaScript included, then makes the same error).
 */
export function compare(
  quantity: string,
  actual: ArrayLike<number>,
  exact: ArrayLike<number>,
  relative: number,
  samePrecision: { values: ArrayLike<number>; factor: number; floor: number } | null = null,
): Mismatch | null {
  const scale = magnitude(exact);
  const tolerance = samePrecision
    ? Math.max(
        samePrecision.factor * maxError(samePrecision.values, exact).error + 1e-6 * scale,
        samePrecision.floor * scale,
      )
    : relative * scale;
  const { error, index } = maxError(actual, exact);
  // An infinite error (NaN, a wrong infinity) fails even when a same-precision baseline is itself infinite.
  return Number.isFinite(error) && error <= tolerance ? null : { quantity, error, tolerance, index };
}

export const F32_TOLERANCE = { out: 2e-5, lse: 2e-5, grad: 1e-4 };

export type Quantity = 'out' | 'lse' | 'dq' | 'dk' | 'dv';

/**
 * Compares results (those given: out and lse, and the gradients when present) with the float64 reference for
 * `inputs`; returns every mismatch.
 */
export function referenceMismatches(
  inputs: AttnInputs,
  results: Partial<Record<Quantity, HostTensor>>,
  problem: AttnProblem,
): Mismatch[] {
  const { q, k, v, dout, options } = inputs;
  const withBackward = results.dq !== undefined;
  const exact = withBackward ? referenceAttnBackward(dout, q, k, v, options) : referenceAttnForward(q, k, v, options);
  const low =
    problem.dtype === 'f32' ? null : referenceAttnBackward(dout, q, k, v, options, { precision: problem.dtype });
  const unit = problem.dtype === 'bf16' ? 2 ** -8 : 2 ** -11;
  const mismatches: Array<Mismatch | null> = [];
  for (const [quantity, tensor] of Object.entries(results) as Array<[Quantity, HostTensor]>) {
    const forward = quantity === 'out' || quantity === 'lse';
    const same = low ? { values: low[quantity], factor: forward ? 2 : 3, floor: forward ? 0 : 2 * unit } : null;
    const tolerance = forward ? F32_TOLERANCE.out : F32_TOLERANCE.grad;
    const reference = (exact as Partial<Record<Quantity, Float64Array>>)[quantity] as Float64Array;
    mismatches.push(compare(quantity, values(tensor), reference, tolerance, same));
  }
  return mismatches.filter((m): m is Mismatch => m !== null);
}

/** Runs forward (and backward) on the backend and compares with the reference; returns every mismatch. */
export async function checkAgainstReference(
  backend: CpuBackend,
  c: CaseSpec,
  seed: number,
  withBackward = true,
): Promise<Mismatch[]> {
  const inputs = attnInputs(c, seed);
  const { q, k, v, dout } = inputs;
  const problem = resolveAttnProblem(q, k, v, inputs.options);
  const forward = await backend.forward(q, k, v, problem);
  expectShape(forward.out, [problem.totalQ, problem.numHeads, problem.headDimV], problem.dtype);
  expectShape(forward.lse, [problem.numHeads, problem.totalQ], 'f32');
  if (!withBackward) return referenceMismatches(inputs, forward, problem);
  const grads = await backend.backward(dout, q, k, v, forward.out, forward.lse, problem);
  expectShape(grads.dq, q.shape, problem.dtype);
  expectShape(grads.dk, k.shape, problem.dtype);
  expectShape(grads.dv, v.shape, problem.dtype);
  return referenceMismatches(inputs, { ...forward, ...grads }, problem);
}

function expectShape(tensor: HostTensor, shape: readonly number[], dtype: string): void {
  const same = tensor.shape.length === shape.length && tensor.shape.every((d, i) => d === shape[i]);
  const length = shape.reduce((a, b) => a * b, 1);
  if (!same || tensor.dtype !== dtype || tensor.data.length !== length) {
    throw new Error(
      `Expected ${dtype} (${shape.join(', ')}), got ${tensor.dtype} (${tensor.shape.join(', ')}) with ${tensor.data.length} elements`,
    );
  }
}
