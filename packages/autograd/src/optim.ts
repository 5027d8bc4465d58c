import { describeValue, expectationError } from '@fa/core';
import type { Float, Variable } from './variable.js';

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

/** Parameters that share settings, e.g. norms and embeddings without weight decay. */
export interface ParamGroup {
  readonly params: readonly Variable[];
  readonly weightDecay?: number;
}

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
    this.lr = options.lr ?? 1e-3;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.decoupled = options.decoupled ?? false;
    const defaultDecay = options.weightDecay ?? 0;
    for (const [name, value, ok] of [
      ['lr', this.lr, this.lr >= 0],
      ['betas[0]', this.beta1, this.beta1 >= 0 && this.beta1 < 1],
      ['betas[1]', this.beta2, this.beta2 >= 0 && this.beta2 < 1],
      ['eps', this.eps, this.eps >= 0],
      ['weightDecay', defaultDecay, defaultDecay >= 0],
    ] as const) {
      if (!ok) throw expectationError('E_VALUE', name, 'a valid value', describeValue(value));
    }
    const groups: readonly ParamGroup[] = params.every((p) => 'params' in p)
      ? (params as readonly ParamGroup[])
      : [{ params: params as readonly Variable[] }];
    this.#slots = groups.flatMap((group) =>
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
    super(params, { weightDecay: 0.01, decoupled: true, ...options });
  }
}

/** Scales all gradients so that their global L2 norm is at most `maxNorm`; returns the norm before scaling. */
export function clipGradNorm(params: readonly Variable[], maxNorm: number): number {
  let squares = 0;
  for (const p of params) if (p.grad) for (let i = 0; i < p.grad.length; i++) squares += p.grad[i]! ** 2;
  const norm = Math.sqrt(squares);
  if (norm > maxNorm && norm > 0) {
    const k = maxNorm / norm;
    for (const p of params) if (p.grad) for (let i = 0; i < p.grad.length; i++) p.grad[i]! *= k;
  }
  return norm;
}
