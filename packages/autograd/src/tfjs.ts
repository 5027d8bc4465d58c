import {
  ATTN_OPTION_KEYS,
  type AttnOptions,
  describeValue,
  expectationError,
  type FloatHostTensor,
  formatShape,
  optionKeys,
} from '@fa/core';
import { attnBackwardSync, attnForwardSync } from '@fa/flash-attn/cpu';
import * as tf from '@tensorflow/tfjs-core';
import { checkAttnOptions } from './checks.js';

/**
 * fa attention as a TensorFlow.js op with gradients, through `tf.customGrad`: usable inside `tf.grad`,
 * `tf.variableGrads` and `optimizer.minimize`, with every option of the façade (varlen `cu_seqlens`, causal,
 * sliding window, GQA/MQA, softcap, ALiBi, Philox dropout).
 *
 * tfjs differentiates synchronously, while fa's backends are asynchronous (kernels on worker threads or a GPU
 * queue). So this op runs fa's CPU kernels synchronously on the calling thread (`@fa/flash-attn/cpu`'s
 * `attnForwardSync`/`attnBackwardSync`, the tiled FlashAttention in JavaScript): forward saves `out` and `lse`,
 * backward reuses them, as a FlashAttention backward does. For the fastest kernels (WebAssembly SIMD on worker
 * threads, or a GPU), use `@fa/autograd`'s own tape, whose attention op runs on the chosen backend.
 */
export interface TfAttentionOptions extends AttnOptions {}

const TF_ATTENTION_OPTION_KEYS = optionKeys<TfAttentionOptions>()(ATTN_OPTION_KEYS);

/** Checked before `tf.customGrad`, which would fail on anything but a tensor with a TypeError of its own. */
function checkTensor(value: unknown, argument: string): void {
  if (!(value instanceof tf.Tensor)) throw expectationError('E_VALUE', argument, 'a tf.Tensor', describeValue(value));
}

function host(t: tf.Tensor, argument: string): FloatHostTensor {
  if (t.dtype !== 'float32') throw expectationError('E_DTYPE', argument, "a 'float32' tensor", `'${t.dtype}'`);
  if (t.rank !== 3) {
    throw expectationError('E_SHAPE', argument, 'a rank-3 tensor (tokens, heads, head_dim)', formatShape(t.shape));
  }
  return { data: t.dataSync() as Float32Array, shape: t.shape, dtype: 'f32' };
}

/**
 * `q (total_q, H, D)`, `k (total_k, Hk, D)`, `v (total_k, Hk, Dv)` → `(total_q, H, Dv)`; gradients flow to all
 * three. With dropout and no `seed`, one seed is drawn per call and shared by its forward and backward.
 */
export function tfAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: TfAttentionOptions): tf.Tensor3D {
  checkTensor(q, 'q');
  checkTensor(k, 'k');
  checkTensor(v, 'v');
  checkAttnOptions(options, ['cuSeqlensQ', 'cuSeqlensK'], TF_ATTENTION_OPTION_KEYS);
  const dropout = (options.dropoutP ?? 0) > 0;
  const seed = dropout ? (options.seed ?? Math.floor(Math.random() * 2 ** 53)) : options.seed;
  const opts: AttnOptions = { ...options, seed };
  const op = tf.customGrad((...args) => {
    const [tq, tk, tv, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { out, lse, problem } = attnForwardSync(host(tq, 'q'), host(tk, 'k'), host(tv, 'v'), opts);
    const outTensor = tf.tensor3d(out.data as Float32Array, [problem.totalQ, problem.numHeads, problem.headDimV]);
    save([tq, tk, tv, outTensor, tf.tensor2d(lse.data, [problem.numHeads, problem.totalQ])]);
    return {
      value: outTensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sout, slse] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const lseHost = { data: slse.dataSync() as Float32Array, shape: slse.shape, dtype: 'f32' as const };
        const g = attnBackwardSync(
          host(dy, 'dy'),
          host(sq, 'q'),
          host(sk, 'k'),
          host(sv, 'v'),
          host(sout, 'out'),
          lseHost,
          opts,
        );
        return [
          tf.tensor(g.dq.data as Float32Array, sq.shape),
          tf.tensor(g.dk.data as Float32Array, sk.shape),
          tf.tensor(g.dv.data as Float32Array, sv.shape),
        ];
      },
    };
  });
  return op(q, k, v) as tf.Tensor3D;
}
