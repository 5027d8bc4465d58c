import { describeValue, expectationError, optionKeys } from '@fa/core';
import { withReferenceAttention } from './attention.js';
import { checkFunction, checkNumber, checkOptions, isNonNegativeFinite, isPositiveFinite } from './checks.js';
import { Rng } from './random.js';
import { checkVariables, noGrad, Variable } from './variable.js';

export interface GradcheckOptions {
  /** Step of the central differences. Default 1e-6. */
  readonly eps?: number;
  /** An element passes when |analytic − numeric| <= atol + rtol · |numeric|. Defaults 1e-6 and 1e-5 (float64). */
  readonly atol?: number;
  readonly rtol?: number;
  /** Check at most this many elements of each input, drawn at random (default: all). */
  readonly maxElements?: number;
  /** Seeds the projection of the output onto a scalar and the choice of elements. Default 0. */
  readonly seed?: number;
}

const GRADCHECK_OPTION_KEYS = optionKeys<GradcheckOptions>()(['eps', 'atol', 'rtol', 'maxElements', 'seed']);

export interface GradcheckMismatch {
  readonly input: number;
  readonly index: number;
  readonly analytic: number;
  readonly numeric: number;
}

export interface GradcheckResult {
  readonly ok: boolean;
  /** Elements compared over all inputs. */
  readonly checked: number;
  /** The largest |analytic − numeric| seen. */
  readonly maxError: number;
  /** The worst element that failed, if any. */
  readonly worst: GradcheckMismatch | undefined;
  /** One line for an assertion message. */
  readonly message: string;
}

/**
 * Compares the analytic gradients of `fn` at `inputs` (float64 leaves that require grad) with central finite
 * differences. The output is projected onto a fixed random direction `w`, so one backward pass checks the whole
 * vector-Jacobian product: `L = Σ w · fn(inputs)`.
 *
 * The analytic pass runs as training does: attention ops go through their backend in float32. The finite
 * differences run under `noGrad` and `withReferenceAttention`, so every evaluation is float64 end to end
 * (attention on `@fa/core`'s reference). Give float32-sized tolerances when `fn` contains attention.
 */
export async function gradcheck(
  fn: (...inputs: Variable[]) => Variable | Promise<Variable>,
  inputs: readonly Variable[],
  options: GradcheckOptions = {},
): Promise<GradcheckResult> {
  checkFunction(fn, 'fn');
  // With no inputs there is nothing to compare, and success would mean nothing.
  if (checkVariables(inputs, 'inputs').length === 0) {
    throw expectationError('E_VALUE', 'inputs', 'at least one input', 'an empty array');
  }
  const given = checkOptions(options, GRADCHECK_OPTION_KEYS);
  // A zero step divides by zero; a non-finite tolerance passes or fails everything.
  const eps = checkNumber(given.eps, 'options.eps', 'a finite number > 0', isPositiveFinite, 1e-6);
  const atol = checkNumber(given.atol, 'options.atol', 'a finite number >= 0', isNonNegativeFinite, 1e-6);
  const rtol = checkNumber(given.rtol, 'options.rtol', 'a finite number >= 0', isNonNegativeFinite, 1e-5);
  // Checking zero elements would report success without having compared anything.
  const maxElements =
    given.maxElements === undefined
      ? undefined
      : checkNumber(
          given.maxElements,
          'options.maxElements',
          'a positive integer',
          (m) => Number.isSafeInteger(m) && m > 0,
        );
  const seed = checkNumber(given.seed, 'options.seed', 'a safe integer', Number.isSafeInteger, 0);
  inputs.forEach((x, i) => {
    if (x.dtype !== 'f64' || !x.requiresGrad) {
      throw expectationError(
        'E_DTYPE',
        'inputs',
        'float64 leaves that require grad',
        `inputs[${i}]: ${x.dtype}${x.requiresGrad ? '' : ' without requiresGrad'}`,
      );
    }
  });
  const rng = new Rng(seed);

  const saved = inputs.map((x) => x.grad);
  const y = checkResult(await fn(...inputs));
  const w = Float64Array.from({ length: y.size }, () => rng.normal());
  for (const x of inputs) x.zeroGrad();
  await y.backward(w);
  const analytic = inputs.map((x) => x.grad ?? new Float64Array(x.size));
  inputs.forEach((x, i) => {
    x.grad = saved[i] ?? null;
  });

  const loss = async (): Promise<number> => {
    const out = checkResult(await noGrad(() => withReferenceAttention(() => fn(...inputs))));
    if (out.size !== y.size) {
      throw expectationError('E_SHAPE', 'fn', `a result of ${y.size} elements on every call`, `${out.size}`);
    }
    let total = 0;
    for (let i = 0; i < out.size; i++) total += w[i]! * out.data[i]!;
    return total;
  };

  let checked = 0;
  let maxError = 0;
  let worst: GradcheckMismatch | undefined;
  let worstExcess = 0;
  for (let input = 0; input < inputs.length; input++) {
    const data = inputs[input]!.data;
    for (const index of pickIndices(data.length, maxElements, rng)) {
      const original = data[index]!;
      data[index] = original + eps;
      const plus = await loss();
      data[index] = original - eps;
      const minus = await loss();
      data[index] = original;
      const numeric = (plus - minus) / (2 * eps);
      const a = analytic[input]![index]!;
      const error = Math.abs(a - numeric);
      const excess = error - (atol + rtol * Math.abs(numeric));
      checked++;
      maxError = Math.max(maxError, Number.isNaN(error) ? Number.POSITIVE_INFINITY : error);
      if (!(excess <= 0) && (worst === undefined || !(excess <= worstExcess))) {
        worst = { input, index, analytic: a, numeric };
        worstExcess = excess;
      }
    }
  }
  const message = worst
    ? `gradient mismatch at inputs[${worst.input}][${worst.index}]: analytic ${worst.analytic}, numeric ${worst.numeric} (max error ${maxError}, atol ${atol}, rtol ${rtol})`
    : `${checked} elements within atol ${atol} + rtol ${rtol} (max error ${maxError})`;
  return { ok: worst === undefined, checked, maxError, worst, message };
}

function checkResult(result: unknown): Variable {
  if (!(result instanceof Variable)) {
    throw expectationError(
      'E_VALUE',
      'fn',
      'a function returning a Variable',
      `one returning ${describeValue(result)}`,
    );
  }
  return result;
}

function pickIndices(length: number, max: number | undefined, rng: Rng): number[] {
  const all = Array.from({ length }, (_, i) => i);
  if (max === undefined || max >= length) return all;
  for (let i = 0; i < max; i++) {
    const j = i + Math.floor(rng.next() * (length - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, max).sort((a, b) => a - b);
}
