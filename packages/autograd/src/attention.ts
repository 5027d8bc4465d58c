import {
  describeValue,
  expectationError,
  type F64Tensor,
  FaError,
  formatShape,
  maxSeqlenOf,
  referenceAttnBackward,
  referenceAttnForward,
  resolveCuSeqlens,
} from '@fa/core';
import {
  flashAttnVarlen,
  flashAttnVarlenBackward,
  PACKED_OPTION_KEYS,
  type PackedOptions,
  type Tensor,
  tensor,
  VARLEN_OPTION_KEYS,
  type VarlenOptions,
} from '@fa/flash-attn';
import { checkAttnOptions, checkFunction } from './checks.js';
import { checkSameDtype } from './ops.js';
import { type CallScope, createCallScope } from './scope.js';
import { checkVariable, type Float, type Grads, recordOp, type Variable } from './variable.js';

/**
 * The attention op. Its forward hands q, k, v to the façade, which runs the backend's varlen forward; it keeps the
 * façade tensors of q, k, v, `out` and `lse` (which stay where the backend put them) and the dropout seed. Its
 * backward hands the output gradient to the backend's varlen backward with exactly those: nothing is recomputed,
 * and q, k, v are not uploaded twice.
 *
 * Host ↔ backend traffic per call, which is what a GPU backend pays on top of its kernels:
 * forward uploads q, k, v and downloads `out`; backward uploads `dout` and downloads `dq`, `dk`, `dv`.
 * `out` and `lse` never come back for the backward.
 */

/** Every option of `flashAttnVarlen`: `cuSeqlensQ`, `cuSeqlensK`, `causal`, `windowSize`, `softcap`, ... */
export type AttentionOptions = VarlenOptions;
/** Every option of `flashAttnVarlenQKVPacked`: `cuSeqlens`, `maxSeqlen`, `causal`, ... */
export type PackedAttentionOptions = PackedOptions;

/** Made on first use: importing the package touches no runtime API. */
let referenceScope: CallScope | undefined;

/**
 * Runs `fn` with the attention ops computing on `@fa/core`'s float64 reference instead of a backend (forward and
 * backward). `gradcheck` uses it for its finite differences; it is also a way to debug a model in float64.
 * Dropout then needs an explicit `seed`.
 *
 * The scope is `fn`'s own call chain where the runtime has `AsyncLocalStorage` (Node): an attention call that did
 * not start inside `fn` runs on its backend even while `fn` is suspended at an await. In browsers it lasts from
 * the start of `fn` until its promise settles, so keep other attention calls from overlapping an awaited `fn`
 * there (see docs/autograd.md).
 */
export function withReferenceAttention<T>(fn: () => T): T {
  checkFunction(fn, 'fn');
  referenceScope ??= createCallScope();
  return referenceScope.run(fn);
}

function toF32(data: Float): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** `data` in the storage type of `like`, copying only when the types differ. */
function convert(data: Float, like: Float): Float {
  if (like instanceof Float64Array) return data instanceof Float64Array ? data : Float64Array.from(data);
  return toF32(data);
}

interface AttentionParts {
  readonly q: Float;
  readonly k: Float;
  readonly v: Float;
  readonly qShape: readonly number[];
  readonly kShape: readonly number[];
  readonly vShape: readonly number[];
}

/** Maps the gradients of q, k, v (in whatever float type they came) to the gradients of the op's inputs. */
type GradsOf = (dq: Float, dk: Float, dv: Float) => Grads;

