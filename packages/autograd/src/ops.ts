import { describeValue, expectationError, formatShape, numel } from '@fa/core';
import { checkFloatData, checkNumber, checkShape, isCount, MAX_ELEMENTS } from './checks.js';
import { checkVariable, checkVariables, type Float, recordOp, Variable } from './variable.js';

/**
 * Shape, arithmetic and matrix ops on host data. Each computes its result in the storage type of its inputs and
 * records a backward closure that captures only what it needs.
 */

/** A zeroed array of `n` elements (default `like.length`) of the same storage type as `like`. */
export function zerosLike(like: Float, n?: number): Float {
  checkFloatData(like, 'like');
  n = checkNumber(n, 'n', `an element count in [0, ${MAX_ELEMENTS}]`, isCount, like.length);
  return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

export function checkSameDtype(op: string, ...vars: Variable[]): void {
  if (typeof op !== 'string') throw expectationError('E_VALUE', 'op', 'the name of an op', describeValue(op));
  checkVariables(vars, 'vars');
  if (vars.length === 0) return;
  const dtype = vars[0]!.dtype;
  for (const v of vars) {
    if (v.dtype !== dtype) {
      throw expectationError('E_DTYPE', op, `inputs of one dtype ('${dtype}')`, `'${v.dtype}'`);
    }
  }
}

function checkRank(v: Variable, rank: number, argument: string, layout: string): void {
  if (v.shape.length !== rank) {
    throw expectationError('E_SHAPE', argument, `a rank-${rank} tensor ${layout}`, `shape ${formatShape(v.shape)}`);
  }
}

/** Whether `suffix` is a trailing part of `shape` (how `add` and `mul` broadcast their second argument). */
function isSuffix(shape: readonly number[], suffix: readonly number[]): boolean {
  const offset = shape.length - suffix.length;
  return offset >= 0 && suffix.every((d, i) => d === shape[offset + i]);
}

function checkBroadcast(op: string, a: Variable, b: Variable): void {
  checkSameDtype(op, a, b);
  if (!isSuffix(a.shape, b.shape)) {
    throw expectationError(
      'E_SHAPE',
      'b',
      `a shape of ${formatShape(a.shape)} or a trailing part of it (${op}(a, b) broadcasts b)`,
      `shape ${formatShape(b.shape)}`,
    );
  }
}

/** Sums a gradient of `a`'s shape down to `b`'s (a trailing part of it, repeated over the leading axes). */
function reduceToSuffix(grad: Float, n: number): Float {
  if (grad.length === n) return grad;
  const out = zerosLike(grad, n);
  for (let i = 0; i < grad.length; i++) out[i % n]! += grad[i]!;
  return out;
}

/** `a + b`, where `b` has `a`'s shape or a trailing part of it (a bias). */
export function add(a: Variable, b: Variable): Variable {
  checkVariable(a, 'a');
  checkVariable(b, 'b');
  checkBroadcast('add', a, b);
  const out = a.data.slice();
  const n = b.size;
  for (let i = 0; i < out.length; i++) out[i]! += b.data[i % n]!;
  return recordOp('add', [a, b], out, a.shape, (g) => [g, reduceToSuffix(g, n)]);
}

/** `a * b` elementwise, where `b` has `a`'s shape or a trailing part of it (a gain). */
export function mul(a: Variable, b: Variable): Variable {
  checkVariable(a, 'a');
  checkVariable(b, 'b');
  checkBroadcast('mul', a, b);
  const out = zerosLike(a.data);
  const n = b.size;
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < out.length; i++) out[i] = x[i]! * y[i % n]!;
  return recordOp('mul', [a, b], out, a.shape, (g) => {
    const ga = zerosLike(g);
    const gb = zerosLike(g);
    for (let i = 0; i < g.length; i++) {
      ga[i] = g[i]! * y[i % n]!;
      gb[i] = g[i]! * x[i]!;
    }
    return [ga, reduceToSuffix(gb, n)];
  });
}

/** `c · a` for a constant `c`. */
export function scale(a: Variable, c: number): Variable {
  checkVariable(a, 'a');
  checkNumber(c, 'c', 'a finite number', Number.isFinite);
  const out = zerosLike(a.data);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i]! * c;
  return recordOp('scale', [a], out, a.shape, (g) => {
    const ga = zerosLike(g);
    for (let i = 0; i < g.length; i++) ga[i] = g[i]! * c;
    return [ga];
  });
}

/** The sum of all elements, as a one-element variable of shape `[]`. */
export function sum(a: Variable): Variable {
  checkVariable(a, 'a');
  let total = 0;
  for (let i = 0; i < a.size; i++) total += a.data[i]!;
  const out = zerosLike(a.data, 1);
  out[0] = total;
  return recordOp('sum', [a], out, [], (g) => [zerosLike(a.data).fill(g[0]!)]);
}

export function mean(a: Variable): Variable {
  checkVariable(a, 'a');
  return scale(sum(a), 1 / Math.max(1, a.size));
}

