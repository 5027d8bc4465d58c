import {
  type AttnOptions,
  type AttnProblem,
  encodeFromFloat,
  type FloatDType,
  type FloatHostTensor,
  type HostTensor,
  referenceAttnBackward,
  referenceAttnForward,
  resolveAttnProblem,
  toFloat64,
} from '@fa/core';
import type { CpuBackend } from './backend.js';

/**
 * Shared by the CPU backend's tests (not exported from the package): seeded random inputs, a case description,
 * and the comparison against @fa/core's float64 reference.
 */

/** mulberry32, seeded so a failure can print the seed that reproduces it. */
export class Random {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Standard normal (Box–Muller); zero has probability 0, so inputs are never all zeros. */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
  }
}

export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

export interface Case {
  readonly name: string;
  readonly lengthsQ: readonly number[];
  readonly lengthsK?: readonly number[];
  readonly numHeads?: number;
  readonly numHeadsK?: number;
  readonly headDim?: number;
  readonly headDimV?: number;
  readonly dtype?: FloatDType;
  readonly causal?: boolean;
  readonly windowSize?: readonly [number, number];
  readonly softcap?: number;
  readonly alibi?: boolean;
  readonly dropoutP?: number;
  readonly softmaxScale?: number;
}

/**
 * A small random problem: odd sizes, batches of one to four sequences (empty ones included), self- or
 * cross-attention, GQA, every dtype, and each option now and then. Small enough to run thousands of times.
 */
export function smallCase(random: Random, name = 'small'): Case {
  const lengthsQ = Array.from({ length: random.int(1, 4) }, () => random.int(0, 9));
  const numHeadsK = random.int(1, 2);
  const pick = (p: number) => random.next() < p;
  return {
    name,
    lengthsQ,
    lengthsK: pick(0.3) ? lengthsQ.map(() => random.int(0, 9)) : undefined,
    numHeads: numHeadsK * random.int(1, 2),
    numHeadsK,
    headDim: random.int(1, 13),
    headDimV: pick(0.3) ? random.int(1, 13) : undefined,
    dtype: (['f32', 'f16', 'bf16'] as const)[random.int(0, 2)],
    causal: pick(0.3),
    windowSize: pick(0.2) ? [random.int(0, 3), random.int(-1, 3)] : undefined,
    softcap: pick(0.2) ? 3 : undefined,
    alibi: pick(0.2),
    dropoutP: pick(0.2) ? 0.25 : undefined,
  };
}

export function cuSeqlens(lengths: readonly number[]): Int32Array {
  const cu = new Int32Array(lengths.length + 1);
  lengths.forEach((length, b) => {
    cu[b + 1] = (cu[b] as number) + length;
  });
  return cu;
}

export interface Inputs {
  readonly q: FloatHostTensor;
  readonly k: FloatHostTensor;
  readonly v: FloatHostTensor;
  readonly dout: FloatHostTensor;
  readonly options: AttnOptions;
}

function randomTensor(random: Random, shape: number[], dtype: FloatDType): FloatHostTensor {
  const values = new Float64Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = random.normal();
  return { data: encodeFromFloat(values, dtype), shape, dtype } as FloatHostTensor;
}

export function makeInputs(c: Case, seed: number): Inputs {
  const random = new Random(seed);
  const lengthsK = c.lengthsK ?? c.lengthsQ;
  const numHeads = c.numHeads ?? 2;
  const numHeadsK = c.numHeadsK ?? numHeads;
  const headDim = c.headDim ?? 32;
  const headDimV = c.headDimV ?? headDim;
  const dtype = c.dtype ?? 'f32';
  const totalQ = c.lengthsQ.reduce((a, b) => a + b, 0);
  const totalK = lengthsK.reduce((a, b) => a + b, 0);
  return {
    q: randomTensor(random, [totalQ, numHeads, headDim], dtype),
    k: randomTensor(random, [totalK, numHeadsK, headDim], dtype),
    v: randomTensor(random, [totalK, numHeadsK, headDimV], dtype),
    dout: randomTensor(random, [totalQ, numHeads, headDimV], dtype),
    options: {
      cuSeqlensQ: cuSeqlens(c.lengthsQ),
      cuSeqlensK: cuSeqlens(lengthsK),
      causal: c.causal,
      windowSize: c.windowSize,
      softcap: c.softcap,
      softmaxScale: c.softmaxScale,
      alibiSlopes: c.alibi
        ? Float32Array.from({ length: numHeads }, (_, h) => 2 ** (-8 * ((h + 1) / numHeads)) * (0.5 + random.next()))
        : undefined,
      dropoutP: c.dropoutP,
      seed: c.dropoutP ? random.int(0, 2 ** 31) * 4096 + random.int(0, 4095) : undefined,
    },
  };
}

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

/** Largest |actual - exact|. Matching infinities are exact; NaN or a mismatched infinity is an infinite error. */
export function maxError(actual: ArrayLike<number>, exact: ArrayLike<number>): { error: number; index: number } {
  if (actual.length !== exact.length) return { error: Number.POSITIVE_INFINITY, index: -1 };
  let worst = 0;
  let index = -1;
  for (let i = 0; i < exact.length; i++) {
    const a = actual[i] as number;
    const e = exact[i] as number;
    let error: number;
    if (Number.isNaN(a) || Number.isNaN(e)) error = Number.POSITIVE_INFINITY;
    else if (!Number.isFinite(a) || !Number.isFinite(e)) error = a === e ? 0 : Number.POSITIVE_INFINITY;
    else error = Math.abs(a - e);
    if (error > worst || index < 0) {
      worst = Math.max(worst, error);
      index = i;
    }
  }
  return { error: worst, index };
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
  inputs: Inputs,
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
  c: Case,
  seed: number,
  withBackward = true,
): Promise<Mismatch[]> {
  const inputs = makeInputs(c, seed);
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
