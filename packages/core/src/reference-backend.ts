import type { AttentionBackend } from './backend.js';
import { encodeFromFloat } from './dtype.js';
import { describeValue, expectationError } from './errors.js';
import { type AttnProblem, MAX_HEAD_DIM, optionsOfProblem } from './options.js';
import { referenceAttnBackward, referenceAttnForward } from './reference.js';
import type { FloatHostTensor, HostTensor } from './tensor.js';

/**
 * A backend that runs the float64 reference and rounds its results to the storage dtype: code entirely separate
 * from every kernel, to debug or compare against (training runs, the conformance suite's self-test). Slow (the
 * reference recomputes the forward in its backward and does not tile), fine for small problems.
 *
 * ```ts
 * registerBackend('reference', () => createReferenceBackend());
 * ```
 */
export function createReferenceBackend(name = 'reference'): AttentionBackend<HostTensor> {
  if (typeof name !== 'string' || name.length === 0) {
    throw expectationError('E_VALUE', 'name', 'a non-empty backend name', describeValue(name));
  }
  const shaped = (t: HostTensor, shape: readonly number[]) => ({ ...t, shape }) as FloatHostTensor;
  const emit = (values: Float64Array, shape: readonly number[], dtype: FloatHostTensor['dtype']): HostTensor =>
    ({ data: encodeFromFloat(values, dtype), shape, dtype }) as HostTensor;
  const shapes = (p: AttnProblem) => ({
    q: [p.totalQ, p.numHeads, p.headDim],
    k: [p.totalK, p.numHeadsK, p.headDim],
    v: [p.totalK, p.numHeadsK, p.headDimV],
    out: [p.totalQ, p.numHeads, p.headDimV],
  });
  return {
    name,
    capabilities: {
      dtypes: ['f32', 'f16', 'bf16'],
      maxHeadDim: MAX_HEAD_DIM,
      backward: true,
      dropout: true,
      deterministic: true,
    },
    upload: (t) => ({ ...t, data: t.data.slice() }) as HostTensor,
    download: async (t, shape, dtype) => ({ data: t.data.slice(), shape, dtype }) as HostTensor,
    dispose: () => undefined,
    async forward(q, k, v, problem) {
      const s = shapes(problem);
      const options = optionsOfProblem(problem);
      const r = referenceAttnForward(shaped(q, s.q), shaped(k, s.k), shaped(v, s.v), options);
      return { out: emit(r.out, s.out, problem.dtype), lse: emit(r.lse, [problem.numHeads, problem.totalQ], 'f32') };
    },
    async backward(dout, q, k, v, _out, _lse, problem) {
      const s = shapes(problem);
      const options = optionsOfProblem(problem);
      const r = referenceAttnBackward(shaped(dout, s.out), shaped(q, s.q), shaped(k, s.k), shaped(v, s.v), options);
      return {
        dq: emit(r.dq, s.q, problem.dtype),
        dk: emit(r.dk, s.k, problem.dtype),
        dv: emit(r.dv, s.v, problem.dtype),
      };
    },
  };
}