/** The same data under another shape (one entry may be -1). No copy: the result shares `a`'s storage. */
export function reshape(a: Variable, shape: readonly number[]): Variable {
  checkVariable(a, 'a');
  const entries = Array.isArray(shape) ? (shape as unknown[]) : [];
  const wildcards = entries.filter((d) => d === -1).length;
  if (!Array.isArray(shape) || wildcards > 1 || !entries.every((d) => Number.isSafeInteger(d) && (d as number) >= -1)) {
    throw expectationError('E_SHAPE', 'shape', 'non-negative integers with at most one -1', describeValue(shape));
  }
  const inferred = [...shape];
  const unknown = inferred.indexOf(-1);
  if (unknown >= 0) {
    const known = numel(inferred.filter((_, i) => i !== unknown));
    inferred[unknown] = known === 0 ? 0 : a.size / known;
  }
  if (!inferred.every((d) => Number.isSafeInteger(d) && d >= 0) || numel(inferred) !== a.size) {
    throw expectationError('E_SHAPE', 'shape', `a shape of ${a.size} elements`, describeValue(shape));
  }
  return recordOp('reshape', [a], a.data, inferred, (g) => [g]);
}

/**
 * Splits `a` along `axis` into parts of the given sizes, e.g. a fused `(T, 3·d)` projection into three `(T, d)`.
 * Each part is a copy; the gradient of each part lands in its slice of `a`'s gradient.
 */
export function split(a: Variable, sizes: readonly number[], axis = -1): Variable[] {
  checkVariable(a, 'a');
  checkNumber(axis, 'axis', 'an integer axis', Number.isSafeInteger);
  if (!Array.isArray(sizes)) throw expectationError('E_SHAPE', 'sizes', 'an array of sizes', describeValue(sizes));
  const rank = a.shape.length;
  const ax = axis < 0 ? axis + rank : axis;
  if (!(ax >= 0 && ax < rank)) throw expectationError('E_SHAPE', 'axis', `an axis of a rank-${rank} tensor`, `${axis}`);
  const axisLength = a.shape[ax]!;
  if (sizes.some((n) => !Number.isSafeInteger(n) || n < 0) || sizes.reduce((s, n) => s + n, 0) !== axisLength) {
    throw expectationError('E_SHAPE', 'sizes', `sizes summing to ${axisLength}`, describeValue(sizes));
  }
  const outer = numel(a.shape.slice(0, ax));
  const inner = numel(a.shape.slice(ax + 1));
  let offset = 0;
  return sizes.map((size) => {
    const start = offset;
    offset += size;
    const out = zerosLike(a.data, outer * size * inner);
    const run = size * inner;
    for (let o = 0; o < outer; o++) {
      const from = (o * axisLength + start) * inner;
      out.set(a.data.subarray(from, from + run), o * run);
    }
    const shape = a.shape.map((d, i) => (i === ax ? size : d));
    return recordOp('split', [a], out, shape, (g) => {
      const ga = zerosLike(g, a.size);
      for (let o = 0; o < outer; o++) ga.set(g.subarray(o * run, (o + 1) * run), (o * axisLength + start) * inner);
      return [ga];
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Matrix products. Three loop orders cover forward and both gradients, each walking memory contiguously. Four
// rows are combined per pass of the inner loop, which reads and writes the output a quarter as often (about 2×
// faster in V8 than the plain loops, which finish the remainder).

/** c (m, n) += a (m, k) · b (k, n) */
function matmulNN(a: Float, b: Float, c: Float, m: number, k: number, n: number): void {
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    const ai = i * k;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const [a0, a1, a2, a3] = [a[ai + p]!, a[ai + p + 1]!, a[ai + p + 2]!, a[ai + p + 3]!];
      const b0 = p * n;
      const [b1, b2, b3] = [b0 + n, b0 + 2 * n, b0 + 3 * n];
      for (let j = 0; j < n; j++) c[ci + j]! += a0 * b[b0 + j]! + a1 * b[b1 + j]! + a2 * b[b2 + j]! + a3 * b[b3 + j]!;
    }
    for (; p < k; p++) {
      const aip = a[ai + p]!;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j]! += aip * b[bp + j]!;
    }
  }
}

/** c (m, k) += a (m, n) · bᵀ, with b (k, n) */
function matmulNT(a: Float, b: Float, c: Float, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const ai = i * n;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const b0 = p * n;
      const [b1, b2, b3] = [b0 + n, b0 + 2 * n, b0 + 3 * n];
      let [d0, d1, d2, d3] = [0, 0, 0, 0];
      for (let j = 0; j < n; j++) {
        const x = a[ai + j]!;
        d0 += x * b[b0 + j]!;
        d1 += x * b[b1 + j]!;
        d2 += x * b[b2 + j]!;
        d3 += x * b[b3 + j]!;
      }
      const o = i * k + p;
      c[o]! += d0;
      c[o + 1]! += d1;
      c[o + 2]! += d2;
      c[o + 3]! += d3;
    }
    for (; p < k; p++) {
      const bp = p * n;
      let dot = 0;
      for (let j = 0; j < n; j++) dot += a[ai + j]! * b[bp + j]!;
      c[i * k + p]! += dot;
    }
  }
}

