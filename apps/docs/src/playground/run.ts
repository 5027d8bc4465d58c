import { encodeFromFloat, type FloatDType, referenceAttnBackward } from '@fa/core';
import { flashAttnVarlen, flashAttnVarlenBackward, getBackend, type Tensor, tensor } from '@fa/flash-attn';
import { type Layout, type PlaygroundInput, randomValues, SEEDS, sampleSequences } from './model.js';

export interface RunResult {
  readonly backend: string;
  readonly forwardMs: number;
  readonly backwardMs: number;
  /** How many leading sequences were checked against the reference. */
  readonly sampled: number;
  readonly sampledTokens: number;
  /** Max |backend − reference| over out, dq, dk and dv of the sampled sequences. */
  readonly maxError: number;
}

function maxAbsDiff(got: Float32Array, want: Float64Array): number {
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs((got[i] as number) - (want[i] as number)));
  return max;
}

/**
 * Runs forward then backward on the backend, timing each up to the moment its results are back on the host, and
 * checks a prefix of the batch against @fa/core's float64 reference fed the same (dtype-rounded) inputs.
 */
export async function runOnBackend(layout: Layout, input: PlaygroundInput, backend: string): Promise<RunResult> {
  await getBackend(backend); // start it outside the timed region (WebGPU adapter, WebAssembly compile)
  // A backend's first call with a new kind of problem compiles its kernels (WebGPU pipelines take seconds on
  // SwiftShader). Timings should show the steady state, so that call runs once untimed on a tiny batch.
  const kind = [backend, input.dtype, input.heads, input.headDim, input.causal, input.windowLeft, input.windowRight];
  const key = kind.concat(input.softcap > 0).join('|');
  if (!warmed.has(key)) {
    await timedRun({ ...layout, cuSeqlens: Int32Array.of(0, 1), lengths: [1] }, input, backend, false);
    warmed.add(key);
  }
  return timedRun(layout, input, backend, true);
}

const warmed = new Set<string>();

async function timedRun(layout: Layout, input: PlaygroundInput, backend: string, check: boolean): Promise<RunResult> {
  const total = layout.cuSeqlens[layout.cuSeqlens.length - 1] as number;
  const shape = [total, input.heads, input.headDim];
  const size = total * input.heads * input.headDim;
  const dtype: FloatDType = input.dtype;
  const [qData, kData, vData, doutData] = [SEEDS.q, SEEDS.k, SEEDS.v, SEEDS.dout].map((seed) =>
    encodeFromFloat(randomValues(size, seed), dtype),
  );
  const owned: Tensor[] = [];
  const make = (data: Float32Array | Uint16Array) => {
    const t = tensor(data, shape, dtype);
    owned.push(t);
    return t;
  };
  try {
    const [q, k, v, dout] = [qData, kData, vData, doutData].map((d) => make(d!)) as [Tensor, Tensor, Tensor, Tensor];
    const options = { ...layout.options, cuSeqlensQ: layout.cuSeqlens, cuSeqlensK: layout.cuSeqlens, backend };
    let start = performance.now();
    const { out, lse } = await flashAttnVarlen(q, k, v, options);
    owned.push(out, lse);
    const outValues = await out.toArray();
    const forwardMs = performance.now() - start;
    start = performance.now();
    const grads = await flashAttnVarlenBackward(dout, q, k, v, out, lse, options);
    owned.push(grads.dq, grads.dk, grads.dv);
    const [dq, dk, dv] = await Promise.all([grads.dq.toArray(), grads.dk.toArray(), grads.dv.toArray()]);
    const backwardMs = performance.now() - start;

    if (!check) return { backend, forwardMs, backwardMs, sampled: 0, sampledTokens: 0, maxError: 0 };
    const sampled = sampleSequences(layout.lengths);
    const rows = layout.cuSeqlens[sampled] as number;
    const n = rows * input.heads * input.headDim;
    const part = (data: Float32Array | Uint16Array) => ({
      data: data.subarray(0, n),
      shape: [rows, input.heads, input.headDim],
      dtype,
    });
    const cu = layout.cuSeqlens.slice(0, sampled + 1);
    const ref = referenceAttnBackward(part(doutData!), part(qData!), part(kData!), part(vData!), {
      ...layout.options,
      cuSeqlensQ: cu,
      cuSeqlensK: cu,
    });
    const maxError = Math.max(
      maxAbsDiff(outValues, ref.out),
      maxAbsDiff(dq, ref.dq),
      maxAbsDiff(dk, ref.dk),
      maxAbsDiff(dv, ref.dv),
    );
    return { backend, forwardMs, backwardMs, sampled, sampledTokens: rows, maxError };
  } finally {
    for (const t of owned) t.dispose();
  }
}