async function attentionOp(
  name: string,
  inputs: readonly Variable[],
  parts: AttentionParts,
  options: AttentionOptions,
  gradsOf: GradsOf,
): Promise<Variable> {
  checkSameDtype(name, ...inputs);
  const like = inputs[0]!.data;
  if (referenceScope?.active()) return referenceAttentionOp(name, inputs, parts, options, gradsOf);

  const tq = tensor(toF32(parts.q), parts.qShape);
  const tk = tensor(toF32(parts.k), parts.kShape);
  const tv = tensor(toF32(parts.v), parts.vShape);
  const forward = await flashAttnVarlen(tq, tk, tv, options).catch((error: unknown) => {
    for (const t of [tq, tk, tv]) t.dispose();
    throw error;
  });
  const { out, lse, seed } = forward;
  const saved: Tensor[] = [tq, tk, tv, out, lse];
  const release = () => {
    for (const t of saved) t.dispose();
  };
  let outData: Float;
  try {
    outData = convert((await out.toHost()).data as Float32Array, like);
  } catch (error) {
    release();
    throw error;
  }
  const backward = async (grad: Float): Promise<Grads> => {
    const dout = tensor(toF32(grad), out.shape);
    try {
      // out and lse live on the forward's backend and the call follows them (q, k, v went there with the
      // forward and stay until released): a name would resolve to whatever is registered under it, which need
      // not be that backend.
      const backendOptions = { ...options, seed };
      const grads = await flashAttnVarlenBackward(dout, tq, tk, tv, out, lse, backendOptions);
      const results = [grads.dq, grads.dk, grads.dv];
      try {
        const [dq, dk, dv] = await Promise.all(results.map(async (t) => (await t.toHost()).data as Float32Array));
        return gradsOf(dq!, dk!, dv!);
      } finally {
        for (const t of results) t.dispose();
      }
    } finally {
      dout.dispose();
    }
  };
  return recordOp(name, inputs, outData, out.shape, backward, release);
}

function referenceAttentionOp(
  name: string,
  inputs: readonly Variable[],
  parts: AttentionParts,
  { backend: _backend, ...options }: AttentionOptions,
  gradsOf: GradsOf,
): Promise<Variable> {
  // The reference takes the attention options alone: `backend` names what it stands in for.
  if ((options?.dropoutP ?? 0) > 0 && options.seed === undefined) {
    throw expectationError('E_VALUE', 'seed', 'a fixed seed when dropout runs on the reference', 'undefined');
  }
  const f64 = (data: Float, shape: readonly number[]): F64Tensor => ({
    data: data instanceof Float64Array ? data : Float64Array.from(data),
    shape,
    dtype: 'f64',
  });
  const q = f64(parts.q, parts.qShape);
  const k = f64(parts.k, parts.kShape);
  const v = f64(parts.v, parts.vShape);
  const { out, problem } = referenceAttnForward(q, k, v, options);
  const outShape = [problem.totalQ, problem.numHeads, problem.headDimV];
  return Promise.resolve(
    recordOp(name, inputs, convert(out, inputs[0]!.data), outShape, (grad) => {
      const r = referenceAttnBackward(f64(grad, outShape), q, k, v, options);
      return gradsOf(r.dq, r.dk, r.dv);
    }),
  );
}

/**
 * Varlen attention with gradients: `q (total_q, H, D)`, `k (total_k, Hk, D)`, `v (total_k, Hk, Dv)` →
 * `(total_q, H, Dv)`. Runs on `options.backend`, else the façade's active or best backend.
 */
export async function attention(q: Variable, k: Variable, v: Variable, options: AttentionOptions): Promise<Variable> {
  checkVariable(q, 'q');
  checkVariable(k, 'k');
  checkVariable(v, 'v');
  checkAttnOptions(options, ['cuSeqlensQ', 'cuSeqlensK'], VARLEN_OPTION_KEYS);
  const parts = { q: q.data, k: k.data, v: v.data, qShape: q.shape, kShape: k.shape, vShape: v.shape };
  return attentionOp('attention', [q, k, v], parts, options, (dq, dk, dv) => [
    convert(dq, q.data),
    convert(dk, k.data),
    convert(dv, v.data),
  ]);
}

/** Splits `(rows, parts, inner)` into `parts` arrays of `(rows, inner)`. */
function unstack(data: Float, rows: number, parts: number, inner: number): Float[] {
  return Array.from({ length: parts }, (_, p) => {
    const out = data instanceof Float64Array ? new Float64Array(rows * inner) : new Float32Array(rows * inner);
    for (let r = 0; r < rows; r++)
      out.set(data.subarray((r * parts + p) * inner, (r * parts + p + 1) * inner), r * inner);
    return out;
  });
}

/** The inverse of `unstack`, into the storage type of `like`. */
function stack(pieces: readonly Float[], rows: number, inner: number, like: Float): Float {
  const parts = pieces.length;
  const out =
    like instanceof Float64Array ? new Float64Array(rows * parts * inner) : new Float32Array(rows * parts * inner);
  pieces.forEach((piece, p) => {
    for (let r = 0; r < rows; r++) out.set(piece.subarray(r * inner, (r + 1) * inner), (r * parts + p) * inner);
  });
  return out;
}

