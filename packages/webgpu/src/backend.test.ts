import { checkCase } from '@fa/conformance';
import {
  type AttnProblem,
  encodeFromFloat,
  getBackend,
  isFaError,
  listBackends,
  registerBackend,
  resolveAttnProblem,
} from '@fa/core';
import * as fa from '@fa/flash-attn';
import { flashAttnVarlen, flashAttnVarlenBackward, tensor } from '@fa/flash-attn';
import { cuSeqlensFromLengths } from '@fa/seqpack';
import { fixedCases, Random } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createWebGpuBackend, registerWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from './index.js';
import { chooseTileConfig } from './plan/config.js';

const backends: WebGpuBackend[] = [];
async function fresh(options: Parameters<typeof createWebGpuBackend>[0] = {}): Promise<WebGpuBackend> {
  const backend = await createWebGpuBackend(options);
  backends.push(backend);
  return backend;
}
afterAll(() => {
  for (const b of backends) b.destroy?.();
});

/** `n` values uniform in [-0.5, 0.5), seeded. */
function randomF32(n: number, seed: number): Float32Array {
  const random = new Random(seed);
  return Float32Array.from({ length: n }, () => random.next() - 0.5);
}

/** Runs a forward and a backward directly on the backend and disposes everything. */
async function roundTrip(backend: WebGpuBackend, lengths: number[], options: Partial<AttnProblem> = {}) {
  const H = 2;
  const D = 16;
  const total = lengths.reduce((a, b) => a + b, 0);
  const meta = { shape: [total, H, D], dtype: 'f32' as const };
  const problem = {
    ...resolveAttnProblem(meta, meta, meta, {
      cuSeqlensQ: cuSeqlensFromLengths(lengths),
      cuSeqlensK: cuSeqlensFromLengths(lengths),
    }),
    ...options,
  };
  const host = (seed: number) => ({
    data: randomF32(total * H * D, seed),
    shape: [total, H, D],
    dtype: 'f32' as const,
  });
  const [q, k, v, dout] = await Promise.all([1, 2, 3, 4].map((s) => backend.upload(host(s))));
  const { out, lse } = await backend.forward(q!, k!, v!, problem);
  const grads = await backend.backward(dout!, q!, k!, v!, out, lse, problem);
  const dq = await backend.download(grads.dq, [total, H, D], 'f32');
  for (const handle of [q, k, v, dout, out, lse, grads.dq, grads.dk, grads.dv]) backend.dispose(handle!);
  return dq;
}

