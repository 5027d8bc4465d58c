import { type AttnProblem, f32ToF16Bits, type HostTensor, isFaError, resolveAttnProblem } from '@fa/core';
import { describe, expect, it } from 'vitest';
import type { AddonBackwardArgs, AddonForwardArgs, DeviceBuffer, FaCudaAddon, TileShape } from './addon.js';
import type { CudaDeviceInfo } from './availability.js';
import { backendWithAddon } from './backend.js';
import { packProblem } from './params.js';
import { keyWorkList, queryWorkList } from './tiles.js';

/**
 * The TS layer over a fake addon whose "device memory" is host memory: what the backend allocates, copies,
 * passes and frees, and how it reports failures — everything but the kernels, which need a GPU.
 */
class FakeBuffer implements DeviceBuffer {
  readonly device = 0;
  freed = false;
  readonly memory: Uint8Array;
  constructor(readonly bytes: number) {
    this.memory = new Uint8Array(bytes);
  }
  free(): void {
    this.freed = true;
  }
}

const SHAPE: TileShape = {
  bucket: 64,
  forwardRows: 64,
  dqRows: 64,
  dkdvKeys: 64,
  forwardSharedMemory: 55296,
  backwardSharedMemory: 55808,
};

function fakeAddon(overrides: Partial<FaCudaAddon> = {}) {
  const calls: { forward: AddonForwardArgs[]; backward: AddonBackwardArgs[]; allocs: FakeBuffer[] } = {
    forward: [],
    backward: [],
    allocs: [],
  };
  const bytesOf = (view: ArrayBufferView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const addon = {
    abiVersion: 1,
    archs: '80,90',
    alloc: (_device: number, bytes: number) => {
      const b = new FakeBuffer(bytes);
      calls.allocs.push(b);
      return b;
    },
    upload: async (buffer: DeviceBuffer, data: ArrayBufferView) => {
      (buffer as FakeBuffer).memory.set(bytesOf(data));
    },
    download: async (buffer: DeviceBuffer, target: ArrayBufferView) => {
      bytesOf(target).set((buffer as FakeBuffer).memory);
    },
    forward: async (args: AddonForwardArgs) => {
      calls.forward.push(args);
    },
    backward: async (args: AddonBackwardArgs) => {
      calls.backward.push(args);
    },
    deviceCount: () => ({ count: 1, error: null, errorName: null }),
    deviceInfo: () => DEVICE,
    versions: () => ({ runtime: 13000, driver: 13000 }),
    tileShape: () => SHAPE,
    selftest: {} as FaCudaAddon['selftest'],
    ...overrides,
  } as FaCudaAddon;
  return { addon, calls };
}

const DEVICE: CudaDeviceInfo = {
  index: 0,
  name: 'Fake GPU',
  major: 9,
  minor: 0,
  computeCapability: '9.0',
  totalMemory: 80e9,
  multiprocessors: 132,
  sharedMemoryPerBlockOptin: 232448,
};

const cu = Int32Array.of(0, 70, 70, 75);
function problemOf(dtype: 'f32' | 'f16' = 'f16', options: Partial<{ dropoutP: number }> = {}): AttnProblem {
  const meta = (h: number) => ({ shape: [75, h, 64], dtype });
  return resolveAttnProblem(meta(4), meta(2), meta(2), { cuSeqlensQ: cu, cuSeqlensK: cu, causal: true, ...options });
}

describe('cuda backend over a fake addon', () => {
  it('uploads and downloads the raw bits of every dtype', async () => {
    const { addon } = fakeAddon();
    const backend = backendWithAddon(addon, '/fake.node', DEVICE);
    const f16 = Uint16Array.from([1, -2, 0.5, 65504], f32ToF16Bits);
    const handle = await backend.upload({ data: f16, shape: [2, 2], dtype: 'f16' });
    expect(handle.bytes).toBe(8);
    const back = (await backend.download(handle, [2, 2], 'f16')) as HostTensor<'f16'>;
    expect(back.data).toBeInstanceOf(Uint16Array);
    expect([...back.data]).toEqual([...f16]);
    const f32 = await backend.upload({ data: Float32Array.of(1.5, -3), shape: [2], dtype: 'f32' });
    expect([...((await backend.download(f32, [2], 'f32')).data as Float32Array)]).toEqual([1.5, -3]);
    expect(backend.stats()).toEqual({ liveBuffers: 2, liveBytes: 16 });
    backend.dispose(handle);
    backend.dispose(handle); // harmless
    expect(backend.stats().liveBuffers).toBe(1);
    const error = await backend.download(handle, [2, 2], 'f16').catch((e: unknown) => e);
    expect(isFaError(error, 'E_DISPOSED')).toBe(true);
  });

  it('passes its kernel designs to the addon, and gives way to the baseline where a fa2 tile does not fit', async () => {
    // fa2 (code 1) needs more shared memory than this device allows per block; the baseline (0) fits.
    const small = { ...DEVICE, sharedMemoryPerBlockOptin: 101376 };
    const asked: number[][] = [];
    const { addon, calls } = fakeAddon({
      tileShape: (_dtype: number, _d: number, _dv: number, forward: number, backward: number) => {
        asked.push([forward, backward]);
        return {
          ...SHAPE,
          forwardRows: forward === 1 ? 128 : 64,
          forwardSharedMemory: forward === 1 ? 131072 : 99 * 1024,
        };
      },
    });
    const kernels = { forwardKernel: 1, backwardKernel: 1, tuning: 3 };
    const backend = backendWithAddon(addon, '/fake.node', small, kernels);
    expect(backend.kernels).toEqual(kernels);
    const problem = problemOf('f16');
    const q = await backend.upload({ data: new Uint16Array(75 * 4 * 64), shape: [75, 4, 64], dtype: 'f16' });
    const kv = await backend.upload({ data: new Uint16Array(75 * 2 * 64), shape: [75, 2, 64], dtype: 'f16' });
    const { out, lse } = await backend.forward(q, kv, kv, problem);
    expect(asked).toEqual([
      [1, 1],
      [0, 1],
    ]);
    const args = calls.forward[0] as AddonForwardArgs;
    expect([args.forwardKernel, args.backwardKernel, args.tuning]).toEqual([0, 1, 3]);
    expect(args.tiles).toEqual(queryWorkList(problem, 64)); // the baseline's work list, not fa2's
    // The backward's tiles fit: it keeps the fa2 design.
    await backend.backward(q, q, kv, kv, out, lse, problem);
    const b = calls.backward[0] as AddonBackwardArgs;
    expect([b.forwardKernel, b.backwardKernel]).toEqual([1, 1]);
    // Neither design fits: refused before any device work, naming q.
    const tiny = backendWithAddon(addon, '/fake.node', { ...DEVICE, sharedMemoryPerBlockOptin: 48 * 1024 }, kernels);
    const q2 = await tiny.upload({ data: new Uint16Array(75 * 4 * 64), shape: [75, 4, 64], dtype: 'f16' });
    const kv2 = await tiny.upload({ data: new Uint16Array(75 * 2 * 64), shape: [75, 2, 64], dtype: 'f16' });
    const refused = await tiny.forward(q2, kv2, kv2, problem).catch((e: unknown) => e);
    expect(isFaError(refused, 'E_UNSUPPORTED')).toBe(true);
    expect(calls.forward).toHaveLength(1);
  });

  it('forward allocates out and lse, and passes the packed problem with the forward work list', async () => {
    const { addon, calls } = fakeAddon();
    const backend = backendWithAddon(addon, '/fake.node', DEVICE);
    const problem = problemOf('f16', { dropoutP: 0.25 });
    const q = await backend.upload({ data: new Uint16Array(75 * 4 * 64), shape: [75, 4, 64], dtype: 'f16' });
    const kv = await backend.upload({ data: new Uint16Array(75 * 2 * 64), shape: [75, 2, 64], dtype: 'f16' });
    const { out, lse } = await backend.forward(q, kv, kv, problem);
    expect([out.bytes, lse.bytes]).toEqual([75 * 4 * 64 * 2, 4 * 75 * 4]);
    const args = calls.forward[0] as AddonForwardArgs;
    const { q: aq, k, v, out: ao, lse: al, ...rest } = args;
    expect([aq, k, v, ao, al]).toEqual([q, kv, kv, out, lse]);
    expect(rest).toEqual(packProblem(problem, 0, queryWorkList(problem, SHAPE.forwardRows)));
    expect(args.dropout).toBe(true);

    await backend.backward(q, q, kv, kv, out, lse, problem);
    const b = calls.backward[0] as AddonBackwardArgs;
    expect(b.tiles).toEqual(queryWorkList(problem, SHAPE.dqRows));
    expect(b.keyTiles).toEqual(keyWorkList(problem, SHAPE.dkdvKeys));
    expect([b.dq.bytes, b.dk.bytes, b.dv.bytes]).toEqual([75 * 4 * 64 * 2, 75 * 2 * 64 * 2, 75 * 2 * 64 * 2]);
    backend.destroy();
    expect(calls.allocs.every((a) => a.freed)).toBe(true);
    expect(backend.stats().liveBuffers).toBe(0);
  });

  it('turns the binding’s argument errors into E_VALUE naming the argument, and frees the outputs', async () => {
    const refusal = Object.assign(new RangeError('Expected x for `tiles`, received y.'), {
      code: 'E_ADDON_ARGUMENT',
      argument: 'tiles',
    });
    const { addon } = fakeAddon({ forward: () => Promise.reject(refusal) });
    const backend = backendWithAddon(addon, '/fake.node', DEVICE);
    const q = await backend.upload({ data: new Float32Array(75 * 4 * 64), shape: [75, 4, 64], dtype: 'f32' });
    const kv = await backend.upload({ data: new Float32Array(75 * 2 * 64), shape: [75, 2, 64], dtype: 'f32' });
    const error = await backend.forward(q, kv, kv, problemOf('f32')).catch((e: unknown) => e);
    expect(isFaError(error, 'E_VALUE')).toBe(true);
    expect((error as { argument?: string }).argument).toBe('tiles');
    expect(backend.stats().liveBuffers).toBe(2); // out and lse were freed
  });

  it('reports out-of-memory as E_LIMIT and a device failure as E_DEVICE_LOST', async () => {
    const oom = Object.assign(
      new Error('device allocation of 9 bytes failed: cudaErrorMemoryAllocation: out of memory'),
      {
        code: 'E_CUDA_OOM',
      },
    );
    const { addon } = fakeAddon({
      alloc: () => {
        throw oom;
      },
    });
    const backend = backendWithAddon(addon, '/fake.node', DEVICE);
    const error = await backend
      .upload({ data: new Float32Array(2), shape: [2], dtype: 'f32' })
      .catch((e: unknown) => e);
    expect(isFaError(error, 'E_LIMIT')).toBe(true);

    const fault = Object.assign(new Error('forward failed: cudaErrorIllegalAddress: an illegal memory access'), {
      code: 'E_CUDA',
    });
    const failing = backendWithAddon(fakeAddon({ forward: () => Promise.reject(fault) }).addon, '/fake.node', DEVICE);
    const q = await failing.upload({ data: new Uint16Array(75 * 4 * 64), shape: [75, 4, 64], dtype: 'f16' });
    const kv = await failing.upload({ data: new Uint16Array(75 * 2 * 64), shape: [75, 2, 64], dtype: 'f16' });
    const lost = await failing.forward(q, kv, kv, problemOf()).catch((e: unknown) => e);
    expect(isFaError(lost, 'E_DEVICE_LOST')).toBe(true);
    expect((lost as Error).message).toContain('cudaErrorIllegalAddress');
  });

  it('refuses handles it does not own and head dims whose tiles exceed the device’s shared memory', async () => {
    const a = backendWithAddon(fakeAddon().addon, '/fake.node', DEVICE);
    const b = backendWithAddon(fakeAddon().addon, '/fake.node', DEVICE);
    const q = await a.upload({ data: new Uint16Array(75 * 4 * 64), shape: [75, 4, 64], dtype: 'f16' });
    const kv = await a.upload({ data: new Uint16Array(75 * 2 * 64), shape: [75, 2, 64], dtype: 'f16' });
    const mismatch = await b.forward(q, kv, kv, problemOf()).catch((e: unknown) => e);
    expect(isFaError(mismatch, 'E_BACKEND_MISMATCH')).toBe(true);
    expect(b.stats().liveBuffers).toBe(0); // refused before anything was allocated

    const small = backendWithAddon(fakeAddon().addon, '/fake.node', { ...DEVICE, sharedMemoryPerBlockOptin: 49152 });
    const q2 = await small.upload({ data: new Uint16Array(75 * 4 * 64), shape: [75, 4, 64], dtype: 'f16' });
    const kv2 = await small.upload({ data: new Uint16Array(75 * 2 * 64), shape: [75, 2, 64], dtype: 'f16' });
    const unsupported = await small.forward(q2, kv2, kv2, problemOf()).catch((e: unknown) => e);
    expect(isFaError(unsupported, 'E_UNSUPPORTED')).toBe(true);
    expect((unsupported as Error).message).toMatch(/55296 bytes of shared memory per block; Fake GPU allows 49152/);
  });
});
