import { checkKnownKeys, checkOptionsBag, expectationError, formatShape, optionKeys } from '@fa/core';
import { CallInputs, type TensorInput } from './inputs.js';
import { interleaveTensors } from './interleave.js';
import type { Tensor } from './tensor.js';
import { flashAttnVarlen, flashAttnVarlenBackward, VARLEN_OPTION_KEYS, type VarlenOptions } from './varlen.js';

/** The varlen options a padded batch's shape determines (packed calls derive them from `cuSeqlens`). */
const SHAPE_DERIVED_KEYS = ['cuSeqlensQ', 'cuSeqlensK', 'maxSeqlenQ', 'maxSeqlenK'] as const;
type ShapeDerivedKey = (typeof SHAPE_DERIVED_KEYS)[number];

/**
 * Fixed-length batches, as flash-attention's `flash_attn_func`: `q: (batch, seqlen_q, nheads, head_dim)`,
 * `k: (batch, seqlen_k, nheads_k, head_dim)`, `v: (batch, seqlen_k, nheads_k, head_dim_v)`.
 * A full batch is a packed batch whose sequences all have the same length, so the varlen kernels run on a
 * reshaped view; only lse changes layout, to flash-attention's `(batch, nheads, seqlen_q)`.
 */
export type PaddedOptions = Omit<VarlenOptions, ShapeDerivedKey>;

/** Every key of `PaddedOptions`: the varlen keys but those the shape determines. */
export const PADDED_OPTION_KEYS = optionKeys<PaddedOptions>()(
  VARLEN_OPTION_KEYS.filter(
    (key): key is keyof PaddedOptions => !(SHAPE_DERIVED_KEYS as readonly string[]).includes(key),
  ),
);

function uniformCuSeqlens(batch: number, seqlen: number): Int32Array {
  return Int32Array.from({ length: batch + 1 }, (_, b) => b * seqlen);
}

function rank4(t: Tensor, argument: string, layout: string): [number, number, number, number] {
  if (t.shape.length !== 4) {
    throw expectationError('E_SHAPE', argument, `a rank-4 tensor ${layout}`, `shape ${formatShape(t.shape)}`);
  }
  return t.shape as unknown as [number, number, number, number];
}

function flatten(t: Tensor, argument: string): Tensor {
  t.checkLive(argument);
  const [b, s, h, d] = t.shape as [number, number, number, number];
  return t.reshape([b * s, h, d]);
}

function varlenOptions(options: PaddedOptions, batch: number, seqlenQ: number, seqlenK: number): VarlenOptions {
  checkOptionsBag(options, 'options', 'an options object (or nothing)');
  checkKnownKeys(options, 'options', PADDED_OPTION_KEYS);
  return { ...options, cuSeqlensQ: uniformCuSeqlens(batch, seqlenQ), cuSeqlensK: uniformCuSeqlens(batch, seqlenK) };
}

function shapes(inputs: CallInputs, q: TensorInput, k: TensorInput, v: TensorInput) {
  const tq = inputs.tensor(q, 'q');
  const tk = inputs.tensor(k, 'k');
  const tv = inputs.tensor(v, 'v');
  const [batch, seqlenQ] = rank4(tq, 'q', '(batch, seqlen_q, nheads, head_dim)');
  const [batchK, seqlenK] = rank4(tk, 'k', '(batch, seqlen_k, nheads_k, head_dim)');
  rank4(tv, 'v', '(batch, seqlen_k, nheads_k, head_dim_v)');
  if (batchK !== batch)
    throw expectationError('E_SHAPE', 'k', `batch ${batch} (as q)`, `shape ${formatShape(tk.shape)}`);
  return { tq, tk, tv, batch, seqlenQ, seqlenK };
}

export async function flashAttn(
  q: TensorInput,
  k: TensorInput,
  v: TensorInput,
  options: PaddedOptions = {},
): Promise<{ out: Tensor; lse: Tensor; seed: number }> {
  const inputs = new CallInputs();
  try {
    const { tq, tk, tv, batch, seqlenQ, seqlenK } = shapes(inputs, q, k, v);
    const result = await flashAttnVarlen(
      flatten(tq, 'q'),
      flatten(tk, 'k'),
      flatten(tv, 'v'),
      varlenOptions(options, batch, seqlenQ, seqlenK),
    );
    const [numHeads, headDimV] = [tq.shape[2] as number, tv.shape[3] as number];
    let lse: Tensor;
    try {
      // (nheads, batch·seqlen) → (batch, nheads, seqlen): row b takes row b of every head.
      const heads = Array.from({ length: numHeads }, (_, h) => ({ tensor: result.lse, offset: h * batch * seqlenQ }));
      lse = await interleaveTensors(result.lse.residence, 'lse', heads, batch, seqlenQ, 'f32', [
        batch,
        numHeads,
        seqlenQ,
      ]);
    } catch (error) {
      result.out.dispose();
      throw error;
    } finally {
      result.lse.dispose();
    }
    return { out: result.out.reshape([batch, seqlenQ, numHeads, headDimV]), lse, seed: result.seed };
  } finally {
    inputs.release();
  }
}

/** Gradients of `flashAttn`; `lse: (batch, nheads, seqlen_q)` as `flashAttn` returned it. */
export async function flashAttnBackward(
  dout: TensorInput,
  q: TensorInput,
  k: TensorInput,
  v: TensorInput,
  out: TensorInput,
  lse: TensorInput,
  options: PaddedOptions = {},
): Promise<{ dq: Tensor; dk: Tensor; dv: Tensor }> {
  const inputs = new CallInputs();
  try {
    const { tq, tk, tv, batch, seqlenQ, seqlenK } = shapes(inputs, q, k, v);
    const tdout = inputs.tensor(dout, 'dout');
    const tout = inputs.tensor(out, 'out');
    const tlse = inputs.tensor(lse, 'lse');
    rank4(tdout, 'dout', '(batch, seqlen_q, nheads, head_dim_v)');
    rank4(tout, 'out', '(batch, seqlen_q, nheads, head_dim_v)');
    const numHeads = tq.shape[2] as number;
    if (tlse.shape.length !== 3 || tlse.shape[0] !== batch || tlse.shape[1] !== numHeads || tlse.shape[2] !== seqlenQ) {
      throw expectationError(
        'E_SHAPE',
        'lse',
        `shape (${batch}, ${numHeads}, ${seqlenQ})`,
        `shape ${formatShape(tlse.shape)}`,
      );
    }
    // (batch, nheads, seqlen) → (nheads, batch·seqlen): row h takes row h of every sequence.
    const sequences = Array.from({ length: batch }, (_, b) => ({ tensor: tlse, offset: b * numHeads * seqlenQ }));
    const lseVarlen = await interleaveTensors(tlse.residence, 'lse', sequences, numHeads, seqlenQ, 'f32', [
      numHeads,
      batch * seqlenQ,
    ]);
    try {
      const grads = await flashAttnVarlenBackward(
        flatten(tdout, 'dout'),
        flatten(tq, 'q'),
        flatten(tk, 'k'),
        flatten(tv, 'v'),
        flatten(tout, 'out'),
        lseVarlen,
        varlenOptions(options, batch, seqlenQ, seqlenK),
      );
      return {
        dq: grads.dq.reshape(tq.shape),
        dk: grads.dk.reshape(tk.shape),
        dv: grads.dv.reshape(tv.shape),
      };
    } finally {
      lseVarlen.dispose();
    }
  } finally {
    inputs.release();
  }
}
