import {
  type AttnOptions,
  expectationError,
  type FloatHostTensor,
  formatShape,
  referenceAttnBackward,
  referenceAttnForward,
} from '@fa/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * fa attention as a TensorFlow.js op with gradients, through `tf.customGrad`: usable inside `tf.grad`,
 * `tf.variableGrads` and `optimizer.minimize`, with every option of the façade (varlen `cu_seqlens`, causal,
 * sliding window, GQA/MQA, softcap, ALiBi, Philox dropout).
 *
 * tfjs differentiates synchronously, while fa's backends are asynchronous (kernels on worker threads or a GPU
 * queue). So this op computes with `@fa/core`'s reference, synchronously on the CPU in float64 (rounded to
 * float32), forward and backward: the exact semantics of every fa backend, without their speed. Use it to train
 * tfjs models with packed variable-length batches; for speed, use `@fa/autograd`'s own tape, whose attention op
 * runs on the chosen backend.
 */
export interface TfAttentionOptions extends AttnOptions {}

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
  const dropout = (options?.dropoutP ?? 0) > 0;
  const seed = dropout ? (options.seed ?? Math.floor(Math.random() * 2 ** 53)) : options?.seed;
  const opts: AttnOptions = { ...options, seed };
  const op = tf.customGrad((...args) => {
    const [tq, tk, tv, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const r = referenceAttnForward(host(tq, 'q'), host(tk, 'k'), host(tv, 'v'), opts);
    save([tq, tk, tv]);
    const { totalQ, numHeads, headDimV } = r.problem;
    return {
      value: tf.tensor3d(Float32Array.from(r.out), [totalQ, numHeads, headDimV]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const g = referenceAttnBackward(host(dy, 'dy'), host(sq, 'q'), host(sk, 'k'), host(sv, 'v'), opts);
        return [
          tf.tensor(Float32Array.from(g.dq), sq.shape),
          tf.tensor(Float32Array.from(g.dk), sk.shape),
          tf.tensor(Float32Array.from(g.dv), sv.shape),
        ];
      },
    };
  });
  return op(q, k, v) as tf.Tensor3D;
}
