import type { AttnProblem } from '@fa/core';
import { TENSOR_USAGE } from '../gpu/buffers.js';
import { forwardBindings, forwardWgsl } from '../kernels/forward.js';
import { chooseTileConfig, configKey } from '../plan/config.js';
import { queryTiles } from '../plan/tiles.js';
import { featuresKey, type ScoreFeatures } from '../wgsl/scores.js';
import { checked, checkInputBuffers, Dispatch, type GpuContext, tensorBytes } from './context.js';

export function scoreFeatures(problem: AttnProblem): ScoreFeatures {
  return { softcap: problem.softcap > 0, alibi: problem.alibiSlopes !== null, dropout: problem.dropoutP > 0 };
}

/** Encodes and submits the forward pass; returns `out` (storage dtype) and `lse` (f32 bits) buffers. */
export async function runForward(
  ctx: GpuContext,
  q: GPUBuffer,
  k: GPUBuffer,
  v: GPUBuffer,
  problem: AttnProblem,
): Promise<{ out: GPUBuffer; lse: GPUBuffer }> {
  const { dtype, totalQ, numHeads, headDimV } = problem;
  const config = chooseTileConfig('forward', problem.headDim, headDimV, ctx.tiling);
  const features = scoreFeatures(problem);
  const bindings = forwardBindings(dtype);
  const kernel = await ctx.pipelines.get({
    key: `${configKey(config)}:${dtype}:${featuresKey(features)}`,
    bindings,
    code: () => forwardWgsl(config, dtype, features),
  });

  const outBytes = tensorBytes(totalQ * numHeads * headDimV, dtype);
  const lseBytes = numHeads * totalQ * 4;
  ctx.buffers.checkBindable(outBytes, 'out');
  ctx.buffers.checkBindable(lseBytes, 'lse');
  checkInputBuffers(ctx, { q, k, v }, problem);
  const items = queryTiles(problem, config.bm, config.bn, true);
  const submit = () => {
    const dispatch = new Dispatch(ctx, kernel, 'fa-forward', problem, items, items.count * numHeads);
    const outputs: GPUBuffer[] = [];
    try {
      const out = ctx.buffers.create(outBytes, TENSOR_USAGE, 'fa-out');
      outputs.push(out);
      const lse = ctx.buffers.create(lseBytes, TENSOR_USAGE, 'fa-lse');
      outputs.push(lse);
      const encoder = ctx.device.createCommandEncoder({ label: 'fa-forward' });
      dispatch.encode(encoder, [q, k, v, out, lse]);
      ctx.device.queue.submit([encoder.finish()]);
      return { out, lse };
    } catch (error) {
      for (const buffer of outputs) ctx.buffers.destroy(buffer);
      throw error;
    } finally {
      // Temporaries go as soon as the work is submitted; WebGPU keeps them until it has run.
      dispatch.release();
    }
  };
  const discard = (result: { out: GPUBuffer; lse: GPUBuffer }) => {
    ctx.buffers.destroy(result.out);
    ctx.buffers.destroy(result.lse);
  };
  return checked(ctx, 'forward', submit, discard);
}
