import { type Comparison, compareToReference, type Quantity } from '@fa/conformance';
import { type FloatDType, referenceAttnBackward } from '@fa/core';
import { cuSeqlensFromLengths } from '@fa/seqpack';
import { type AttnInputs, type Random, randomHostTensor } from '@fa/testkit';

/**
 * Small random attention problems for the resource, concurrency and determinism tests, and their check against
 * @fa/core's reference with the conformance suite's tolerances. Head dims stay at most 32 and the only score
 * feature that changes shader code is dropout, so that a few dozen problems compile a handful of pipelines on
 * SwiftShader; everything else (lengths, GQA, causal, windows, scale) is data.
 */
export type Problem = AttnInputs;

/**
 * Odd sizes, one to `maxBatch` sequences (empty ones included), self- or cross-attention, GQA, every dtype.
 * Each (sequence, head) is one workgroup: `maxBatch` and `maxHeads` bound the work of one call.
 */
export function smallProblem(random: Random, { maxBatch = 4, maxHeads = 4 } = {}): Problem {
  const lengthsQ = Array.from({ length: random.int(1, maxBatch) }, () => random.int(0, 9));
  const lengthsK = random.next() < 0.3 ? lengthsQ.map(() => random.int(0, 9)) : lengthsQ;
  const numHeadsK = random.int(1, Math.min(2, maxHeads));
  const numHeads = numHeadsK * random.int(1, Math.floor(maxHeads / numHeadsK));
  const headDim = random.int(1, 32);
  const headDimV = random.next() < 0.3 ? random.int(1, 32) : headDim;
  const dtype = random.pick<FloatDType>(['f32', 'f16', 'bf16']);
  const totalQ = lengthsQ.reduce((a, b) => a + b, 0);
  const totalK = lengthsK.reduce((a, b) => a + b, 0);
  const dropout = random.next() < 0.25;
  const window = random.next() < 0.25;
  return {
    q: randomHostTensor(random, [totalQ, numHeads, headDim], dtype),
    k: randomHostTensor(random, [totalK, numHeadsK, headDim], dtype),
    v: randomHostTensor(random, [totalK, numHeadsK, headDimV], dtype),
    dout: randomHostTensor(random, [totalQ, numHeads, headDimV], dtype),
    options: {
      cuSeqlensQ: cuSeqlensFromLengths(lengthsQ),
      cuSeqlensK: cuSeqlensFromLengths(lengthsK),
      causal: random.next() < 0.3,
      windowSize: window ? [random.int(0, 4), random.int(-1, 4)] : undefined,
      softmaxScale: random.next() < 0.3 ? 0.2 + random.next() : undefined,
      dropoutP: dropout ? 0.3 : undefined,
      seed: dropout ? random.int(0, 2 ** 31) : undefined,
    },
  };
}

export type Results = Readonly<Record<Quantity, Float32Array>>;

/** Every quantity's comparison with the float64 reference (and, for 16-bit dtypes, a same-precision one). */
export function compareWithReference(problem: Problem, results: Results): Comparison[] {
  const { q, k, v, dout, options } = problem;
  const dtype = q.dtype;
  const exact = referenceAttnBackward(dout, q, k, v, options);
  const low = dtype === 'f32' ? null : referenceAttnBackward(dout, q, k, v, options, { precision: dtype });
  return (['out', 'lse', 'dq', 'dk', 'dv'] as const).map((quantity) =>
    compareToReference(quantity, dtype, results[quantity], exact[quantity], low?.[quantity] ?? null),
  );
}

/** Index of the first differing byte of two tensors' storage, or -1: bits, not values (NaN included). */
export function firstBitDifference(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}
