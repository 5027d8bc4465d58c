import {
  type AttentionBackend,
  type AttnProblem,
  encodeFromFloat,
  type FloatHostTensor,
  type HostTensor,
  optionsOfProblem,
  referenceAttnBackward,
  referenceAttnForward,
} from '@fa/core';

/**
 * A backend that runs the float64 reference and rounds its results to the storage dtype. It proves the suite
 * passes what it should; `perturb` makes a deliberately wrong variant that proves the suite fails what it should.
 */
export function createReferenceBackend(
  name = 'reference',
  perturb?: (quantity: 'out' | 'lse' | 'dq' | 'dk' | 'dv', values: Float64Array, problem: AttnProblem) => void,
): AttentionBackend<HostTensor> {
  const emit = (
    quantity: 'out' | 'lse' | 'dq' | 'dk' | 'dv',
    values: Float64Array,
    shape: number[],
    problem: AttnProblem,
  ) => {
    perturb?.(quantity, values, problem);
    const dtype = quantity === 'lse' ? 'f32' : problem.dtype;
    return { data: encodeFromFloat(values, dtype), shape, dtype } as HostTensor;
  };
  return {
    name,
    capabilities: {
      dtypes: ['f32', 'f16', 'bf16'],
      maxHeadDim: 256,
      backward: true,
      dropout: true,
      deterministic: true,
    },
    upload: (t) => ({ ...t, data: t.data.slice() }) as HostTensor,
    download: async (t) => ({ ...t, data: t.data.slice() }) as HostTensor,
    dispose: () => undefined,
    async forward(q, k, v, problem) {
      const r = referenceAttnForward(
        q as FloatHostTensor,
        k as FloatHostTensor,
        v as FloatHostTensor,
        optionsOfProblem(problem),
      );
      return {
        out: emit('out', r.out, [problem.totalQ, problem.numHeads, problem.headDimV], problem),
        lse: emit('lse', r.lse, [problem.numHeads, problem.totalQ], problem),
      };
    },
    async backward(dout, q, k, v, _out, _lse, problem) {
      const [tq, tk, tv] = shaped(problem, q, k, v);
      const tdout = { ...(dout as FloatHostTensor), shape: [problem.totalQ, problem.numHeads, problem.headDimV] };
      const r = referenceAttnBackward(tdout, tq, tk, tv, optionsOfProblem(problem));
      return {
        dq: emit('dq', r.dq, [problem.totalQ, problem.numHeads, problem.headDim], problem),
        dk: emit('dk', r.dk, [problem.totalK, problem.numHeadsK, problem.headDim], problem),
        dv: emit('dv', r.dv, [problem.totalK, problem.numHeadsK, problem.headDimV], problem),
      };
    },
  };
}

/** Handles are shape-agnostic storage (the façade owns shapes), so give the data the shapes the problem implies. */
function shaped(
  problem: AttnProblem,
  q: HostTensor,
  k: HostTensor,
  v: HostTensor,
): [FloatHostTensor, FloatHostTensor, FloatHostTensor] {
  const { totalQ, totalK, numHeads, numHeadsK, headDim, headDimV } = problem;
  return [
    { ...(q as FloatHostTensor), shape: [totalQ, numHeads, headDim] },
    { ...(k as FloatHostTensor), shape: [totalK, numHeadsK, headDim] },
    { ...(v as FloatHostTensor), shape: [totalK, numHeadsK, headDimV] },
  ];
}
