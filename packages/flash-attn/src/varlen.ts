import {
  ATTN_OPTION_KEYS,
  type AttentionBackend,
  type AttnOptions,
  type AttnProblem,
  checkKnownKeys,
  checkOptionsBag,
  checkTensorMeta,
  expectationError,
  FaError,
  optionKeys,
  resolveAttnProblem,
} from '@fa/core';
import { CallInputs, type TensorInput } from './inputs.js';
import { Tensor } from './tensor.js';

export interface VarlenOptions extends AttnOptions {
  /** Run on this backend; by default, the backend the inputs live on, else the active or best one. */
  readonly backend?: string;
}

/** Every key of `VarlenOptions`: any other key is a typo and an error. */
export const VARLEN_OPTION_KEYS = optionKeys<VarlenOptions>()([...ATTN_OPTION_KEYS, 'backend']);

/** The options the core problem resolves: all but `backend`, which only the façade reads, once the keys are known. */
function attnOptionsOf(options: VarlenOptions): AttnOptions {
  checkOptionsBag(options, 'options', 'an options object with cuSeqlensQ and cuSeqlensK');
  checkKnownKeys(options, 'options', VARLEN_OPTION_KEYS);
  const { backend: _backend, ...attnOptions } = options as VarlenOptions;
  return attnOptions;
}

export interface VarlenForwardResult {
  /** (total_q, nheads, head_dim_v), in the dtype of q. */
  readonly out: Tensor;
  /** (nheads, total_q), f32; +inf for rows that see no key. */
  readonly lse: Tensor;
  /** The dropout seed used; pass it to the backward call. 0 when dropout is off. */
  readonly seed: number;
}

export interface VarlenBackwardResult {
  readonly dq: Tensor;
  readonly dk: Tensor;
  readonly dv: Tensor;
}

function checkCapabilities(backend: AttentionBackend, problem: AttnProblem, needsBackward: boolean): void {
  const caps = backend.capabilities;
  const unsupported = (argument: string, expected: string, received: string) =>
    new FaError(
      'E_UNSUPPORTED',
      `Backend "${backend.name}" expects ${expected} for \`${argument}\`, received ${received}.`,
      {
        argument,
        expected,
        received,
      },
    );
  if (!caps.dtypes.includes(problem.dtype)) {
    throw unsupported('q', `dtype ${caps.dtypes.map((d) => `'${d}'`).join(' or ')}`, `'${problem.dtype}'`);
  }
  if (problem.headDim > caps.maxHeadDim)
    throw unsupported('q', `head_dim <= ${caps.maxHeadDim}`, String(problem.headDim));
  if (problem.headDimV > caps.maxHeadDim)
    throw unsupported('v', `head_dim_v <= ${caps.maxHeadDim}`, String(problem.headDimV));
  if (problem.dropoutP > 0 && !caps.dropout) throw unsupported('dropoutP', 'dropoutP = 0', String(problem.dropoutP));
  if (needsBackward && !caps.backward) throw unsupported('backward', 'forward-only calls', 'a backward call');
  if (problem.deterministic && !caps.deterministic) throw unsupported('deterministic', 'deterministic: false', 'true');
}

/**
 * Variable-length attention forward, as flash-attention's `flash_attn_varlen_func`.
 * `q: (total_q, nheads, head_dim)`, `k: (total_k, nheads_k, head_dim)`, `v: (total_k, nheads_k, head_dim_v)`.
 */
export async function flashAttnVarlen(
  q: TensorInput,
  k: TensorInput,
  v: TensorInput,
  options: VarlenOptions,
): Promise<VarlenForwardResult> {
  const inputs = new CallInputs();
  try {
    const tq = inputs.tensor(q, 'q');
    const tk = inputs.tensor(k, 'k');
    const tv = inputs.tensor(v, 'v');
    const problem = resolveAttnProblem(tq, tk, tv, attnOptionsOf(options));
    const backend = await inputs.backend(options.backend, tq, tk, tv);
    checkCapabilities(backend, problem, false);
    const [hq, hk, hv] = await inputs.handles(backend, [
      [tq, 'q'],
      [tk, 'k'],
      [tv, 'v'],
    ]);
    const result = await backend.forward(hq, hk, hv, problem);
    return {
      out: new Tensor([problem.totalQ, problem.numHeads, problem.headDimV], problem.dtype, {
        backend,
        handle: result.out,
      }),
      lse: new Tensor([problem.numHeads, problem.totalQ], 'f32', { backend, handle: result.lse }),
      seed: problem.seed,
    };
  } finally {
    inputs.release();
  }
}

/**
 * Gradients of `flashAttnVarlen`. Pass the same options as the forward call, including the `seed` it returned
 * when dropout is on. `dout: (total_q, nheads, head_dim_v)`; `out`, `lse` are the forward's results.
 */
export async function flashAttnVarlenBackward(
  dout: TensorInput,
  q: TensorInput,
  k: TensorInput,
  v: TensorInput,
  out: TensorInput,
  lse: TensorInput,
  options: VarlenOptions,
): Promise<VarlenBackwardResult> {
  const inputs = new CallInputs();
  try {
    const tq = inputs.tensor(q, 'q');
    const tk = inputs.tensor(k, 'k');
    const tv = inputs.tensor(v, 'v');
    const problem = resolveAttnProblem(tq, tk, tv, attnOptionsOf(options));
    // Checked after the options are known valid, so a bad dropoutP is named as such rather than as a missing seed.
    if (problem.dropoutP > 0 && options.seed === undefined) {
      throw expectationError('E_VALUE', 'seed', 'the seed returned by the forward call (dropout is on)', 'undefined');
    }
    const tdout = inputs.tensor(dout, 'dout');
    const tout = inputs.tensor(out, 'out');
    const tlse = inputs.tensor(lse, 'lse');
    checkTensorMeta(tdout, 'dout', [problem.totalQ, problem.numHeads, problem.headDimV], problem.dtype);
    checkTensorMeta(tout, 'out', [problem.totalQ, problem.numHeads, problem.headDimV], problem.dtype);
    checkTensorMeta(tlse, 'lse', [problem.numHeads, problem.totalQ], 'f32');
    const backend = await inputs.backend(options.backend, tq, tk, tv, tdout, tout, tlse);
    checkCapabilities(backend, problem, true);
    const [hdout, hq, hk, hv, hout, hlse] = await inputs.handles(backend, [
      [tdout, 'dout'],
      [tq, 'q'],
      [tk, 'k'],
      [tv, 'v'],
      [tout, 'out'],
      [tlse, 'lse'],
    ]);
    const grads = await backend.backward(hdout, hq, hk, hv, hout, hlse, problem);
    return {
      dq: new Tensor([problem.totalQ, problem.numHeads, problem.headDim], problem.dtype, { backend, handle: grads.dq }),
      dk: new Tensor([problem.totalK, problem.numHeadsK, problem.headDim], problem.dtype, {
        backend,
        handle: grads.dk,
      }),
      dv: new Tensor([problem.totalK, problem.numHeadsK, problem.headDimV], problem.dtype, {
        backend,
        handle: grads.dv,
      }),
    };
  } finally {
    inputs.release();
  }
}
