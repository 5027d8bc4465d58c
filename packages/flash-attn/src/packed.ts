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
import { splitSecondAxis, stackSecondAxis } from './layout.js';
import { PADDED_OPTION_KEYS, type PaddedOptions } from './padded.js';
import { type Tensor, tensor } from './tensor.js';
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

async function unpack(inputs: CallInputs, value: TensorInput, argument: string, parts: number): Promise<Tensor[]> {
  const packed = inputs.tensor(value, argument);
  if (packed.shape.length !== 4 || packed.shape[1] !== parts) {
    const layout = parts === 3 ? '(total, 3, nheads, head_dim)' : '(total_k, 2, nheads_k, head_dim)';
    throw expectationError('E_SHAPE', argument, `a rank-4 tensor ${layout}`, `shape ${formatShape(packed.shape)}`);
  }
  const host = await packed.readHost(argument);
  return splitSecondAxis(host, parts).map((part) => tensor(part));
}

async function pack(parts: readonly Tensor[]): Promise<Tensor> {
  const hosts = await Promise.all(parts.map((t) => t.toHost()));
  return tensor(stackSecondAxis(hosts));
}

function disposeAll(tensors: readonly Tensor[]): void {
  for (const t of tensors) t.dispose();
}

export async function flashAttnVarlenQKVPacked(qkv: TensorInput, options: PackedOptions): Promise<VarlenForwardResult> {
  const inputs = new CallInputs();
  const parts = await unpack(inputs, qkv, 'qkv', 3).finally(() => inputs.release());
  try {
    const [q, k, v] = parts as [Tensor, Tensor, Tensor];
    return await flashAttnVarlen(q, k, v, varlenOptions(options));
  } finally {
    disposeAll(parts);
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
  const parts = await unpack(inputs, qkv, 'qkv', 3).finally(() => inputs.release());
  try {
    const [q, k, v] = parts as [Tensor, Tensor, Tensor];
    const grads = await flashAttnVarlenBackward(dout, q, k, v, out, lse, varlenOptions(options));
    const gradList = [grads.dq, grads.dk, grads.dv];
    try {
      return { dqkv: await pack(gradList) };
    } finally {
      disposeAll(gradList);
    }
  } finally {
    disposeAll(parts);
  }
}

export async function flashAttnVarlenKVPacked(
  q: TensorInput,
  kv: TensorInput,
  options: VarlenOptions,
): Promise<VarlenForwardResult> {
  const inputs = new CallInputs();
  const parts = await unpack(inputs, kv, 'kv', 2).finally(() => inputs.release());
  try {
    const [k, v] = parts as [Tensor, Tensor];
    return await flashAttnVarlen(q, k, v, options);
  } finally {
    disposeAll(parts);
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
  const parts = await unpack(inputs, kv, 'kv', 2).finally(() => inputs.release());
  try {
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
    disposeAll(parts);
  }
}
