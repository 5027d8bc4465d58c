import { type DType, type FloatDType, type HostTensor, type InterleavePart, interleaveHost } from '@fa/core';
import { Random } from '@fa/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorMissingReason, emulatorPath } from '../test/addon.js';
import type { DeviceBuffer } from './addon.js';
import { type CudaBackend, createCudaBackend } from './index.js';

/**
 * The cuda `interleave` (one cudaMemcpy2DAsync per part, csrc/binding/workers.cc) gives the bits core's
 * `interleaveHost` gives on the same storage, here on the CPU emulator, whose copies abort the process when a span
 * leaves its allocation: f32 and both 16-bit dtypes (odd offsets and odd row lengths are odd byte counts there),
 * parts that are views of one buffer and parts in distinct buffers, no rows and one row.
 */

type Storage = Float32Array | Uint16Array;

/** Any bit pattern (NaNs and subnormals too): interleave copies bits and never looks at values. */
function patterns(random: Random, n: number, dtype: FloatDType): Storage {
  const words = Uint32Array.from({ length: n }, () => random.uint32());
  return dtype === 'f32' ? new Float32Array(words.buffer) : Uint16Array.from(words, (w) => w >>> 16);
}

function wordsOf(data: Storage): Uint32Array | Uint16Array {
  return data instanceof Float32Array ? new Uint32Array(data.buffer, data.byteOffset, data.length) : data;
}

/**
 * A case: `count` parts of `rows × rowElements`, part p in storage p mod `buffers` at a random offset (odd half the
 * time), every storage a few elements longer than its last part needs.
 */
interface Case {
  readonly dtype: FloatDType;
  readonly storages: readonly Storage[];
  /** Per part: which storage, and the element its rows start at. */
  readonly parts: readonly { readonly storage: number; readonly offset: number }[];
  readonly rows: number;
  readonly rowElements: number;
}

function drawCase(
  random: Random,
  dtype: FloatDType,
  count: number,
  buffers: number,
  rows: number,
  rowElements: number,
): Case {
  const parts = Array.from({ length: count }, (_, p) => ({ storage: p % buffers, offset: random.int(0, 9) }));
  const storages = Array.from({ length: buffers }, (_, b) => {
    const reach = Math.max(0, ...parts.filter((part) => part.storage === b).map((part) => part.offset));
    return patterns(random, reach + rows * rowElements + random.int(0, 3), dtype);
  });
  return { dtype, storages, parts, rows, rowElements };
}

function partsOver<T>(c: Case, handles: readonly T[]): InterleavePart<T>[] {
  return c.parts.map(({ storage, offset }) => ({ handle: handles[storage] as T, offset }));
}

