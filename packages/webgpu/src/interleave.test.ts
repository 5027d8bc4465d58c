import { type DType, type FloatDType, type HostTensor, type InterleavePart, interleaveHost, isFaError } from '@fa/core';
import { Random } from '@fa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingGpu, countingGpu } from '../test/counting-gpu.js';
import { createWebGpuBackend, type WebGpuBackend } from './index.js';
import { INTERLEAVE_SOURCES, interleaveBindings } from './kernels/interleave.js';
import { storageBindingCount } from './wgsl/bindings.js';

/**
 * The webgpu `interleave` gives the bits core's `interleaveHost` gives on the same storage: f32 and both 16-bit
 * dtypes (two elements a word, so odd offsets and odd row lengths split words), parts that are views of one buffer
 * and parts in distinct buffers (more of them than one dispatch binds, too), no rows and one row.
 */

type Storage = Float32Array | Uint16Array;

/** Arbitrary bit patterns (NaNs, infinities and subnormals included): interleave moves bits, never values. */
function randomStorage(random: Random, n: number, dtype: FloatDType): Storage {
  if (dtype === 'f32') return new Float32Array(Uint32Array.from({ length: n }, () => random.uint32()).buffer);
  return Uint16Array.from({ length: n }, () => random.uint32() & 0xffff);
}

function bits(data: Storage): Uint32Array | Uint16Array {
  return data instanceof Float32Array ? new Uint32Array(data.buffer, data.byteOffset, data.length) : data;
}

/** A source of a case: host storage, and where each of its parts starts. */
interface Source {
  readonly data: Storage;
  readonly offsets: readonly number[];
}

/**
 * `parts` parts of `rows × rowElements` each at random (odd as often as not) offsets, in `buffers` distinct sources
 * (part p in source p mod buffers), every source with a few elements past its last part.
 */
function drawSources(
  random: Random,
  dtype: FloatDType,
  parts: number,
  buffers: number,
  rows: number,
  rowElements: number,
): Source[] {
  return Array.from({ length: buffers }, (_, b) => {
    const offsets = Array.from({ length: Math.ceil((parts - b) / buffers) }, () => random.int(0, 9));
    const length = Math.max(0, ...offsets) + rows * rowElements + random.int(0, 3);
    return { data: randomStorage(random, length, dtype), offsets };
  });
}

/** Part p of the sources, in order: source p mod buffers, its (p div buffers)-th offset. */
function partsOf<T>(sources: readonly Source[], handles: readonly T[], parts: number): InterleavePart<T>[] {
  return Array.from({ length: parts }, (_, p) => {
    const b = p % sources.length;
    return {
      handle: handles[b] as T,
      offset: (sources[b] as Source).offsets[Math.floor(p / sources.length)] as number,
    };
  });
}

