import { describeValue, expectationError, formatShape, optionKeys } from '@fa/core';
import { checkInt32Array, checkNumber, checkOptions, isPositiveFinite } from './checks.js';
import { checkSameDtype, zerosLike } from './ops.js';
import { checkVariable, type Float, recordOp, type Variable } from './variable.js';

/** The ops of a transformer block besides attention and the matrix products: all on host data. */

function lastAxis(x: Variable, argument: string): number {
  const d = x.shape[x.shape.length - 1];
  if (d === undefined || d === 0) {
    throw expectationError('E_SHAPE', argument, 'a tensor with a non-empty last axis', formatShape(x.shape));
  }
  return d;
}

function checkVector(v: Variable, length: number, argument: string): void {
  if (v.shape.length !== 1 || v.shape[0] !== length) {
    throw expectationError('E_SHAPE', argument, `shape (${length},)`, formatShape(v.shape));
  }
}

function checkIds(ids: Int32Array, bound: number, argument: string): void {
  checkInt32Array(ids, argument);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= bound) {
      throw expectationError('E_VALUE', argument, `ids in [0, ${bound})`, `${argument}[${i}] = ${id}`);
    }
  }
}

/** Rows of `table (vocab, d)` picked by `ids`: `(ids.length, d)`. The gradient is scattered back (summed). */
export function embedding(table: Variable, ids: Int32Array): Variable {
  checkVariable(table, 'table');
  if (table.shape.length !== 2) {
    throw expectationError('E_SHAPE', 'table', 'a rank-2 tensor (vocab, d)', formatShape(table.shape));
  }
  const [vocab, d] = table.shape as [number, number];
  checkIds(ids, vocab, 'ids');
  const out = zerosLike(table.data, ids.length * d);
  for (let t = 0; t < ids.length; t++) out.set(table.data.subarray(ids[t]! * d, ids[t]! * d + d), t * d);
  return recordOp('embedding', [table], out, [ids.length, d], (g) => {
    const gt = zerosLike(g, table.size);
    for (let t = 0; t < ids.length; t++) {
      const row = ids[t]! * d;
      for (let j = 0; j < d; j++) gt[row + j]! += g[t * d + j]!;
    }
    return [gt];
  });
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** `x · sigmoid(x)` (swish), the gate of SwiGLU. */
export function silu(x: Variable): Variable {
  checkVariable(x, 'x');
  const out = zerosLike(x.data);
  for (let i = 0; i < out.length; i++) out[i] = x.data[i]! * sigmoid(x.data[i]!);
  return recordOp('silu', [x], out, x.shape, (g) => {
    const gx = zerosLike(g);
    for (let i = 0; i < g.length; i++) {
      const v = x.data[i]!;
      const s = sigmoid(v);
      gx[i] = g[i]! * s * (1 + v * (1 - s));
    }
    return [gx];
  });
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation: `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`. */
export function gelu(x: Variable): Variable {
  checkVariable(x, 'x');
  const out = zerosLike(x.data);
  for (let i = 0; i < out.length; i++) {
    const v = x.data[i]!;
    out[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v)));
  }
  return recordOp('gelu', [x], out, x.shape, (g) => {
    const gx = zerosLike(g);
    for (let i = 0; i < g.length; i++) {
      const v = x.data[i]!;
      const t = Math.tanh(GELU_C * (v + 0.044715 * v * v * v));
      gx[i] = g[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * v * v));
    }
    return [gx];
  });
}

/** A zero-variance row (padding, a constant input) divides by sqrt(eps): it must be positive, or the row is NaN. */
function checkEps(eps: unknown): void {
  checkNumber(eps, 'eps', 'a finite number > 0', isPositiveFinite);
}

/**
 * RMSNorm over the last axis: `x / sqrt(mean(x²) + eps) · weight`. Saves the normalised rows and their inverse
 * RMS for backward.
 */
