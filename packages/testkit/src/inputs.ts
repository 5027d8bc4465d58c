import { type AttnOptions, encodeFromFloat, type FloatDType, type FloatHostTensor } from '@fa/core';
import { cuSeqlensFromLengths } from '@fa/seqpack';
import { type CaseSpec, fullCase } from './cases.js';
import { Random } from './random.js';

/** Host inputs of one call: q, k, v, an output gradient, and the options of `AttnCase` as the API takes them. */
export interface AttnInputs {
  readonly q: FloatHostTensor;
  readonly k: FloatHostTensor;
  readonly v: FloatHostTensor;
  readonly dout: FloatHostTensor;
  readonly options: AttnOptions;
}

/** A host tensor of standard normals (never zeros) stored as `dtype`. */
export function randomHostTensor(random: Random, shape: readonly number[], dtype: FloatDType): FloatHostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: encodeFromFloat(random.normals(n), dtype), shape: [...shape], dtype } as FloatHostTensor;
}

/** ALiBi slopes of the usual geometric form, jittered so that no two draws share them. */
export function alibiSlopes(random: Random, numHeads: number): Float32Array {
  return Float32Array.from({ length: numHeads }, (_, h) => 2 ** (-8 * ((h + 1) / numHeads)) * (0.5 + random.next()));
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/**
 * The inputs of `spec` drawn from `seed`: q, k, v and dout in that order, then the ALiBi slopes and the dropout
 * seed when the case asks for them. The order is fixed: a seed printed by a failure reproduces the same call.
 */
export function attnInputs(spec: CaseSpec, seed: number): AttnInputs {
  const c = fullCase(spec);
  const random = new Random(seed);
  const [totalQ, totalK] = [sum(c.lengthsQ), sum(c.lengthsK)];
  return {
    q: randomHostTensor(random, [totalQ, c.numHeads, c.headDim], c.dtype),
    k: randomHostTensor(random, [totalK, c.numHeadsK, c.headDim], c.dtype),
    v: randomHostTensor(random, [totalK, c.numHeadsK, c.headDimV], c.dtype),
    dout: randomHostTensor(random, [totalQ, c.numHeads, c.headDimV], c.dtype),
    options: {
      cuSeqlensQ: cuSeqlensFromLengths(c.lengthsQ),
      cuSeqlensK: cuSeqlensFromLengths(c.lengthsK),
      causal: c.causal,
      windowSize: c.windowSize,
      softcap: c.softcap,
      softmaxScale: c.softmaxScale,
      alibiSlopes: c.alibi ? alibiSlopes(random, c.numHeads) : undefined,
      dropoutP: c.dropoutP,
      // Seeds up to 2^43: past 32 bits, as the API allows (any integer below 2^53).
      seed: c.dropoutP ? random.int(0, 2 ** 31) * 4096 + random.int(0, 4095) : undefined,
    },
  };
}