describe('webgpu interleave', () => {
  let backend: WebGpuBackend;
  beforeAll(async () => {
    backend = await createWebGpuBackend();
  });
  afterAll(() => backend?.destroy());

  /** Uploads the sources, interleaves them on the device and on the host, and compares the bits. */
  async function expectHostBits(
    dtype: FloatDType,
    sources: readonly Source[],
    parts: number,
    rows: number,
    rowElements: number,
  ): Promise<void> {
    const before = backend.stats().liveBuffers;
    const hosts = sources.map(({ data }) => ({ data, shape: [data.length], dtype }) as HostTensor);
    const handles = await Promise.all(hosts.map((t) => backend.upload(t)));
    const handle = await backend.interleave(partsOf(sources, handles, parts), rows, rowElements, dtype);
    const shape = [rows, parts, rowElements];
    const actual = await backend.download(handle, shape, dtype);
    const expected = interleaveHost(partsOf(sources, hosts, parts), rows, rowElements, dtype);
    for (const h of [...handles, handle]) backend.dispose(h);
    expect(actual.shape).toEqual(expected.shape);
    expect(bits(actual.data as Storage)).toEqual(bits(expected.data as Storage));
    expect(backend.stats().liveBuffers).toBe(before);
  }

  it('binds at most 8 storage buffers', () => {
    expect(storageBindingCount(interleaveBindings())).toBeLessThanOrEqual(8);
  });

  const DTYPES: readonly FloatDType[] = ['f32', 'f16', 'bf16'];
  for (const dtype of DTYPES) {
    for (const layout of ['views of one buffer', 'distinct buffers'] as const) {
      it(`${dtype}, 1 to 5 parts as ${layout}, odd offsets and odd row lengths: the bits of interleaveHost`, async () => {
        const random = new Random(0x1eaf + DTYPES.indexOf(dtype));
        for (let parts = 1; parts <= 5; parts++) {
          for (const rows of [0, 1, random.int(2, 9)]) {
            const rowElements = random.pick([1, 3, 7, 16, random.int(1, 40)]);
            const buffers = layout === 'distinct buffers' ? parts : 1;
            const sources = drawSources(random, dtype, parts, buffers, rows, rowElements);
            await expectHostBits(dtype, sources, parts, rows, rowElements);
          }
        }
      });
    }

    it(`${dtype}, more distinct buffers than one dispatch binds, with views among them`, async () => {
      const random = new Random(0xb0f + DTYPES.indexOf(dtype));
      const buffers = 2 * INTERLEAVE_SOURCES + 1;
      const sources = drawSources(random, dtype, buffers + 4, buffers, 5, 13);
      await expectHostBits(dtype, sources, buffers + 4, 5, 13);
    });
  }

  it('rows of no elements: an empty result', async () => {
    const random = new Random(5);
    await expectHostBits('f32', drawSources(random, 'f32', 3, 1, 4, 0), 3, 4, 0);
    await expectHostBits('bf16', drawSources(random, 'bf16', 2, 2, 0, 0), 2, 0, 0);
  });

  it('a lse swap of many heads: one buffer, a part per head, both ways', async () => {
    const [heads, batch, seqlen] = [7, 5, 3];
    const random = new Random(11);
    const data = randomStorage(random, heads * batch * seqlen, 'f32');
    const byHead = { data, offsets: Array.from({ length: heads }, (_, h) => h * batch * seqlen) };
    await expectHostBits('f32', [byHead], heads, batch, seqlen);
    const bySequence = { data, offsets: Array.from({ length: batch }, (_, b) => b * heads * seqlen) };
    await expectHostBits('f32', [bySequence], batch, heads, seqlen);
  });

  it('refuses what interleaveHost refuses, with its code and argument; a disposed handle is E_DISPOSED', async () => {
    const before = backend.stats().liveBuffers;
    const host = { data: new Uint16Array(9).fill(0x3c00), shape: [9], dtype: 'f16' } as HostTensor;
    const handle = await backend.upload(host);
    type Call = [parts: { offset: number }[], rows: number, rowElements: number, dtype: DType];
    const calls: [what: string, call: Call, code: string, argument: string][] = [
      // 9 elements take 5 words, 10 halves (the last one padding); part 1 reaches element 11.
      ['a part past its storage', [[{ offset: 0 }, { offset: 3 }], 2, 4, 'f16'], 'E_SHAPE', 'parts[1]'],
      ['a fractional offset', [[{ offset: 0.5 }], 1, 1, 'f16'], 'E_VALUE', 'parts[0]'],
      ['a negative offset', [[{ offset: 1 }, { offset: -2 }], 1, 1, 'f16'], 'E_VALUE', 'parts[1]'],
      ['negative rows', [[{ offset: 0 }], -1, 1, 'f16'], 'E_VALUE', 'rows'],
      ['fractional row elements', [[{ offset: 0 }], 1, 1.5, 'f16'], 'E_VALUE', 'rowElements'],
      ['no parts', [[], 1, 1, 'f16'], 'E_VALUE', 'parts'],
      ['an unknown dtype', [[{ offset: 0 }], 1, 1, 'u8' as DType], 'E_DTYPE', 'dtype'],
    ];
    for (const [what, [offsets, rows, rowElements, dtype], code, argument] of calls) {
      const onHost = () =>
        interleaveHost(
          offsets.map(({ offset }) => ({ handle: host, offset })),
          rows,
          rowElements,
          dtype,
        );
      expect(onHost, what).toThrow(expect.objectContaining({ code, argument }));
      const onDevice = backend.interleave(
        offsets.map(({ offset }) => ({ handle, offset })),
        rows,
        rowElements,
        dtype,
      );
      await expect(onDevice, what).rejects.toMatchObject({ code, argument });
    }
    backend.dispose(handle);
    await expect(backend.interleave([{ handle, offset: 0 }], 1, 1, 'f16')).rejects.toMatchObject({
      code: 'E_DISPOSED',
      argument: 'parts[0]',
    });
    expect(backend.stats().liveBuffers).toBe(before);
  });
});

describe('webgpu interleave when the device fails', () => {
  let counting: CountingGpu;
  let backend: WebGpuBackend;
  beforeAll(async () => {
    counting = await countingGpu();
    backend = await createWebGpuBackend({ gpu: counting.gpu });
  });
  afterAll(() => backend?.destroy());

  function expectHeld(buffers: number): void {
    const stats = backend.stats();
    expect({ buffers: stats.liveBuffers, bytes: stats.liveBytes }).toEqual({
      buffers: counting.census.live,
      bytes: counting.census.liveBytes,
    });
    expect(stats.liveBuffers).toBe(buffers);
  }

  it('out of memory: E_LIMIT, and its output freed; then it works', async () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => i + 0.5);
    const handle = await backend.upload({ data, shape: [12], dtype: 'f32' });
    const parts = [
      { handle, offset: 6 },
      { handle, offset: 0 },
    ];
    counting.injectError('out-of-memory');
    const error = await backend.interleave(parts, 2, 3, 'f32').catch((e: unknown) => e);
    expect(isFaError(error, 'E_LIMIT')).toBe(true);
    expect(String(error)).toMatch(/ran out of memory in interleave/);
    expectHeld(1);
    const out = await backend.interleave(parts, 2, 3, 'f32');
    expect((await backend.download(out, [2, 2, 3], 'f32')).data).toEqual(
      Float32Array.of(6.5, 7.5, 8.5, 0.5, 1.5, 2.5, 9.5, 10.5, 11.5, 3.5, 4.5, 5.5),
    );
    backend.dispose(out);
    backend.dispose(handle);
    expectHeld(0);
  });

  it('a handle of a lost device: E_DEVICE_LOST naming the part; the new device works', async () => {
    const handle = await backend.upload({ data: new Float32Array(4).fill(2), shape: [4], dtype: 'f32' });
    const lost = backend.device;
    lost.destroy();
    await lost.lost;
    const error = await backend.interleave([{ handle, offset: 0 }], 1, 4, 'f32').catch((e: unknown) => e);
    expect(isFaError(error, 'E_DEVICE_LOST') && error.argument).toBe('parts[0]');
    expect(backend.device).not.toBe(lost);
    expectHeld(0);
    const fresh = await backend.upload({ data: Float32Array.of(1, 2, 3, 4), shape: [4], dtype: 'f32' });
    const out = await backend.interleave([{ handle: fresh, offset: 1 }], 1, 3, 'f32');
    expect((await backend.download(out, [1, 1, 3], 'f32')).data).toEqual(Float32Array.of(2, 3, 4));
    for (const h of [out, fresh]) backend.dispose(h);
    expectHeld(0);
  });
});
