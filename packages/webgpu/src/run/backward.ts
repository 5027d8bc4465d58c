import type { AttnProblem } from '@fa/core';
import { TENSOR_USAGE, Usage } from '../gpu/buffers.js';
import { dkdvBindings, dkdvWgsl } from '../kernels/dkdv.js';
import { dqBindings, dqWgsl } from '../kernels/dq.js';
import { PREPROCESS_WORKGROUP, preprocessBindings, preprocessWgsl } from '../kernels/preprocess.js';
import { chooseTileConfig, configKey } from '../plan/config.js';
import { keyTiles, queryTiles } from '../plan/tiles.js';
import { featuresKey } from '../wgsl/scores.js';
import { checked, checkInputBuffers, Dispatch, type GpuContext, tensorBytes } from './context.js';
import { scoreFeatures } from './forward.js';

export interface BackwardInputs {
  readonly dout: GPUBuffer;
  readonly q: GPUBuffer;
  readonly k: GPUBuffer;
  readonly v: GPUBuffer;
  readonly out: GPUBuffer;
  readonly lse: GPUBuffer;
}

/**
 * Encodes the three backward passes in one submission: preprocess (lse and D = rowsum(dO ∘ O) into `stats`),
 * dK/dV per key tile, dQ per query tile. Returns gradients in the storage dtype.
 */
export async function runBackward(
  ctx: GpuContext,
  inputs: BackwardInputs,
  problem: AttnProblem,
): Promise<{ dq: GPUBuffer; dk: GPUBuffer; dv: GPUBuffer }> {
  const { dtype, totalQ, totalK, numHeads, numHeadsK, headDim, headDimV } = problem;
  const features = scoreFeatures(problem);
  const tag = `${dtype}:${featuresKey(features)}`;
  const dqConfig = chooseTileConfig('dq', headDim, headDimV, ctx.tiling);
  const dkdvConfig = chooseTileConfig('dkdv', headDim, headDimV, ctx.tiling);
  const [preprocess, dqKernel, dkdvKernel] = await Promise.all([
    ctx.pipelines.get({
      key: `preprocess:${dtype}`,
      bindings: preprocessBindings(dtype),
      code: () => preprocessWgsl(dtype),
    }),
    ctx.pipelines.get({
      key: `${configKey(dqConfig)}:${tag}`,
      bindings: dqBindings(dtype),
      code: () => dqWgsl(dqConfig, dtype, features),
    }),
    ctx.pipelines.get({
      key: `${configKey(dkdvConfig)}:${tag}`,
      bindings: dkdvBindings(dtype),
      code: () => dkdvWgsl(dkdvConfig, dtype, features),
    }),
  ]);

  const sizes = {
    dq: tensorBytes(totalQ * numHeads * headDim, dtype),
    dk: tensorBytes(totalK * numHeadsK * headDim, dtype),
    dv: tensorBytes(totalK * numHeadsK * headDimV, dtype),
    stats: 2 * numHeads * totalQ * 4,
  };
  for (const [name, bytes] of Object.entries(sizes)) ctx.buffers.checkBindable(bytes, name);
  checkInputBuffers(ctx, inputs, problem);

  const rows = numHeads * totalQ;
  const qItems = queryTiles(problem, dqConfig.bm, dqConfig.bn, false);
  const kItems = keyTiles(problem, dkdvConfig.bn);
  const { dout, q, k, v, out, lse } = inputs;
  const submit = () => {
    const empty = { words: new Uint32Array(0), count: 0 };
    const dispatches: Dispatch[] = [];
    const outputs: GPUBuffer[] = [];
    let stats: GPUBuffer | undefined;
    try {
      dispatches.push(
        new Dispatch(ctx, preprocess, 'fa-backward-preprocess', problem, empty, Math.ceil(rows / PREPROCESS_WORKGROUP)),
      );
      dispatches.push(new Dispatch(ctx, dkdvKernel, 'fa-backward-dkdv', problem, kItems, kItems.count * numHeadsK));
      dispatches.push(new Dispatch(ctx, dqKernel, 'fa-backward-dq', problem, qItems, qItems.count * numHeads));
      stats = ctx.buffers.create(sizes.stats, Usage.STORAGE, 'fa-backward-stats');
      const dq = ctx.buffers.create(sizes.dq, TENSOR_USAGE, 'fa-dq');
      const dk = ctx.buffers.create(sizes.dk, TENSOR_USAGE, 'fa-dk');
      const dv = ctx.buffers.create(sizes.dv, TENSOR_USAGE, 'fa-dv');
      outputs.push(dq, dk, dv);
      const encoder = ctx.device.createCommandEncoder({ label: 'fa-backward' });
      dispatches[0]!.encode(encoder, [dout, out, lse, stats]);
      dispatches[1]!.encode(encoder, [q, k, v, dout, stats, dk, dv]);
      dispatches[2]!.encode(encoder, [q, k, v, dout, stats, dq]);
      ctx.device.queue.submit([encoder.finish()]);
      return { dq, dk, dv };
    } catch (error) {
      for (const buffer of outputs) ctx.buffers.destroy(buffer);
      throw error;
    } finally {
      // Temporaries go as soon as the work is submitted; WebGPU keeps them until it has run.
      for (const d of dispatches) d.release();
      if (stats) ctx.buffers.destroy(stats);
    }
  };
  const discard = (result: { dq: GPUBuffer; dk: GPUBuffer; dv: GPUBuffer }) => {
    for (const buffer of [result.dq, result.dk, result.dv]) ctx.buffers.destroy(buffer);
  };
  return checked(ctx, 'backward', submit, discard);
}
