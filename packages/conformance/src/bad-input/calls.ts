import type { FloatDType } from '@fa/core';
import { cuSeqlensFromLengths } from '@fa/seqpack';
import { type Random, randomHostTensor } from '@fa/testkit';

/** The shape of a small random attention call, drawn by the property and then broken by one mutation. */
export interface CallSpec {
  readonly lengthsQ: readonly number[];
  readonly lengthsK: readonly number[];
  readonly numHeadsK: number;
  readonly groups: number;
  readonly headDim: number;
  readonly headDimV: number;
  readonly dtype: FloatDType;
  readonly causal: boolean;
  readonly window: readonly [number, number] | undefined;
  readonly softcap: number | undefined;
  readonly alibi: boolean;
  readonly dropoutP: number | undefined;
}

/** Arguments of one varlen call, loosely typed on purpose: mutations put wrong things anywhere. */
export interface AttnCall {
  q: unknown;
  k: unknown;
  v: unknown;
  options: Record<string, unknown>;
}

export const numHeadsOf = (spec: CallSpec): number => spec.numHeadsK * spec.groups;

export function sumOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** A valid call for `spec`: the starting point every mutation breaks in exactly one way. */
export function buildCall(spec: CallSpec, random: Random): AttnCall {
  const numHeads = numHeadsOf(spec);
  const totalQ = sumOf(spec.lengthsQ);
  const totalK = sumOf(spec.lengthsK);
  const options: Record<string, unknown> = {
    cuSeqlensQ: cuSeqlensFromLengths(spec.lengthsQ),
    cuSeqlensK: cuSeqlensFromLengths(spec.lengthsK),
    causal: spec.causal,
  };
  if (spec.window) options.windowSize = spec.window;
  if (spec.softcap !== undefined) options.softcap = spec.softcap;
  if (spec.alibi) {
    options.alibiSlopes = Float32Array.from({ length: numHeads }, (_, h) => 2 ** -(h + 1) * (0.5 + random.next()));
  }
  if (spec.dropoutP !== undefined) {
    options.dropoutP = spec.dropoutP;
    options.seed = random.int(0, 2 ** 31);
  }
  return {
    q: randomHostTensor(random, [totalQ, numHeads, spec.headDim], spec.dtype),
    k: randomHostTensor(random, [totalK, spec.numHeadsK, spec.headDim], spec.dtype),
    v: randomHostTensor(random, [totalK, spec.numHeadsK, spec.headDimV], spec.dtype),
    options,
  };
}