/** c (k, n) += aᵀ · b, with a (m, k) and b (m, n) */
function matmulTN(a: Float, b: Float, c: Float, m: number, k: number, n: number): void {
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const b0 = i * n;
    const [b1, b2, b3] = [b0 + n, b0 + 2 * n, b0 + 3 * n];
    for (let p = 0; p < k; p++) {
      const [a0, a1, a2, a3] = [a[i * k + p]!, a[(i + 1) * k + p]!, a[(i + 2) * k + p]!, a[(i + 3) * k + p]!];
      const cp = p * n;
      for (let j = 0; j < n; j++) c[cp + j]! += a0 * b[b0 + j]! + a1 * b[b1 + j]! + a2 * b[b2 + j]! + a3 * b[b3 + j]!;
    }
  }
  for (; i < m; i++) {
    const bi = i * n;
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p]!;
      const cp = p * n;
      for (let j = 0; j < n; j++) c[cp + j]! += aip * b[bi + j]!;
    }
  }
}

/** `a (m, k) · b (k, n)`. */
export function matmul(a: Variable, b: Variable): Variable {
  checkVariable(a, 'a');
  checkVariable(b, 'b');
  checkSameDtype('matmul', a, b);
  checkRank(a, 2, 'a', '(m, k)');
  checkRank(b, 2, 'b', '(k, n)');
  const [m, k] = a.shape as [number, number];
  const n = b.shape[1]!;
  if (b.shape[0] !== k) {
    throw expectationError('E_SHAPE', 'b', `shape (${k}, n) to match a's ${k} columns`, formatShape(b.shape));
  }
  const out = zerosLike(a.data, m * n);
  matmulNN(a.data, b.data, out, m, k, n);
  return recordOp('matmul', [a, b], out, [m, n], (g) => {
    const ga = a.requiresGrad ? zerosLike(g, m * k) : null;
    const gb = b.requiresGrad ? zerosLike(g, k * n) : null;
    if (ga) matmulNT(g, b.data, ga, m, n, k);
    if (gb) matmulTN(a.data, g, gb, m, k, n);
    return [ga, gb];
  });
}

/**
 * `x · w + bias` over the last axis: `x (..., in)`, `w (in, out)`, `bias (out)`. Leading axes are flattened, so
 * `(T, H, D)` inputs work as they are.
 */
export function linear(x: Variable, w: Variable, bias?: Variable): Variable {
  checkVariable(x, 'x');
  checkVariable(w, 'w');
  if (bias !== undefined) checkVariable(bias, 'bias');
  checkSameDtype('linear', x, w, ...(bias ? [bias] : []));
  checkRank(w, 2, 'w', '(in_features, out_features)');
  const [inF, outF] = w.shape as [number, number];
  if (x.shape[x.shape.length - 1] !== inF) {
    throw expectationError('E_SHAPE', 'x', `a last axis of ${inF} (w's in_features)`, formatShape(x.shape));
  }
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== outF)) {
    throw expectationError('E_SHAPE', 'bias', `shape (${outF},)`, formatShape(bias.shape));
  }
  // Not x.size / inF: with in_features 0 that is 0 / 0, and the (rows, out) result must still be bias-filled.
  const rows = numel(x.shape.slice(0, -1));
  const out = zerosLike(x.data, rows * outF);
  if (bias) for (let r = 0; r < rows; r++) out.set(bias.data, r * outF);
  matmulNN(x.data, w.data, out, rows, inF, outF);
  const shape = [...x.shape.slice(0, -1), outF];
  const inputs = bias ? [x, w, bias] : [x, w];
  return recordOp('linear', inputs, out, shape, (g) => {
    const gx = x.requiresGrad ? zerosLike(g, x.size) : null;
    const gw = w.requiresGrad ? zerosLike(g, w.size) : null;
    if (gx) matmulNT(g, w.data, gx, rows, outF, inF);
    if (gw) matmulTN(x.data, g, gw, rows, inF, outF);
    return bias ? [gx, gw, reduceToSuffix(g, outF)] : [gx, gw];
  });
}

/** A leaf variable of zeros, e.g. to start a sum. */
export function zeros(shape: readonly number[], dtype: 'f32' | 'f64' = 'f32'): Variable {
  const n = numel(checkShape(shape, 'shape'));
  if (n > MAX_ELEMENTS) throw expectationError('E_LIMIT', 'shape', `at most ${MAX_ELEMENTS} elements`, `${n}`);
  if (dtype !== 'f32' && dtype !== 'f64') {
    throw expectationError('E_DTYPE', 'dtype', "'f32' or 'f64'", describeValue(dtype));
  }
  return new Variable(dtype === 'f64' ? new Float64Array(n) : new Float32Array(n), shape);
}
