import type { AttnProblem, HostTensor } from '@fa/core';
import { asFloat32, encodeFrom, type FloatStorage, sumHeadGroups, viewAsFloat32 } from './convert.js';
import { type BackwardResult, type Engine, type ForwardResult, gradHeadsOf, hostTensorOf } from './engine.js';
import { JS_BLOCK_Q, JsScratch, jsBackwardItem, jsForwardItem } from './js-kernel.js';
import { backwardWork, forwardWork, ITEM_INTS } from './plan.js';

/** The pure-JavaScript engine: the fallback where WebAssembly SIMD is missing, on the calling thread. */
export class JsEngine implements Engine {
  async forward(q: HostTensor, k: HostTensor, v: HostTensor, problem: AttnProblem): Promise<ForwardResult> {
    return jsForward(q, k, v, problem);
  }

  async backward(
    dout: HostTensor,
    q: HostTensor,
    k: HostTensor,
    v: HostTensor,
    out: HostTensor,
    lse: HostTensor,
    problem: AttnProblem,
  ): Promise<BackwardResult> {
    return jsBackward(dout, q, k, v, out, lse, problem);
  }

  async destroy(): Promise<void> {}
}

/**
 * The JavaScript kernels are synchronous; these entry points expose that to callers that cannot await, such as
 * frameworks whose gradient functions run synchronously.
 */
export function jsForward(q: HostTensor, k: HostTensor, v: HostTensor, problem: AttnProblem): ForwardResult {
  const { totalQ, numHeads, headDimV, dtype } = problem;
  const out = new Float32Array(totalQ * numHeads * headDimV);
  const lse = new Float32Array(numHeads * totalQ);
  const tensors = {
    ...denseInputs(problem, q, k, v),
    out,
    lse,
  };
  const work = forwardWork(problem, JS_BLOCK_Q);
  const scratch = new JsScratch(problem, false);
  const items = work.items;
  for (let at = 0; at < work.count * ITEM_INTS; at += ITEM_INTS) {
    const [b, h, q0, q1] = [items[at], items[at + 1], items[at + 2], items[at + 3]] as [number, number, number, number];
    jsForwardItem(problem, tensors, scratch, b, h, q0, q1);
  }
  return {
    out: hostTensorOf(dtype === 'f32' ? out : encodeFrom(out, dtype), [totalQ, numHeads, headDimV], dtype),
    lse: { data: lse, shape: [numHeads, totalQ], dtype: 'f32' },
  };
}

export function jsBackward(
  dout: HostTensor,
  q: HostTensor,
  k: HostTensor,
  v: HostTensor,
  out: HostTensor,
  lse: HostTensor,
  problem: AttnProblem,
): BackwardResult {
  const { totalQ, totalK, numHeads, numHeadsK, headDim, headDimV, dtype } = problem;
  const gradHeadsK = gradHeadsOf(problem);
  const dq = new Float32Array(totalQ * numHeads * headDim);
  const dk = new Float32Array(totalK * gradHeadsK * headDim);
  const dv = new Float32Array(totalK * gradHeadsK * headDimV);
  const tensors = {
    ...denseInputs(problem, q, k, v),
    out: asFloat32(out.data as FloatStorage, dtype),
    lse: lse.data as Float32Array,
    dout: asFloat32(dout.data as FloatStorage, dtype),
    dq,
    dk,
    dv,
    gradHeadsK,
  };
  const work = backwardWork(problem, JS_BLOCK_Q);
  const scratch = new JsScratch(problem, true);
  const items = work.items;
  for (let at = 0; at < work.count * ITEM_INTS; at += ITEM_INTS) {
    jsBackwardItem(problem, tensors, scratch, items[at] as number, items[at + 1] as number);
  }
  const dkSum = gradHeadsK === numHeadsK ? dk : sumHeadGroups(dk, totalK, numHeads, numHeadsK, headDim);
  const dvSum = gradHeadsK === numHeadsK ? dv : sumHeadGroups(dv, totalK, numHeads, numHeadsK, headDimV);
  const encode = (values: Float32Array) => (dtype === 'f32' ? values : encodeFrom(values, dtype));
  return {
    dq: hostTensorOf(encode(dq), [totalQ, numHeads, headDim], dtype),
    dk: hostTensorOf(encode(dkSum), [totalK, numHeadsK, headDim], dtype),
    dv: hostTensorOf(encode(dvSum), [totalK, numHeadsK, headDimV], dtype),
  };
}

/** q, k and v as dense float32, read through their layouts (the parts of a packed qkv, from its buffer). */
function denseInputs(problem: AttnProblem, q: HostTensor, k: HostTensor, v: HostTensor) {
  const { totalQ, totalK, numHeads, numHeadsK, headDim, headDimV, dtype, layouts } = problem;
  return {
    q: viewAsFloat32(q.data as FloatStorage, dtype, layouts.q, [totalQ, numHeads, headDim]),
    k: viewAsFloat32(k.data as FloatStorage, dtype, layouts.k, [totalK, numHeadsK, headDim]),
    v: viewAsFloat32(v.data as FloatStorage, dtype, layouts.v, [totalK, numHeadsK, headDimV]),
  };
}
