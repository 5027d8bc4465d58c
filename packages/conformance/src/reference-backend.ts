import {
  type AttentionBackend,
  type AttnProblem,
  createReferenceBackend,
  decodeToFloat32,
  encodeFromFloat,
  type FloatDType,
  type HostTensor,
} from '@fa/core';

export type Perturbation = (
  quantity: 'out' | 'lse' | 'dq' | 'dk' | 'dv',
  values: Float64Array,
  problem: AttnProblem,
) => void;

/**
 * `@fa/core`'s reference backend with its results altered by `perturb`: a deliberately wrong backend that proves
 * the suite fails what it should.
 */
export function createPerturbedBackend(name: string, perturb: Perturbation): AttentionBackend<HostTensor> {
  const exact = createReferenceBackend(name);
  const alter = (quantity: Parameters<Perturbation>[0], t: HostTensor, problem: AttnProblem): HostTensor => {
    const dtype = t.dtype as FloatDType;
    const values = Float64Array.from(decodeToFloat32(t.data as Float32Array | Uint16Array, dtype));
    perturb(quantity, values, problem);
    return { ...t, data: encodeFromFloat(values, dtype) } as HostTensor;
  };
  return {
    ...exact,
    async forward(q, k, v, problem) {
      const r = await exact.forward(q, k, v, problem);
      return { out: alter('out', r.out, problem), lse: alter('lse', r.lse, problem) };
    },
    async backward(dout, q, k, v, out, lse, problem) {
      const r = await exact.backward(dout, q, k, v, out, lse, problem);
      return { dq: alter('dq', r.dq, problem), dk: alter('dk', r.dk, problem), dv: alter('dv', r.dv, problem) };
    },
  };
}
