import {
  ATTN_OPTION_KEYS,
  type AttentionBackend,
  type AttnOptions,
  type AttnProblem,
  checkKnownKeys,
  checkOptionsBag,
  checkTensorMeta,
  contiguousLayout,
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
 * The q, k, v a backend's kernels receive, and the problem that describes them. Views (the parts of a packed
 * `qkv`) go as they are to a backend whose kernels read `problem.layouts`; any other backend receives dense copies
 * of them, and layouts that say so.
 */
async function kernelInputs(
  inputs: CallInputs,
  backend: AttentionBackend,
  problem: AttnProblem,
  [q, k, v]: readonly [Tensor, Tensor, Tensor],
): Promise<{ tensors: [Tensor, Tensor, Tensor]; problem: AttnProblem }> {
  if (backend.capabilities.stridedInputs || (!q.view && !k.view && !v.view)) return { tensors: [q, k, v], problem };
  const tensors: [Tensor, Tensor, Tensor] = [
    await inputs.contiguous(q, 'q'),
    await inputs.contiguous(k, 'k'),
    await inputs.contiguous(v, 'v'),
  ];
  const layouts = {
    q: contiguousLayout(problem.numHeads, problem.headDim),
    k: contiguousLayout(problem.numHeadsK, problem.headDim),
    v: contiguousLayout(problem.numHeadsK, problem.headDimV),
  };
  return { tensors, problem: { ...problem, layouts } };
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
    const resolved = resolveAttnProblem(tq, tk, tv, attnOptionsOf(options));
    const backend = await inputs.backend(options.backend, tq, tk, tv);
    checkCapabilities(backend, resolved, false);
    const { tensors, problem } = await kernelInputs(inputs, backend, resolved, [tq, tk, tv]);
    const [hq, hk, hv] = await inputs.handles(backend, [
      [tensors[0], 'q'],
      [tensors[1], 'k'],
      [tensors[2], 'v'],
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
    const kernel = await kernelInputs(inputs, backend, problem, [tq, tk, tv]);
    // Kernels read dout, out and lse densely: a view among them is copied.
    const [cdout, cout, clse] = [
      await inputs.contiguous(tdout, 'dout'),
      await inputs.contiguous(tout, 'out'),
      await inputs.contiguous(tlse, 'lse'),
    ];
    const [hdout, hq, hk, hv, hout, hlse] = await inputs.handles(backend, [
      [cdout, 'dout'],
      [kernel.tensors[0], 'q'],
      [kernel.tensors[1], 'k'],
      [kernel.tensors[2], 'v'],
      [cout, 'out'],
      [clse, 'lse'],
    ]);
    const grads = await backend.backward(hdout, hq, hk, hv, hout, hlse, kernel.problem);
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
