import { describeBadInputs, describeConformance, describeDeterminism, describeStridedInputs } from '@fa/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import * as fa from '../index.js';
import { createCpuBackend } from './index.js';

// The cpu backend's run of the shared suite, through this package's own façade.
describeConformance({ facade: fa, backend: 'cpu', randomCases: 8 });
describeBadInputs({ facade: fa, backend: 'cpu' });
describeStridedInputs({ facade: fa, backend: 'cpu' });

// The cpu backend promises the same bits whatever its thread count.
fa.registerBackend('cpu-1-thread', () => createCpuBackend({ threads: 1 }), { priority: -10 });
fa.registerBackend('cpu-4-threads', () => createCpuBackend({ threads: 4 }), { priority: -10 });
describeDeterminism({ facade: fa, backend: 'cpu', sameBitsAs: ['cpu-1-thread', 'cpu-4-threads'] });

// Which kernel family ran, and on what: CI runs this file on every supported Node major, and WebAssembly differs
// between them (relaxed SIMD, with its fused multiply-add, arrives in Node 22), so the title says it.
const nodeMajor = Number(process.versions.node.split('.')[0]);
const probe = createCpuBackend({ threads: 1 });
afterAll(() => probe.destroy?.());
describe(`cpu kernel path on Node ${process.version}: ${probe.kernels}, features ${JSON.stringify(probe.features)}`, () => {
  it('runs the WebAssembly SIMD kernels, which every supported Node has', () => {
    expect(probe.features.wasmSimd).toBe(true);
    expect(probe.features.sharedMemory).toBe(true);
    expect(probe.kernels).toBe('wasm-simd');
  });

  it('detects relaxed SIMD exactly on the Node majors that have it (22 and later)', () => {
    expect(probe.features.relaxedSimd).toBe(nodeMajor >= 22);
  });
});
