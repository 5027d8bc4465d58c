import { isFaError } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { dkdvBindings } from '../kernels/dkdv.js';
import { dqBindings } from '../kernels/dq.js';
import { forwardBindings } from '../kernels/forward.js';
import { preprocessBindings } from '../kernels/preprocess.js';
import { storageBindingCount } from '../wgsl/bindings.js';
import {
  BASELINE_LIMITS,
  chooseTileConfig,
  type KernelKind,
  keyThreads,
  rowThreads,
  sharedFloats,
  TILE_SHAPES,
  tileShapeProblem,
} from './config.js';

const KINDS: KernelKind[] = ['forward', 'dq', 'dkdv'];
const HEAD_DIMS = [1, 8, 32, 59, 64, 96, 111, 128, 160, 200, 256];

describe('tile configurations', () => {
  it('fit WebGPU minimums (16 KiB of workgroup storage) for every head dim pair', () => {
    for (const kind of KINDS) {
      for (const d of HEAD_DIMS) {
        for (const dv of [d, 24, 256]) {
          const c = chooseTileConfig(kind, d, dv, BASELINE_LIMITS);
          expect(sharedFloats(c) * 4).toBeLessThanOrEqual(16384);
          expect(c.wg).toBeLessThanOrEqual(256);
          // The kernels' layout rules.
          expect(c.bn % (4 * rowThreads(c))).toBe(0);
          expect(c.dp % c.dc).toBe(0);
          expect(c.dvp % c.vc).toBe(0);
          expect(c.vc % rowThreads(c)).toBe(0);
          expect(c.dc % rowThreads(c)).toBe(0);
          expect(c.dc % keyThreads(c)).toBe(0);
          expect(c.vc % keyThreads(c)).toBe(0);
          expect(c.dp).toBeGreaterThanOrEqual(d);
        }
      }
    }
  });

  it('use bigger tiles where the device allows', () => {
    const small = chooseTileConfig('forward', 128, 128, { workgroupStorageBytes: 16384, invocations: 64 });
    const large = chooseTileConfig('forward', 128, 128, { workgroupStorageBytes: 49152, invocations: 1024 });
    expect(small.bm * small.bn).toBeLessThan(large.bm * large.bn);
    expect(sharedFloats(large) * 4).toBeLessThanOrEqual(49152);
  });

  it('bind at most 8 storage buffers per kernel (the WebGPU minimum)', () => {
    for (const bindings of [forwardBindings, dqBindings, dkdvBindings, preprocessBindings]) {
      for (const dtype of ['f32', 'f16', 'bf16'] as const) {
        expect(storageBindingCount(bindings(dtype))).toBeLessThanOrEqual(8);
      }
    }
  });
});

describe('tile shapes', () => {
  it("the built-in ones follow the kernels' layout rules", () => {
    for (const kind of KINDS) for (const shape of TILE_SHAPES[kind]) expect(tileShapeProblem(kind, shape)).toBeNull();
    // Exported, so frozen: an importer cannot change everyone's tiling.
    expect(Object.isFrozen(TILE_SHAPES) && Object.isFrozen(TILE_SHAPES.dq) && Object.isFrozen(TILE_SHAPES.dq[0])).toBe(
      true,
    );
  });

  it('names what is wrong with a shape the kernels cannot run', () => {
    const ok = { wg: 128, bm: 64, bn: 32, rm: 4, km: 1 };
    expect(tileShapeProblem('forward', ok)).toBeNull();
    expect(tileShapeProblem('forward', { ...ok, rm: 3 })).toMatch(/multiple of rm/);
    expect(tileShapeProblem('forward', { ...ok, wg: 96 })).toMatch(/lanes per row group/);
    expect(tileShapeProblem('forward', { ...ok, wg: 512, rm: 4, bm: 64 })).toMatch(/lanes per row group, 32/);
    expect(tileShapeProblem('forward', { ...ok, bn: 48 })).toMatch(/multiple of 4/);
    expect(tileShapeProblem('forward', { ...ok, km: 2 })).toMatch(/km must be 1/);
    expect(tileShapeProblem('dkdv', { ...ok, km: 3 })).toMatch(/multiple of km/);
    expect(tileShapeProblem('dkdv', { ...ok, km: 8 })).toMatch(/lanes per key group, 32/);
    expect(tileShapeProblem('dq', { ...ok, bm: 0 })).toMatch(/bm must be a positive integer/);
  });

  it('takes candidate shapes from the limits, skipping those over them, and says so when none fits', () => {
    const shapes = {
      forward: [
        { wg: 512, bm: 64, bn: 64, rm: 4, km: 1 },
        { wg: 128, bm: 64, bn: 32, rm: 4, km: 1 },
      ],
    };
    const limits = { workgroupStorageBytes: 49152, invocations: 256, shapes };
    const config = chooseTileConfig('forward', 128, 128, limits);
    expect([config.wg, config.bm, config.bn, config.rm]).toEqual([128, 64, 32, 4]);
    // Other kernels keep the built-in shapes.
    expect(chooseTileConfig('dq', 128, 128, limits).bn).toBe(64);
    let error: unknown;
    try {
      chooseTileConfig('forward', 128, 128, { ...limits, invocations: 64 });
    } catch (e) {
      error = e;
    }
    expect(isFaError(error) && error.code === 'E_LIMIT' && error.argument).toBe('tilingLimits');
  });
});