if (emulatorPath) {
  const addonPath = emulatorPath;
  describe('cuda interleave (on the CPU emulator)', () => {
    let backend: CudaBackend;
    beforeAll(() => {
      backend = createCudaBackend({ addonPath });
    });
    afterAll(() => backend?.destroy());

    /** Uploads the storages, interleaves on the device and in host memory, and compares every bit. */
    async function expectHostBits(c: Case): Promise<void> {
      const before = backend.stats();
      const hosts = c.storages.map((data) => ({ data, shape: [data.length], dtype: c.dtype }) as HostTensor);
      const handles = await Promise.all(hosts.map((t) => backend.upload(t)));
      const handle = await backend.interleave(partsOver(c, handles), c.rows, c.rowElements, c.dtype);
      const shape = [c.rows, c.parts.length, c.rowElements];
      const actual = await backend.download(handle, shape, c.dtype);
      const expected = interleaveHost(partsOver(c, hosts), c.rows, c.rowElements, c.dtype);
      for (const h of [...handles, handle]) backend.dispose(h);
      expect(handle.bytes).toBe(expected.data.byteLength);
      expect(wordsOf(actual.data as Storage)).toEqual(wordsOf(expected.data as Storage));
      expect(backend.stats()).toEqual(before);
    }

    const DTYPES: readonly FloatDType[] = ['f32', 'f16', 'bf16'];
    for (const [d, dtype] of DTYPES.entries()) {
      for (const distinct of [false, true]) {
        const layout = distinct ? 'distinct buffers' : 'views of one buffer';
        it(`${dtype}, 1 to 5 parts as ${layout}, odd offsets and row lengths, 0, 1 and more rows: interleaveHost's bits`, async () => {
          const random = new Random(0xc0da + 2 * d + Number(distinct));
          for (let count = 1; count <= 5; count++) {
            for (const rows of [0, 1, random.int(2, 9)]) {
              const rowElements = random.pick([1, 3, 7, 16, random.int(1, 40)]);
              await expectHostBits(drawCase(random, dtype, count, distinct ? count : 1, rows, rowElements));
            }
          }
        });
      }
    }

    it('views and distinct buffers mixed in one call, and rows of no elements', async () => {
      const random = new Random(77);
      await expectHostBits(drawCase(random, 'bf16', 7, 3, 6, 13));
      await expectHostBits(drawCase(random, 'f32', 3, 1, 4, 0));
      await expectHostBits(drawCase(random, 'f16', 2, 2, 0, 0));
    });

    it('a padded lse swap over dozens of heads: one f32 buffer, a part per head, then a part per sequence', async () => {
      const [heads, batch, seqlen] = [37, 6, 5];
      const random = new Random(11);
      const storages = [patterns(random, heads * batch * seqlen, 'f32')];
      const byHead = Array.from({ length: heads }, (_, h) => ({ storage: 0, offset: h * batch * seqlen }));
      await expectHostBits({ dtype: 'f32', storages, parts: byHead, rows: batch, rowElements: seqlen });
      const bySequence = Array.from({ length: batch }, (_, b) => ({ storage: 0, offset: b * heads * seqlen }));
      await expectHostBits({ dtype: 'f32', storages, parts: bySequence, rows: heads, rowElements: seqlen });
    });

    it('refuses what interleaveHost refuses, with its code and argument, before allocating; a disposed handle is E_DISPOSED', async () => {
      const host = { data: new Uint16Array(9).fill(0x3c00), shape: [9], dtype: 'f16' } as HostTensor;
      const handle = await backend.upload(host);
      const before = backend.stats();
      type Call = [offsets: number[], rows: number, rowElements: number, dtype: DType];
      const calls: [what: string, call: Call, code: string, argument: string][] = [
        ['a part one element past its storage', [[0, 2], 1, 8, 'f16'], 'E_SHAPE', 'parts[1]'],
        ['a part past its storage by rows', [[0, 3], 2, 4, 'f16'], 'E_SHAPE', 'parts[1]'],
        ['a fractional offset', [[0.5], 1, 1, 'f16'], 'E_VALUE', 'parts[0]'],
        ['a negative offset', [[1, -2], 1, 1, 'f16'], 'E_VALUE', 'parts[1]'],
        ['negative rows', [[0], -1, 1, 'f16'], 'E_VALUE', 'rows'],
        ['fractional row elements', [[0], 1, 1.5, 'f16'], 'E_VALUE', 'rowElements'],
        ['no parts', [[], 1, 1, 'f16'], 'E_VALUE', 'parts'],
        ['an unknown dtype', [[0], 1, 1, 'u8' as DType], 'E_DTYPE', 'dtype'],
      ];
      for (const [what, [offsets, rows, rowElements, dtype], code, argument] of calls) {
        const onHost = () =>
          interleaveHost(
            offsets.map((offset) => ({ handle: host, offset })),
            rows,
            rowElements,
            dtype,
          );
        expect(onHost, what).toThrow(expect.objectContaining({ code, argument }));
        const onDevice = backend.interleave(
          offsets.map((offset) => ({ handle, offset })),
          rows,
          rowElements,
          dtype,
        );
        await expect(onDevice, what).rejects.toMatchObject({ code, argument });
        expect(backend.stats(), what).toEqual(before);
      }
      // An exact fit passes: 8 elements from 1 reach element 9, the last.
      const fit = await backend.interleave([{ handle, offset: 1 }], 1, 8, 'f16');
      expect([...(await backend.download(fit, [1, 1, 8], 'f16')).data]).toEqual(new Array(8).fill(0x3c00));
      backend.dispose(fit);
      await expect(backend.interleave(null as never, 1, 1, 'f16')).rejects.toMatchObject({ code: 'E_VALUE' });
      await expect(backend.interleave([{ handle: {} as DeviceBuffer, offset: 0 }], 1, 1, 'f16')).rejects.toMatchObject({
        code: 'E_BACKEND_MISMATCH',
        argument: 'parts[0]',
      });
      backend.dispose(handle);
      await expect(backend.interleave([{ handle, offset: 0 }], 1, 1, 'f16')).rejects.toMatchObject({
        code: 'E_DISPOSED',
        argument: 'parts[0]',
      });
      expect(backend.stats().liveBuffers).toBe(before.liveBuffers - 1);
    });
  });
} else {
  describe.skip(`cuda interleave (skipped: ${emulatorMissingReason})`, () => {
    it('runs the interleave checks', () => undefined);
  });
}