/**
 * `cuSeqlens` and `maxSeqlen` of a packed call, checked under the names the caller used: once mapped to the varlen
 * options, the façade would call them `cuSeqlensQ` and `maxSeqlenQ`.
 */
function checkPackedOffsets(options: PackedAttentionOptions, total: number): Int32Array {
  // Converted here, once: the varlen options below carry the Int32Array on.
  const cuSeqlens = resolveCuSeqlens(options.cuSeqlens, 'cuSeqlens', total);
  const { maxSeqlen } = options;
  if (maxSeqlen === undefined) return cuSeqlens;
  const longest = maxSeqlenOf(cuSeqlens);
  if (!(typeof maxSeqlen === 'number' && Number.isSafeInteger(maxSeqlen) && maxSeqlen >= 0)) {
    throw expectationError('E_VALUE', 'maxSeqlen', 'a non-negative integer', describeValue(maxSeqlen));
  }
  if (maxSeqlen < longest) {
    throw new FaError(
      'E_VALUE',
      `Expected \`maxSeqlen\` to be at least the longest sequence (${longest}), received ${maxSeqlen}.`,
      { argument: 'maxSeqlen', expected: `>= ${longest}`, received: String(maxSeqlen) },
    );
  }
  return cuSeqlens;
}

function checkPacked(x: Variable, parts: number, argument: string, layout: string): [number, number, number] {
  checkVariable(x, argument);
  if (x.shape.length !== 4 || x.shape[1] !== parts) {
    throw expectationError('E_SHAPE', argument, `a rank-4 tensor ${layout}`, `shape ${formatShape(x.shape)}`);
  }
  return [x.shape[0]!, x.shape[2]!, x.shape[3]!];
}

/**
 * Self-attention on a packed `qkv (total, 3, H, D)` → `(total, H, D)`, as `flash_attn_varlen_qkvpacked_func`.
 * q, k, v are split once for the backend, and the gradients are packed once into `dqkv`.
 */
export async function attentionQKVPacked(qkv: Variable, options: PackedAttentionOptions): Promise<Variable> {
  const [total, heads, dim] = checkPacked(qkv, 3, 'qkv', '(total, 3, nheads, head_dim)');
  checkAttnOptions(options, ['cuSeqlens'], PACKED_OPTION_KEYS);
  const cuSeqlens = checkPackedOffsets(options, total);
  const [q, k, v] = unstack(qkv.data, total, 3, heads * dim) as [Float, Float, Float];
  const shape = [total, heads, dim];
  const { cuSeqlens: _given, maxSeqlen, ...rest } = options;
  const varlen: AttentionOptions = {
    ...rest,
    cuSeqlensQ: cuSeqlens,
    cuSeqlensK: cuSeqlens,
    maxSeqlenQ: maxSeqlen,
    maxSeqlenK: maxSeqlen,
  };
  const parts = { q, k, v, qShape: shape, kShape: shape, vShape: shape };
  return attentionOp('attentionQKVPacked', [qkv], parts, varlen, (dq, dk, dv) => [
    stack([dq, dk, dv], total, heads * dim, qkv.data),
  ]);
}

/** Cross-attention with packed `kv (total_k, 2, Hk, D)`, as `flash_attn_varlen_kvpacked_func`. */
export async function attentionKVPacked(q: Variable, kv: Variable, options: AttentionOptions): Promise<Variable> {
  checkVariable(q, 'q');
  const [totalK, headsK, dim] = checkPacked(kv, 2, 'kv', '(total_k, 2, nheads_k, head_dim)');
  checkAttnOptions(options, ['cuSeqlensQ', 'cuSeqlensK'], VARLEN_OPTION_KEYS);
  const [k, v] = unstack(kv.data, totalK, 2, headsK * dim) as [Float, Float];
  const shape = [totalK, headsK, dim];
  const parts = { q: q.data, k, v, qShape: q.shape, kShape: shape, vShape: shape };
  return attentionOp('attentionKVPacked', [q, kv], parts, options, (dq, dk, dv) => [
    convert(dq, q.data),
    stack([dk, dv], totalK, headsK * dim, kv.data),
  ]);
}
