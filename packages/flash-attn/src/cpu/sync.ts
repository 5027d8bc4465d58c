import {
  type AttnOptions,
  type AttnProblem,
  checkHostTensor,
  checkTensorMeta,
  expectationError,
  type FloatHostTensor,
  type HostTensor,
  resolveAttnProblem,
} from '@fa/core';
import { jsBackward, jsForward } from './js-engine.js';

/**
 * Synchronous varlen attention on the calling thread, with the pure-JavaScript kernels. For code that cannot
 * await — a framework's synchronous gradient function, say. Validation and semantics are those of
 * `flashAttnVarlen`; the asynchronous backend (WebAssembly SIMD on worker threads) is several times faster.
 */
export function attnForwardSync(
  q: FloatHostTensor,
  k: FloatHostTensor,
  v: FloatHostTensor,
  options: AttnOptions,
): { out: HostTensor; lse: HostTensor<'f32'>; problem: AttnProblem } {
  // The kernels read data by shape, so data that does not match its shape is refused before they run.
  const problem = resolveAttnProblem(
    checkHostTensor(q, 'q'),
    checkHostTensor(k, 'k'),
    checkHostTensor(v, 'v'),
    options,
  );
  return { ...jsForward(q, k, v, problem), problem };
}

/** Gradients of `attnForwardSync`; pass its `out` and `lse`, and its `problem.seed` when dropout is on. */
export function attnBackwardSync(
  dout: FloatHostTensor,
  q: FloatHostTensor,
  k: FloatHostTensor,
  v: FloatHostTensor,
  out: FloatHostTensor,
  lse: HostTensor<'f32'>,
  options: AttnOptions,
): { dq: HostTensor; dk: HostTensor; dv: HostTensor } {
  const problem = resolveAttnProblem(
    checkHostTensor(q, 'q'),
    checkHostTensor(k, 'k'),
    checkHostTensor(v, 'v'),
    options,
  );
  if (problem.dropoutP > 0 && options.seed === undefined) {
    throw expectationError('E_VALUE', 'seed', 'the seed the forward call used (dropout is on)', 'undefined');
  }
  checkHostTensor(dout, 'dout');
  checkHostTensor(out, 'out');
  checkHostTensor(lse, 'lse');
  const rows = [problem.totalQ, problem.numHeads, problem.headDimV];
  checkTensorMeta(dout, 'dout', rows, problem.dtype);
  checkTensorMeta(out, 'out', rows, problem.dtype);
  checkTensorMeta(lse, 'lse', [problem.numHeads, problem.totalQ], 'f32');
  return jsBackward(dout, q, k, v, out, lse, problem);
}