export function rmsNorm(x: Variable, weight: Variable, eps = 1e-6): Variable {
  checkVariable(x, 'x');
  checkVariable(weight, 'weight');
  checkEps(eps);
  checkSameDtype('rmsNorm', x, weight);
  const d = lastAxis(x, 'x');
  checkVector(weight, d, 'weight');
  const rows = x.size / d;
  const out = zerosLike(x.data);
  const normed = zerosLike(x.data);
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ms = 0;
    for (let j = 0; j < d; j++) ms += x.data[r * d + j]! ** 2;
    const rinv = 1 / Math.sqrt(ms / d + eps);
    inv[r] = rinv;
    for (let j = 0; j < d; j++) {
      const n = x.data[r * d + j]! * rinv;
      normed[r * d + j] = n;
      out[r * d + j] = n * weight.data[j]!;
    }
  }
  return recordOp('rmsNorm', [x, weight], out, x.shape, (g) => {
    const gx = zerosLike(g);
    const gw = zerosLike(g, d);
    for (let r = 0; r < rows; r++) {
      // With n = x·r and dn = g·w: dx = r · (dn − n · mean(dn · n)).
      let dot = 0;
      for (let j = 0; j < d; j++) {
        const i = r * d + j;
        dot += g[i]! * weight.data[j]! * normed[i]!;
        gw[j]! += g[i]! * normed[i]!;
      }
      dot /= d;
      for (let j = 0; j < d; j++) {
        const i = r * d + j;
        gx[i] = inv[r]! * (g[i]! * weight.data[j]! - normed[i]! * dot);
      }
    }
    return [gx, gw];
  });
}

/** LayerNorm over the last axis: `(x − mean) / sqrt(var + eps) · weight + bias`. */
export function layerNorm(x: Variable, weight: Variable, bias: Variable, eps = 1e-5): Variable {
  checkVariable(x, 'x');
  checkVariable(weight, 'weight');
  checkVariable(bias, 'bias');
  checkEps(eps);
  checkSameDtype('layerNorm', x, weight, bias);
  const d = lastAxis(x, 'x');
  checkVector(weight, d, 'weight');
  checkVector(bias, d, 'bias');
  const rows = x.size / d;
  const out = zerosLike(x.data);
  const normed = zerosLike(x.data);
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let mu = 0;
    for (let j = 0; j < d; j++) mu += x.data[r * d + j]!;
    mu /= d;
    let variance = 0;
    for (let j = 0; j < d; j++) variance += (x.data[r * d + j]! - mu) ** 2;
    const rinv = 1 / Math.sqrt(variance / d + eps);
    inv[r] = rinv;
    for (let j = 0; j < d; j++) {
      const n = (x.data[r * d + j]! - mu) * rinv;
      normed[r * d + j] = n;
      out[r * d + j] = n * weight.data[j]! + bias.data[j]!;
    }
  }
  return recordOp('layerNorm', [x, weight, bias], out, x.shape, (g) => {
    const gx = zerosLike(g);
    const gw = zerosLike(g, d);
    const gb = zerosLike(g, d);
    for (let r = 0; r < rows; r++) {
      // dx = r · (dn − mean(dn) − n · mean(dn · n)), dn = g · w.
      let meanDn = 0;
      let meanDnN = 0;
      for (let j = 0; j < d; j++) {
        const i = r * d + j;
        const dn = g[i]! * weight.data[j]!;
        meanDn += dn;
        meanDnN += dn * normed[i]!;
        gw[j]! += g[i]! * normed[i]!;
        gb[j]! += g[i]!;
      }
      meanDn /= d;
      meanDnN /= d;
      for (let j = 0; j < d; j++) {
        const i = r * d + j;
        gx[i] = inv[r]! * (g[i]! * weight.data[j]! - meanDn - normed[i]! * meanDnN);
      }
    }
    return [gx, gw, gb];
  });
}

export interface RotaryOptions {
  /** Base of the frequencies `base^(−2i/rotaryDim)`. Default 10000. */
  readonly base?: number;
  /** Leading features of each head that rotate (even, at most head_dim). Default: all of them. */
  readonly rotaryDim?: number;
}

const ROTARY_OPTION_KEYS = optionKeys<RotaryOptions>()(['base', 'rotaryDim']);

/**
 * Rotary position embedding of `x (T, H, D)` at `positions (T)`, GPT-NeoX style (flash-attention's
 * `interleaved=False`): feature `i` pairs with `i + rotaryDim/2`. For packed documents pass
 * `positionIds(cuSeqlens)` so that positions restart at every document. The backward rotates the gradient back
 * by the angles the forward computed.
 */
