import { checkKnownKeys, describeValue, expectationError, optionKeys } from '@fa/core';
import { checkNumber, checkOptionalBoolean, checkOptions, isNonNegativeFinite, isPositiveFinite } from './checks.js';
import { checkVariables, type Float, Variable } from './variable.js';

export interface AdamOptions {
  /** Learning rate. Default 1e-3. May be changed between steps (`optimizer.lr = …`) for a schedule. */
  readonly lr?: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  /** Default 0 for `Adam`, 0.01 for `AdamW`. */
  readonly weightDecay?: number;
  /**
   * Decoupled weight decay (AdamW, Loshchilov & Hutter): `p ← p − lr · wd · p` before the Adam update. Otherwise
   * (Adam) `wd · p` is added to the gradient. Default false for `Adam`, true for `AdamW`.
   */
  readonly decoupled?: boolean;
}

const ADAM_OPTION_KEYS = optionKeys<AdamOptions>()(['lr', 'betas', 'eps', 'weightDecay', 'decoupled']);

/** Parameters that share settings, e.g. norms and embeddings without weight decay. */
export interface ParamGroup {
  readonly params: readonly Variable[];
  readonly weightDecay?: number;
}

const PARAM_GROUP_KEYS = optionKeys<ParamGroup>()(['params', 'weightDecay']);

interface Slot {
  readonly param: Variable;
  readonly weightDecay: number;
  m: Float | null;
  v: Float | null;
}

/**
 * Adam with bias correction, as `torch.optim.Adam`:
 * `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`, `p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + eps)`.
 * Parameters whose `grad` is null are skipped (their step count still advances with the optimizer's).
 */
export class Adam {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly decoupled: boolean;
  /** Steps taken. */
  t = 0;
  readonly #slots: Slot[];

  constructor(params: readonly Variable[] | readonly ParamGroup[], options: AdamOptions = {}) {
    const given = checkOptions(options, ADAM_OPTION_KEYS);
    this.lr = checkLr(given.lr ?? 1e-3, 'options.lr');
    [this.beta1, this.beta2] = checkBetas(given.betas);
    // eps keeps the update finite where the second moment is 0 (a parameter whose gradient has been 0 so far).
    this.eps = checkNumber(given.eps, 'options.eps', 'a finite number > 0', isPositiveFinite, 1e-8);
    this.decoupled = checkOptionalBoolean(given.decoupled, 'options.decoupled') ?? false;
    const defaultDecay = checkNumber(
      given.weightDecay,
      'options.weightDecay',
      'a finite number >= 0',
      isNonNegativeFinite,
      0,
    );
    this.#slots = paramGroups(params).flatMap((group) =>
      group.params.map((param) => {
        if (!param.requiresGrad) {
          throw expectationError('E_VALUE', 'params', 'variables that require grad', String(param));
        }
        return { param, weightDecay: group.weightDecay ?? defaultDecay, m: null, v: null };
      }),
    );
  }

  get params(): Variable[] {
    return this.#slots.map((s) => s.param);
  }

  step(): void {
    // lr is public so that schedules can set it; a NaN there would overwrite every parameter with NaN.
    checkLr(this.lr, 'lr');
    this.t++;
    const { lr, beta1, beta2, eps } = this;
    const correction1 = 1 - beta1 ** this.t;
    const correction2 = 1 - beta2 ** this.t;
    for (const slot of this.#slots) {
      const { param, weightDecay } = slot;
      const g = param.grad;
      if (!g) continue;
      const p = param.data;
      const m = (slot.m ??= p instanceof Float64Array ? new Float64Array(p.length) : new Float32Array(p.length));
      const v = (slot.v ??= p instanceof Float64Array ? new Float64Array(p.length) : new Float32Array(p.length));
      const shrink = this.decoupled ? 1 - lr * weightDecay : 1;
      const l2 = this.decoupled ? 0 : weightDecay;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]! + l2 * p[i]!;
        const mi = beta1 * m[i]! + (1 - beta1) * gi;
        const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i]! * shrink - (lr * (mi / correction1)) / (Math.sqrt(vi / correction2) + eps);
      }
    }
  }

  zeroGrad(): void {
    for (const slot of this.#slots) slot.param.zeroGrad();
  }
}

/** Adam with decoupled weight decay (default 0.01), as `torch.optim.AdamW`. */
export class AdamW extends Adam {
  constructor(params: readonly Variable[] | readonly ParamGroup[], options: AdamOptions = {}) {
    super(params, { weightDecay: 0.01, decoupled: true, ...checkOptions(options, ADAM_OPTION_KEYS) });
  }
}

function checkLr(lr: unknown, argument: string): number {
  return checkNumber(lr, argument, 'a finite number >= 0', isNonNegativeFinite);
}

function checkBetas(betas: unknown): [number, number] {
  if (betas === undefined) return [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) {
    throw expectationError('E_VALUE', 'options.betas', 'a pair [β1, β2]', describeValue(betas));
  }
  betas.forEach((beta: unknown, i) => {
    // β = 1 makes the bias correction 1 − βᵗ zero, and the update 0 / 0.
    if (!(typeof beta === 'number' && beta >= 0 && beta < 1)) {
      throw expectationError('E_VALUE', 'options.betas', 'β1 and β2 in [0, 1)', `betas[${i}] = ${describeValue(beta)}`);
    }
  });
  return betas as [number, number];
}

/** `params` as groups: either all variables (one group) or all groups, each holding variables. */
function paramGroups(params: unknown): readonly ParamGroup[] {
  if (!Array.isArray(params) || params.length === 0) {
    throw expectationError(
      'E_VALUE',
      'params',
      'a non-empty array of Variables or of param groups',
      describeValue(params),
    );
  }
  if (params.every((p) => p instanceof Variable)) return [{ params }];
  return params.map((group: unknown, i) => {
    if (group === null || typeof group !== 'object' || !Array.isArray((group as ParamGroup).params)) {
      throw expectationError(
        'E_VALUE',
        'params',
        'Variables or param groups { params, weightDecay? }, not both',
        `params[${i}] = ${describeValue(group)}`,
      );
    }
    checkKnownKeys(group, `params[${i}]`, PARAM_GROUP_KEYS);
    const { params: members, weightDecay } = group as ParamGroup;
    checkVariables(members, 'params');
    if (weightDecay !== undefined && !(typeof weightDecay === 'number' && isNonNegativeFinite(weightDecay))) {
      throw expectationError(
        'E_VALUE',
        'params',
        'a group weightDecay that is a finite number >= 0',
        `params[${i}].weightDecay = ${describeValue(weightDecay)}`,
      );
    }
    return group as ParamGroup;
  });
}

/** Scales all gradients so that their global L2 norm is at most `maxNorm`; returns the norm before scaling. */
export function clipGradNorm(params: readonly Variable[], maxNorm: number): number {
  checkVariables(params, 'params');
  // Infinity is a valid bound (report the norm, clip nothing); a negative one would flip every gradient.
  checkNumber(maxNorm, 'maxNorm', 'a number >= 0', (m) => m >= 0);
  let squares = 0;
  for (const p of params) if (p.grad) for (let i = 0; i < p.grad.length; i++) squares += p.grad[i]! ** 2;
  const norm = Math.sqrt(squares);
  if (norm > maxNorm && norm > 0) {
    const k = maxNorm / norm;
    for (const p of params) if (p.grad) for (let i = 0; i < p.grad.length; i++) p.grad[i]! *= k;
  }
  return norm;
}
