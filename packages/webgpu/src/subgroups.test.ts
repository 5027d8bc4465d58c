import { checkCase, firstDifference, resultBits } from '@fa/conformance';
import { isFaError, registerBackend } from '@fa/core';
import * as fa from '@fa/flash-attn';
import { fixedCases, freshSeed, Random, randomCase } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { isLinearSubgroupLayout } from './gpu/subgroups.js';
import { createWebGpuBackend, type WebGpuBackend } from './index.js';
import { forwardWgsl } from './kernels/forward.js';
import { chooseTileConfig, rowThreads, sharedFloats } from './plan/config.js';

/** What the probe kernel writes for invocation t: its lane, the subgroup size, and what `shuffleXor(t, 1)` fetched. */
function probeWords(count: number, laneOf: (t: number) => number, size: number, neighbourOf = (t: number) => t ^ 1) {
  return Uint32Array.from({ length: count * 3 }, (_, e) => {
    const t = Math.floor(e / 3);
    return [laneOf(t), size, neighbourOf(t)][e % 3]!;
  });
}

interface Layout {
  readonly count: number;
  readonly size: number;
  readonly laneOf: (t: number) => number;
  readonly neighbourOf?: (t: number) => number;
}
const linear = (size: number, count = 256): Layout => ({ count, size, laneOf: (t) => t % size });
const accepted = (layout: Layout, minSize: number) =>
  isLinearSubgroupLayout(probeWords(layout.count, layout.laneOf, layout.size, layout.neighbourOf), minSize);

describe('subgroup layout check', () => {
  it('accepts invocation t as lane t % size, for every size at least the minimum', () => {
    for (const size of [4, 8, 16, 32, 64]) expect(accepted(linear(size), 4)).toBe(true);
  });

  it('rejects other layouts, sizes below the minimum and ragged subgroups', () => {
    // Lanes reversed within each subgroup: the butterfly would pair the wrong invocations.
    expect(accepted({ ...linear(32), laneOf: (t) => 31 - (t % 32) }, 4)).toBe(false);
    expect(accepted(linear(4), 8)).toBe(false);
    expect(accepted(linear(64, 96), 4)).toBe(false);
    // A shuffle that does not fetch from the lane it names.
    expect(accepted({ ...linear(32), neighbourOf: (t) => t }, 4)).toBe(false);
    expect(isLinearSubgroupLayout(new Uint32Array(0), 4)).toBe(false);
  });
});

describe('tiling with subgroups', () => {
  const limits = { workgroupStorageBytes: 49152, invocations: 1024 };
  it('reduces rows with shuffles exactly when a row group fits in the guaranteed subgroup width', () => {
    for (const width of [0, 4, 8, 16, 32]) {
      const config = chooseTileConfig('forward', 128, 128, { ...limits, subgroupWidth: width });
      expect(config.subgroupRows).toBe(width >= rowThreads(config));
    }
    // The backward kernels have no cross-lane reductions.
    expect(chooseTileConfig('dq', 64, 64, { ...limits, subgroupWidth: 32 }).subgroupRows).toBe(false);
  });

  it('drops the partials array, and the generated WGSL uses shuffles and enables subgroups first', () => {
    const shared = chooseTileConfig('forward', 64, 64, { ...limits, subgroupWidth: 0 });
    const shuffled = chooseTileConfig('forward', 64, 64, { ...limits, subgroupWidth: 32 });
    expect(sharedFloats(shuffled)).toBeLessThan(sharedFloats(shared));
    const features = { softcap: false, alibi: false, dropout: false };
    const code = forwardWgsl(shuffled, 'f32', features);
    expect(code.trimStart().startsWith('enable subgroups;')).toBe(true);
    expect(code).toContain('subgroupShuffleXor');
    expect(code).not.toMatch(/\bpart\[/);
    const plain = forwardWgsl(shared, 'f32', features);
    expect(plain).not.toContain('subgroup');
  });
});

describe('webgpu with and without subgroups', () => {
  const backends: WebGpuBackend[] = [];
  afterAll(() => {
    for (const b of backends) b.destroy();
  });
  // The smallest shape (row groups of 4 lanes) so that SwiftShader's 4-wide subgroups qualify.
  const tilingLimits = { workgroupStorageBytes: 16384, invocations: 64 };
  const make = async (subgroups: boolean) => {
    const backend = await createWebGpuBackend({ tilingLimits, subgroups });
    backends.push(backend);
    return backend;
  };

  it('relies on the adapter minimum subgroup size when the device has subgroups, and on nothing when told not to', async () => {
    const on = await make(true);
    const off = await make(false);
    const minSize = (on.device as { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo?.subgroupMinSize;
    expect(on.features.subgroups).toBe(on.device.features.has('subgroups'));
    expect(on.features.subgroupWidth).toBe(on.features.subgroups ? minSize : 0);
    expect(off.features.subgroupWidth).toBe(0);
    expect(chooseTileConfig('forward', 64, 64, off.tiling).subgroupRows).toBe(false);
  });

  it('rejects a non-boolean `subgroups` option naming it', async () => {
    const error = await createWebGpuBackend({ subgroups: 'yes' as unknown as boolean }).catch((e: unknown) => e);
    expect(isFaError(error) && error.argument).toBe('options.subgroups');
  });

  it('gives the same bits through shuffles as through workgroup memory, and both match the reference', async () => {
    const on = await make(true);
    // Without subgroups on this adapter there is nothing to compare; CI's SwiftShader and the H100 both have them.
    expect(on.features.subgroupWidth).toBeGreaterThanOrEqual(4);
    expect(chooseTileConfig('forward', 64, 64, on.tiling).subgroupRows).toBe(true);
    registerBackend('webgpu-subgroups', () => on);
    registerBackend('webgpu-no-subgroups', () => make(false));
    const seed = freshSeed();
    const random = new Random(seed);
    const cases = [...fixedCases().filter((c) => c.dtype === 'f32'), randomCase(random, 0), randomCase(random, 1)];
    for (const testCase of cases) {
      const [a, b] = [
        await resultBits({ facade: fa, backend: 'webgpu-subgroups' }, testCase, seed),
        await resultBits({ facade: fa, backend: 'webgpu-no-subgroups' }, testCase, seed),
      ];
      expect(firstDifference(a, b), `${testCase.name} (seed ${seed})`).toBeNull();
    }
    for (const testCase of cases.slice(0, 6)) {
      for (const c of await checkCase({ facade: fa, backend: 'webgpu-subgroups' }, testCase, seed, true)) {
        expect(c.pass, `${testCase.name} ${c.quantity}: ${c.maxError} > ${c.tolerance} (seed ${seed})`).toBe(true);
      }
    }
  }, 120_000);
});