export function rotary(x: Variable, positions: Int32Array, options: RotaryOptions = {}): Variable {
  checkVariable(x, 'x');
  const { rotaryDim: givenDim, base: givenBase } = checkOptions(options, ROTARY_OPTION_KEYS);
  if (x.shape.length !== 3) {
    throw expectationError('E_SHAPE', 'x', 'a rank-3 tensor (tokens, heads, head_dim)', formatShape(x.shape));
  }
  const [tokens, heads, dim] = x.shape as [number, number, number];
  if (!(positions instanceof Int32Array) || positions.length !== tokens) {
    throw expectationError('E_SHAPE', 'positions', `an Int32Array of ${tokens} positions`, describeValue(positions));
  }
  const rotaryDim = givenDim ?? dim - (dim % 2);
  if (!(Number.isSafeInteger(rotaryDim) && rotaryDim >= 0 && rotaryDim % 2 === 0 && rotaryDim <= dim)) {
    throw expectationError('E_VALUE', 'options.rotaryDim', `an even number in [0, ${dim}]`, describeValue(givenDim));
  }
  // base^(−2i/rotaryDim) is NaN or infinite for a base <= 0, and every angle with it.
  const base = checkNumber(givenBase, 'options.base', 'a finite number > 0', isPositiveFinite, 10000);
  const half = rotaryDim / 2;
  const cos = new Float64Array(tokens * half);
  const sin = new Float64Array(tokens * half);
  for (let t = 0; t < tokens; t++) {
    for (let i = 0; i < half; i++) {
      const angle = positions[t]! * base ** (-(2 * i) / rotaryDim);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  // direction +1 rotates by the angle (forward), −1 rotates back (the transpose, for the gradient).
  const rotate = (src: Float, direction: 1 | -1): Float => {
    const dst = src.slice();
    for (let t = 0; t < tokens; t++) {
      for (let h = 0; h < heads; h++) {
        const at = (t * heads + h) * dim;
        for (let i = 0; i < half; i++) {
          const c = cos[t * half + i]!;
          const s = sin[t * half + i]! * direction;
          const a = src[at + i]!;
          const b = src[at + i + half]!;
          dst[at + i] = a * c - b * s;
          dst[at + i + half] = a * s + b * c;
        }
      }
    }
    return dst;
  };
  return recordOp('rotary', [x], rotate(x.data, 1), x.shape, (g) => [rotate(g, -1)]);
}

export interface CrossEntropyOptions {
  /** Targets equal to this value are skipped (no loss, no gradient). Default −1. */
  readonly ignoreIndex?: number;
}

const CROSS_ENTROPY_OPTION_KEYS = optionKeys<CrossEntropyOptions>()(['ignoreIndex']);

/**
 * Mean softmax cross-entropy of `logits (N, V)` against `targets (N)`, over the targets not ignored; a
 * one-element result. The forward keeps the softmax probabilities, so the backward is `(p − onehot) / count`.
 */
export function crossEntropy(logits: Variable, targets: Int32Array, options: CrossEntropyOptions = {}): Variable {
  checkVariable(logits, 'logits');
  const ignore = checkNumber(
    checkOptions(options, CROSS_ENTROPY_OPTION_KEYS).ignoreIndex,
    'options.ignoreIndex',
    'an integer',
    Number.isSafeInteger,
    -1,
  );
  if (logits.shape.length !== 2) {
    throw expectationError('E_SHAPE', 'logits', 'a rank-2 tensor (N, vocab)', formatShape(logits.shape));
  }
  const [rows, vocab] = logits.shape as [number, number];
  if (!(targets instanceof Int32Array) || targets.length !== rows) {
    throw expectationError('E_SHAPE', 'targets', `an Int32Array of ${rows} targets`, describeValue(targets));
  }
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t !== ignore && !(t >= 0 && t < vocab)) {
      throw expectationError('E_VALUE', 'targets', `targets in [0, ${vocab}) or ${ignore}`, `targets[${r}] = ${t}`);
    }
  }
  const probs = zerosLike(logits.data);
  let total = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const row = r * vocab;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < vocab; j++) max = Math.max(max, logits.data[row + j]!);
    let z = 0;
    for (let j = 0; j < vocab; j++) z += Math.exp(logits.data[row + j]! - max);
    const logZ = max + Math.log(z);
    for (let j = 0; j < vocab; j++) probs[row + j] = Math.exp(logits.data[row + j]! - logZ);
    const t = targets[r]!;
    if (t === ignore) continue;
    total += logZ - logits.data[row + t]!;
    count++;
  }
  const out = zerosLike(logits.data, 1);
  out[0] = count === 0 ? 0 : total / count;
  return recordOp('crossEntropy', [logits], out, [], (g) => {
    const gl = zerosLike(g, logits.size);
    if (count === 0) return [gl];
    const k = g[0]! / count;
    for (let r = 0; r < rows; r++) {
      const t = targets[r]!;
      if (t === ignore) continue;
      const row = r * vocab;
      for (let j = 0; j < vocab; j++) gl[row + j] = probs[row + j]! * k;
      gl[row + t]! -= k;
    }
    return [gl];
  });
}
