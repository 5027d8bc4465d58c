import {
  type CuSeqlensInput,
  checkKnownKeys,
  checkOptionsBag,
  expectationError,
  formatShape,
  optionKeys,
  resolveCuSeqlens,
} from '@fa/core';
import { CallInputs, type TensorInput } from './inputs.js';
import { interleaveTensors } from './interleave.js';
import { PADDED_OPTION_KEYS, type PaddedOptions } from './padded.js';
import type { Tensor } from './tensor.js';
import { flashAttnVarlen, flashAttnVarlenBackward, type VarlenForwardResult, type VarlenOptions } from './varlen.js';

/**
 * The packed entry points of flash-attention: `qkv: (total, 3, nheads, head_dim)` for self-attention and
 * `kv: (total_k, 2, nheads_k, head_dim)` for cross-attention. They split the packed tensor in host memory and
 * run the varlen kernels; gradients come back packed the same way.
 */

export type PackedOptions = PaddedOptions & {
  /** batch + 1 offsets for queries and keys alike: an `Int32Array` or plain integers, as `cuSeqlensQ`. */
  readonly cuSeqlens: CuSeqlensInput;
  readonly maxSeqlen?: number;
};

/** Every key of `PackedOptions`: one `cuSeqlens` and `maxSeqlen` in place of the varlen pairs. */
export const PACKED_OPTION_KEYS = optionKeys<PackedOptions>()([...PADDED_OPTION_KEYS, 'cuSeqlens', 'maxSeqlen']);

function varlenOptions(options: PackedOptions): VarlenOptions {
  checkOptionsBag(options, 'options', 'an options object with cuSeqlens');
  checkKnownKeys(options, 'options', PACKED_OPTION_KEYS);
  const { cuSeqlens: given, maxSeqlen, ...rest } = options;
  // One array serves queries and keys; converted and checked here so that errors name it as the caller wrote it.
  const cuSeqlens = resolveCuSeqlens(given, 'cuSeqlens');
  return { ...rest, cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens, maxSeqlenQ: maxSeqlen, maxSeqlenK: maxSeqlen };
}

/**
 * The parts of a packed `(total, parts, nheads, head_dim)` tensor as strided views of its storage: part p starts
 * `p · nheads · head_dim` elements in, and every token is `parts · nheads · head_dim` further on. No data moves; a
 * backend whose kernels read layouts runs on the packed buffer itself, and the façade copies the parts for any
 * other. The views share the packed tensor's lifetime, so they are never disposed on their own.
 */
function unpack(inputs: CallInputs, value: TensorInput, argument: string, parts: number): Tensor[] {
  const packed = inputs.tensor(value, argument);
  if (packed.shape.length !== 4 || packed.shape[1] !== parts) {
    const layout = parts === 3 ? '(total, 3, nheads, head_dim)' : '(total_k, 2, nheads_k, head_dim)';
    throw expectationError('E_SHAPE', argument, `a rank-4 tensor ${layout}`, `shape ${formatShape(packed.shape)}`);
  }
  packed.checkLive(argument);
  const [total, , heads, dim] = packed.shape as [number, number, number, number];
  const row = heads * dim;
  return Array.from({ length: parts }, (_, part) =>
    packed.strided([total, heads, dim], { offset: part * row, tokenStride: parts * row, headStride: dim }),
  );
}

/** Gradients `(n, heads, dim)` of the parts stacked into one `(n, parts, heads, dim)`, on their backend if it can. */
function pack(parts: readonly Tensor[]): Promise<Tensor> {
  const first = parts[0] as Tensor;
  const [n, heads, dim] = first.shape as [number, number, number];
  const sources = parts.map((t) => ({ tensor: t, offset: 0 }));
  return interleaveTensors(first.residence, 'grads', sources, n, heads * dim, first.dtype, [
    n,
    parts.length,
    heads,
    dim,
  ]);
}

function disposeAll(tensors: readonly Tensor[]): void {
  for (const t of tensors) t.dispose();
}

export async function flashAttnVarlenQKVPacked(qkv: TensorInput, options: PackedOptions): Promise<VarlenForwardResult> {
  const inputs = new CallInputs();
  try {
    const parts = unpack(inputs, qkv, 'qkv', 3);
    const [q, k, v] = parts as [Tensor, Tensor, Tensor];
    return await flashAttnVarlen(q, k, v, varlenOptions(options));
  } finally {
    inputs.release();
  }
}

export async function flashAttnVarlenQKVPackedBackward(
  dout: TensorInput,
  qkv: TensorInput,
  out: TensorInput,
  lse: TensorInput,
  options: PackedOptions,
): Promise<{ dqkv: Tensor }> {
  const inputs = new CallInputs();
  try {
    const parts = unpack(inputs, qkv, 'qkv', 3);
    const [q, k, v] = parts as [Tensor, Tensor, Tensor];
    const grads = await flashAttnVarlenBackward(dout, q, k, v, out, lse, varlenOptions(options));
    const gradList = [grads.dq, grads.dk, grads.dv];
    try {
      return { dqkv: await pack(gradList) };
    } finally {
      disposeAll(gradList);
    }
  } finally {
    inputs.release();
  }
}

export async function flashAttnVarlenKVPacked(
  q: TensorInput,
  kv: TensorInput,
  options: VarlenOptions,
): Promise<VarlenForwardResult> {
  const inputs = new CallInputs();
  try {
    const parts = unpack(inputs, kv, 'kv', 2);
    const [k, v] = parts as [Tensor, Tensor];
    return await flashAttnVarlen(q, k, v, options);
  } finally {
    inputs.release();
  }
}

export async function flashAttnVarlenKVPackedBackward(
  dout: TensorInput,
  q: TensorInput,
  kv: TensorInput,
  out: TensorInput,
  lse: TensorInput,
  options: VarlenOptions,
): Promise<{ dq: Tensor; dkv: Tensor }> {
  const inputs = new CallInputs();
  try {
    const parts = unpack(inputs, kv, 'kv', 2);
    const [k, v] = parts as [Tensor, Tensor];
    const grads = await flashAttnVarlenBackward(dout, q, k, v, out, lse, options);
    try {
      return { dq: grads.dq, dkv: await pack([grads.dk, grads.dv]) };
    } catch (error) {
      grads.dq.dispose();
      throw error;
    } finally {
      disposeAll([grads.dk, grads.dv]);
    }
  } finally {
    inputs.release();
  }
}