describe('webgpu backend', () => {
  it('registers as "webgpu" above the cpu backend without starting a device', () => {
    registerWebGpuBackend();
    const entry = listBackends().find((b) => b.name === 'webgpu');
    expect(entry?.priority).toBe(10);
  });

  it('leaves no live buffers behind after many calls', async () => {
    const backend = await fresh();
    const before = backend.stats().liveBuffers;
    for (let n = 0; n < 5; n++) await roundTrip(backend, [7, 0, 12], { causal: n % 2 === 0 });
    expect(backend.stats().liveBuffers).toBe(before);
  });

  it('does not compile a new pipeline for a batch with other lengths or option values', async () => {
    const backend = await fresh();
    await roundTrip(backend, [5, 9]);
    const compiled = backend.stats().pipelinesCompiled;
    expect(compiled).toBe(4); // forward, preprocess, dK/dV, dQ
    await roundTrip(backend, [40, 1, 0, 17]);
    await roundTrip(backend, [3], { causal: true, windowLeft: 2, windowRight: 0, softmaxScale: 0.3 });
    expect(backend.stats().pipelinesCompiled).toBe(compiled);
  });

  it('rejects a tensor larger than maxStorageBufferBindingSize with E_LIMIT naming the limit', async () => {
    const adapterless = await fresh();
    const limit = adapterless.device.limits.maxStorageBufferBindingSize;
    // `out` = total_q × 256 floats exceeds the limit while q (head_dim 1) and k, v (one key) stay small.
    const totalQ = Math.floor(limit / (256 * 4)) + 1;
    const q = { shape: [totalQ, 1, 1], dtype: 'f32' as const };
    const k = { shape: [1, 1, 1], dtype: 'f32' as const };
    const v = { shape: [1, 1, 256], dtype: 'f32' as const };
    const problem = resolveAttnProblem(q, k, v, {
      cuSeqlensQ: Int32Array.of(0, totalQ),
      cuSeqlensK: Int32Array.of(0, 1),
    });
    const hq = await adapterless.upload({ data: new Float32Array(totalQ), shape: q.shape, dtype: 'f32' });
    const hk = await adapterless.upload({ data: new Float32Array(1), shape: k.shape, dtype: 'f32' });
    const hv = await adapterless.upload({ data: new Float32Array(256), shape: v.shape, dtype: 'f32' });
    const error = await adapterless.forward(hq, hk, hv, problem).catch((e: unknown) => e);
    expect(isFaError(error, 'E_LIMIT')).toBe(true);
    expect((error as Error).message).toContain('maxStorageBufferBindingSize');
    expect((error as Error).message).toContain('`out`');
    for (const h of [hq, hk, hv]) adapterless.dispose(h);
  });

  it('reports a lost device as E_DEVICE_LOST and recreates it on the next call', async () => {
    const backend = await fresh();
    const data = { data: randomF32(3 * 2 * 16, 9), shape: [3, 2, 16], dtype: 'f32' as const };
    const old = await backend.upload(data);
    const lostDevice = backend.device;
    lostDevice.destroy();
    await lostDevice.lost;
    const error = await backend.download(old, data.shape, 'f32').catch((e: unknown) => e);
    expect(isFaError(error, 'E_DEVICE_LOST')).toBe(true);
    expect((error as Error).message).toMatch(/device was lost/);
    // A later call runs on a new device.
    const dq = await roundTrip(backend, [3]);
    expect(dq.data.length).toBe(3 * 2 * 16);
    expect(backend.device).not.toBe(lostDevice);
    expect(backend.stats().devices).toBe(2);
    // destroy() frees everything; the backend stays usable and starts a new device when called again.
    backend.destroy();
    expect((await roundTrip(backend, [2])).data.length).toBe(2 * 2 * 16);
    expect(backend.stats().devices).toBe(3);
  });

  it('gives the same bits on every run (deterministic)', async () => {
    const backend = await fresh();
    const a = await roundTrip(backend, [33, 20], { dropoutP: 0.2, seed: 77 });
    const b = await roundTrip(backend, [33, 20], { dropoutP: 0.2, seed: 77 });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });
});

const TILING_CASES = [
  'head_dim 111',
  'head_dim 256',
  'long sequence over several tiles',
  'head_dim_v differs from head_dim',
  'everything at once',
  'f16: window, softcap, ALiBi',
  'bf16: dropout',
];

function describeTiling(
  name: string,
  tilingLimits: WebGpuBackendOptions['tilingLimits'],
  forwardTile: number | [number, number],
) {
  const [bm, bn] = typeof forwardTile === 'number' ? [forwardTile, forwardTile] : forwardTile;
  describe(name, () => {
    const backendName = `webgpu-${name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/-+$/, '')}`;
    registerBackend(backendName, () => fresh({ tilingLimits }));
    it(`uses ${bm}×${bn} forward tiles${tilingLimits?.vec4 ? ' of vec4' : ''}`, async () => {
      const backend = (await getBackend(backendName)) as WebGpuBackend;
      const config = chooseTileConfig('forward', 128, 128, backend.tiling);
      expect([config.bm, config.bn]).toEqual([bm, bn]);
      expect(config.vec4).toBe(tilingLimits?.vec4 === true);
      for (const kind of ['dq', 'dkdv'] as const) {
        expect(chooseTileConfig(kind, 128, 128, backend.tiling).vec4).toBe(tilingLimits?.vec4 === true);
      }
    });
    for (const caseName of TILING_CASES) {
      it(caseName, async () => {
        const testCase = fixedCases().find((c) => c.name === caseName)!;
        for (const c of await checkCase({ facade: fa, backend: backendName }, testCase, 1234, true)) {
          expect(c.pass, `${c.quantity}: ${c.maxError} > ${c.tolerance}`).toBe(true);
        }
      });
    }
  });
}

