import '@tensorflow/tfjs-backend-cpu';
// tfjs-core alone registers no gradients for its own ops; the @tensorflow/tfjs bundle imports this.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { flashAttnVarlen, flashAttnVarlenBackward } from '@fa/flash-attn';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from './random.js';
import { type TfAttentionOptions, tfAttention } from './tfjs.js';

const cu = Int32Array.of(0, 3, 3, 8);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? max : Number.POSITIVE_INFINITY;
}

describe('tfAttention (tf.customGrad) against the façade on the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const cases: Array<[string, Omit<TfAttentionOptions, 'cuSeqlensQ' | 'cuSeqlensK'>]> = [
    ['causal GQA', { causal: true }],
    ['window, softcap, ALiBi', { windowSize: [2, 0], softcap: 2, alibiSlopes: Float32Array.of(0.5, 0.1, 0.3, 0) }],
    ['dropout with a seed', { causal: true, dropoutP: 0.25, seed: 99 }],
  ];

  it.each(cases)('%s: values and tf.grads gradients match flashAttnVarlen(Backward)', async (_, extra) => {
    const options = { cuSeqlensQ: cu, cuSeqlensK: cu, ...extra };
    const rng = new Rng(11);
    const qData = rng.normalArray(8 * 4 * 8);
    const kData = rng.normalArray(8 * 2 * 8);
    const vData = rng.normalArray(8 * 2 * 8);
    const w = rng.normalArray(8 * 4 * 8);
    const q = tf.tensor3d(qData, [8, 4, 8]);
    const k = tf.tensor3d(kData, [8, 2, 8]);
    const v = tf.tensor3d(vData, [8, 2, 8]);
    const weights = tf.tensor3d(w, [8, 4, 8]);

    const out = tfAttention(q, k, v, options);
    const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(tfAttention(a, b, c, options), weights));
    const [dq, dk, dv] = tf.grads(loss)([q, k, v]) as [tf.Tensor, tf.Tensor, tf.Tensor];

    const host = (data: Float32Array, shape: number[]) => ({ data, shape });
    const fa = await flashAttnVarlen(host(qData, [8, 4, 8]), host(kData, [8, 2, 8]), host(vData, [8, 2, 8]), {
      ...options,
      backend: 'cpu',
    });
    const grads = await flashAttnVarlenBackward(
      host(w, [8, 4, 8]),
      host(qData, [8, 4, 8]),
      host(kData, [8, 2, 8]),
      host(vData, [8, 2, 8]),
      fa.out,
      fa.lse,
      { ...options, seed: fa.seed, backend: 'cpu' },
    );
    expect(maxDiff(await out.data(), await fa.out.toArray())).toBeLessThan(2e-5);
    expect(maxDiff(await dq.data(), await grads.dq.toArray())).toBeLessThan(1e-4);
    expect(maxDiff(await dk.data(), await grads.dk.toArray())).toBeLessThan(1e-4);
    expect(maxDiff(await dv.data(), await grads.dv.toArray())).toBeLessThan(1e-4);
  });

  it('trains a tfjs variable through optimizer.minimize', () => {
    const rng = new Rng(12);
    const x = tf.tensor2d(rng.normalArray(8 * 8), [8, 8]);
    const wq = tf.variable(tf.tensor2d(rng.normalArray(8 * 8, 0.3), [8, 8]));
    const target = tf.tensor2d(rng.normalArray(8 * 8), [8, 8]);
    const optimizer = tf.train.adam(0.05);
    const step = () =>
      optimizer.minimize(() => {
        const q = tf.reshape(tf.matMul(x, wq), [8, 2, 4]);
        const kv = tf.reshape(x, [8, 2, 4]);
        const out = tfAttention(q, kv, kv, { cuSeqlensQ: cu, cuSeqlensK: cu, causal: true });
        return tf.mean(tf.square(tf.sub(tf.reshape(out, [8, 8]), target)));
      }, true) as tf.Scalar;
    const first = step().dataSync()[0]!;
    let last = first;
    for (let i = 0; i < 20; i++) last = step().dataSync()[0]!;
    expect(last).toBeLessThan(first);
  });

  it('rejects non-float32 tensors', () => {
    const q = tf.tensor3d(new Int32Array(8 * 2 * 4), [8, 2, 4], 'int32');
    expect(() => tfAttention(q, q, q, { cuSeqlensQ: cu, cuSeqlensK: cu })).toThrow(/float32/);
  });

  it('rejects a misspelt option before tf sees the call, naming it and the option meant', () => {
    const q = tf.tensor3d(new Float32Array(8 * 2 * 4).fill(0.5), [8, 2, 4]);
    // `backend` is an option of the façade; this op always runs on the CPU kernels, so it is unknown here.
    for (const [key, meant] of [
      ['casual', 'causal'],
      ['softCap', 'softcap'],
    ] as const) {
      expect(() => tfAttention(q, q, q, { cuSeqlensQ: cu, cuSeqlensK: cu, [key]: true } as never)).toThrow(
        expect.objectContaining({ argument: `options.${key}`, message: expect.stringContaining(`\`${meant}\``) }),
      );
    }
    expect(() => tfAttention(q, q, q, { cuSeqlensQ: cu, cuSeqlensK: cu, backend: 'cpu' } as never)).toThrow(
      expect.objectContaining({ argument: 'options.backend' }),
    );
  });
});
