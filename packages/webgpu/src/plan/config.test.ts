import { describe, expect, it } from 'vitest';
import { dkdvBindings } from '../kernels/dkdv.js';
import { dqBindings } from '../kernels/dq.js';
import { forwardBindings } from '../kernels/forward.js';
import { preprocessBindings } from '../kernels/preprocess.js';
import { storageBindingCount } from '../wgsl/bindings.js';
import { BASELINE_LIMITS, chooseTileConfig, type KernelKind, keyThreads, rowThreads, sharedFloats } from './config.js';

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