// The smallest tiles and the WebGPU minimum of workgroup storage: every product streams its head dim through
// workgroup memory in chunks, which the default tiling on this adapter rarely does.
describeTiling(
  'minimum tiles (16 KiB of workgroup storage, 64 invocations)',
  { workgroupStorageBytes: 16384, invocations: 64 },
  16,
);

// The largest shapes (64×64 score tiles, 4×4 register micro-tiles: what a discrete GPU gets), squeezed into this
// adapter's 32 KiB by streaming 16-wide chunks.
describeTiling(
  'largest tiles (64×64, 4 rows per invocation)',
  { workgroupStorageBytes: 32768, invocations: 256, minChunk: 16 },
  64,
);

// Candidate shapes given by the caller (how a new device is tuned): rectangular score tiles, and dK/dV with two
// keys per invocation.
describeTiling(
  'custom shapes (64×32 forward, 32×32 dQ, 32×64 dK/dV)',
  {
    workgroupStorageBytes: 32768,
    invocations: 256,
    shapes: {
      forward: [{ wg: 128, bm: 64, bn: 32, rm: 4, km: 1 }],
      dq: [{ wg: 64, bm: 32, bn: 32, rm: 2, km: 1 }],
      dkdv: [{ wg: 128, bm: 32, bn: 64, rm: 2, km: 2 }],
    },
  },
  [64, 32],
);

// The forward's vec4 tiles (swizzled key rows, four columns per load), at both tile sizes this adapter runs.
describeTiling('vec4 tiles, 32×32', { workgroupStorageBytes: 32768, invocations: 256, vec4: true }, 32);
// Row groups of four lanes: on SwiftShader (subgroups of 4) this is also vec4 tiles with subgroup reductions.
describeTiling('vec4 tiles, smallest shape', { workgroupStorageBytes: 16384, invocations: 64, vec4: true }, 16);
describeTiling(
  'vec4 tiles, largest shape',
  { workgroupStorageBytes: 32768, invocations: 256, minChunk: 16, vec4: true },
  64,
);

describe('tile shape options', () => {
  it('refuses a shape the kernels cannot run, naming it and saying why', async () => {
    const shapes = {
      dq: [
        { wg: 64, bm: 32, bn: 32, rm: 2, km: 1 },
        { wg: 96, bm: 32, bn: 32, rm: 2, km: 1 },
      ],
    };
    const error = await createWebGpuBackend({ tilingLimits: { shapes } }).catch((e: unknown) => e);
    expect(isFaError(error) && error.argument).toBe('options.tilingLimits.shapes.dq[1]');
    expect((error as Error).message).toMatch(/lanes per row group/);
    const empty = await createWebGpuBackend({ tilingLimits: { shapes: { forward: [] } } }).catch((e: unknown) => e);
    expect(isFaError(empty) && empty.argument).toBe('options.tilingLimits.shapes.forward');
  });
});

describe('webgpu through the façade', () => {
  it('keeps results on the device between forward and backward', async () => {
    registerBackend('webgpu-facade', () => fresh());
    const lengths = [4, 6];
    const total = 10;
    const data = (seed: number) => tensor(encodeFromFloat(randomF32(total * 2 * 8, seed), 'f16'), [total, 2, 8], 'f16');
    const [q, k, v, dout] = [data(1), data(2), data(3), data(4)];
    const options = {
      cuSeqlensQ: cuSeqlensFromLengths(lengths),
      cuSeqlensK: cuSeqlensFromLengths(lengths),
      backend: 'webgpu-facade',
    };
    const { out, lse } = await flashAttnVarlen(q, k, v, options);
    expect(out.backend).toBe('webgpu');
    const { dq } = await flashAttnVarlenBackward(dout, q, k, v, out, lse, options);
    expect(dq.backend).toBe('webgpu');
    expect((await dq.toArray()).every(Number.isFinite)).toBe(true);
  });
});
