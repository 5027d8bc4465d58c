import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addon as built, emulatorMissingReason, emulatorPath, missingReason } from '../test/addon.js';
import type { AddonForwardArgs, AddonInterleaveArgs, DeviceBuffer, FaCudaAddon } from './addon.js';
import { tryLoadAddon } from './loader.js';

/**
 * The binding checks every argument on the JS thread before any device work, so all of this runs without a GPU:
 * each bad call must throw a JS error naming the argument (never crash the process, never reach CUDA).
 */
const addon = built as FaCudaAddon;

function argumentOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect((error as { code?: string }).code).toBe('E_ADDON_ARGUMENT');
    expect((error as Error).message).toMatch(/^Expected .+ for `.+`, received .+\.$/);
    return (error as { argument: string }).argument;
  }
  throw new Error('expected the call to throw');
}

/** A valid forward call: three sequences (one empty), every buffer sized for it but holding 0 bytes is invalid. */
function validArgs(over: Partial<Record<keyof AddonForwardArgs, unknown>> = {}, using = addon): AddonForwardArgs {
  const zero = () => using.alloc(0, 0);
  return {
    device: 0,
    dtype: 0,
    batch: 3,
    totalQ: 0,
    totalK: 0,
    numHeads: 4,
    numHeadsK: 2,
    headDim: 64,
    headDimV: 64,
    softmaxScale: 0.125,
    softcap: 0,
    windowLeft: -1,
    windowRight: -1,
    dropout: false,
    dropoutThreshold: 0,
    keepScale: 1,
    seedLo: 0,
    seedHi: 0,
    cuSeqlensQ: new Int32Array(4),
    cuSeqlensK: new Int32Array(4),
    alibiSlopes: null,
    // Dense layouts of these shapes: q (T, 4, 64), k and v (T, 2, 64).
    qOffset: 0,
    qTokenStride: 256,
    qHeadStride: 64,
    kOffset: 0,
    kTokenStride: 128,
    kHeadStride: 64,
    vOffset: 0,
    vTokenStride: 128,
    vHeadStride: 64,
    tiles: new Int32Array(0),
    deterministic: false,
    forwardKernel: 1,
    backwardKernel: 1,
    tuning: 0,
    q: zero(),
    k: zero(),
    v: zero(),
    out: zero(),
    lse: zero(),
    ...over,
  } as AddonForwardArgs;
}

describe.skipIf(!built)(`binding argument checks${built ? '' : ` (skipped: ${missingReason})`}`, () => {
  it('alloc checks device and byte count; zero bytes allocates nothing', () => {
    expect(argumentOf(() => addon.alloc(-1, 16))).toBe('device');
    expect(argumentOf(() => addon.alloc('0' as never, 16))).toBe('device');
    expect(argumentOf(() => addon.alloc(0, -5))).toBe('bytes');
    expect(argumentOf(() => addon.alloc(0, 1.5))).toBe('bytes');
    expect(argumentOf(() => addon.alloc(0, Number.NaN))).toBe('bytes');
    expect(argumentOf(() => addon.alloc(0, 2 ** 60))).toBe('bytes');
    const empty = addon.alloc(0, 0);
    expect(empty.bytes).toBe(0);
    expect(empty.freed).toBe(false);
    empty.free();
    empty.free(); // a second free is harmless
    expect(empty.freed).toBe(true);
  });

  it('refuses DeviceBuffers made from JS and look-alike objects', () => {
    const Ctor = (addon as unknown as { DeviceBuffer: new (...args: unknown[]) => DeviceBuffer }).DeviceBuffer;
    expect(() => new Ctor()).toThrow(/cannot be constructed directly/);
    const fake = Object.create(Ctor.prototype) as DeviceBuffer;
    expect(argumentOf(() => addon.upload(fake, new Float32Array(0)))).toBe('buffer');
    expect(argumentOf(() => addon.upload({ bytes: 0 } as unknown as DeviceBuffer, new Float32Array(0)))).toBe('buffer');
  });

  it('upload and download check the buffer, the array and their sizes', async () => {
    const empty = addon.alloc(0, 0);
    expect(argumentOf(() => addon.upload(null as never, new Float32Array(0)))).toBe('buffer');
    expect(argumentOf(() => addon.upload(empty, 'data' as never))).toBe('data');
    expect(argumentOf(() => addon.upload(empty, new Float32Array(3)))).toBe('data');
    expect(argumentOf(() => addon.download(empty, new Uint16Array(1)))).toBe('target');
    expect(argumentOf(() => addon.download(empty, [] as never))).toBe('target');
    // Zero bytes: nothing to copy, so this completes even without a device.
    await expect(addon.upload(empty, new Float32Array(0))).resolves.toBeUndefined();
    await expect(addon.download(empty, new Uint16Array(0))).resolves.toBeUndefined();
    empty.free();
    expect(argumentOf(() => addon.upload(empty, new Float32Array(0)))).toBe('buffer');
  });

  it('a valid call passes every check and fails only at the device, as a rejected promise', async () => {
    const args = validArgs();
    const count = addon.deviceCount();
    if (count.count > 0) return; // on a GPU machine this call would just run; the conformance suite covers that
    const error = await addon.forward(args).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { code?: string }).code).toBe('E_CUDA');
    expect((error as Error).message).toMatch(/^forward failed: cuda\w+/);
  });

  it.each<[string, Partial<Record<keyof AddonForwardArgs, unknown>>, string]>([
    ['dtype code out of range', { dtype: 3 }, 'dtype'],
    ['dtype as a string', { dtype: 'f16' }, 'dtype'],
    ['negative batch', { batch: -1 }, 'batch'],
    ['fractional totalQ', { totalQ: 0.5 }, 'totalQ'],
    ['no heads', { numHeads: 0 }, 'numHeads'],
    ['heads not a multiple of key heads', { numHeadsK: 3 }, 'numHeadsK'],
    ['head dim 0', { headDim: 0 }, 'headDim'],
    ['head dim 257', { headDim: 257 }, 'headDim'],
    ['head dim v missing', { headDimV: undefined }, 'headDimV'],
    ['scale 0', { softmaxScale: 0 }, 'softmaxScale'],
    ['scale NaN', { softmaxScale: Number.NaN }, 'softmaxScale'],
    ['negative softcap', { softcap: -1 }, 'softcap'],
    ['window below -1', { windowLeft: -2 }, 'windowLeft'],
    ['dropout not a boolean', { dropout: 1 }, 'dropout'],
    ['deterministic missing', { deterministic: undefined }, 'deterministic'],
    ['forward kernel unknown', { forwardKernel: 2 }, 'forwardKernel'],
    ['backward kernel missing', { backwardKernel: undefined }, 'backwardKernel'],
    ['tuning flags unknown', { tuning: 8 }, 'tuning'],
    ['threshold past 2^32', { dropoutThreshold: 2 ** 32 }, 'dropoutThreshold'],
    ['keep scale below 1', { keepScale: 0.5 }, 'keepScale'],
    ['negative seed word', { seedLo: -1 }, 'seedLo'],
    ['cu_seqlens as a plain array', { cuSeqlensQ: [0, 0, 0, 0] }, 'cuSeqlensQ'],
    ['cu_seqlens of the wrong type', { cuSeqlensK: new Uint32Array(4) }, 'cuSeqlensK'],
    ['cu_seqlens length mismatch', { cuSeqlensQ: new Int32Array(3) }, 'cuSeqlensQ'],
    ['cu_seqlens not starting at 0', { cuSeqlensQ: Int32Array.of(1, 1, 1, 1), totalQ: 1 }, 'cuSeqlensQ'],
    ['cu_seqlens decreasing', { cuSeqlensK: Int32Array.of(0, 2, 1, 2), totalK: 2 }, 'cuSeqlensK'],
    ['cu_seqlens not ending at the total', { cuSeqlensQ: Int32Array.of(0, 1, 1, 2) }, 'cuSeqlensQ'],
    ['alibi of the wrong length', { alibiSlopes: new Float32Array(3) }, 'alibiSlopes'],
    ['alibi of the wrong type', { alibiSlopes: new Float64Array(4) }, 'alibiSlopes'],
    ['alibi not finite', { alibiSlopes: Float32Array.of(1, Number.NaN, 1, 1) }, 'alibiSlopes'],
    ['tiles missing', { tiles: undefined }, 'tiles'],
    ['tiles listing a tile that does not exist', { tiles: Int32Array.of(0, 0) }, 'tiles'],
    ['args not an object', {}, 'args'],
  ])('rejects %s', (name, over, argument) => {
    const args = name === 'args not an object' ? (42 as never) : validArgs(over);
    expect(argumentOf(() => addon.forward(args))).toBe(argument);
  });

  it('checks work lists entry by entry: every tile once, inside its sequence, on a tile boundary', () => {
    const rows = addon.tileShape(0, 64, 64, 1, 1).forwardRows;
    const cu = Int32Array.of(0, rows + 1, rows + 1, rows + 3); // tiles: (0, 0), (0, rows), (2, 0)
    const problem = { cuSeqlensQ: cu, totalQ: rows + 3 };
    const q = addon.alloc(0, 0);
    // Buffers are checked after the work list, so zero-byte buffers do not get in the way here.
    const call = (tiles: number[]) =>
      argumentOf(() => addon.forward(validArgs({ ...problem, q, tiles: Int32Array.from(tiles) })));
    expect(call([0, 0, 0, rows])).toBe('tiles'); // one short
    expect(call([0, 0, 0, rows, 2, 0, 2, 0])).toBe('tiles'); // one too many
    expect(call([0, 0, 0, 0, 2, 0])).toBe('tiles'); // (0, 0) twice
    expect(call([0, 0, 0, rows, 1, 0])).toBe('tiles'); // sequence 1 is empty
    expect(call([0, 0, 0, rows, 3, 0])).toBe('tiles'); // no sequence 3
    expect(call([0, 0, 0, 1, 2, 0])).toBe('tiles'); // not on a tile boundary
    expect(call([0, 0, 0, rows, -1, 0])).toBe('tiles');
    // The right list passes the work-list check and stops at the (empty) q buffer.
    expect(call([2, 0, 0, 0, 0, rows])).toBe('q');
  });

  it('checks every buffer: type, liveness, size, and that outputs alias nothing', () => {
    const sized = { cuSeqlensQ: Int32Array.of(0, 3, 3, 3), totalQ: 3 };
    const rows = addon.tileShape(0, 64, 64, 1, 1).forwardRows;
    expect(rows).toBeGreaterThan(3);
    const tiles = Int32Array.of(0, 0);
    expect(argumentOf(() => addon.forward(validArgs({ ...sized, tiles })))).toBe('q'); // 0 bytes < 3 * 4 * 64 * 4
    const freed = addon.alloc(0, 0);
    freed.free();
    expect(argumentOf(() => addon.forward(validArgs({ k: freed })))).toBe('k');
    expect(argumentOf(() => addon.forward(validArgs({ v: null })))).toBe('v');
    expect(argumentOf(() => addon.forward(validArgs({ out: {} })))).toBe('out');
    const shared = addon.alloc(0, 0);
    expect(argumentOf(() => addon.forward(validArgs({ q: shared, out: shared })))).toBe('out');
    expect(argumentOf(() => addon.forward(validArgs({ out: shared, lse: shared })))).toBe('out');
    const other = addon.alloc(1, 0);
    expect(argumentOf(() => addon.forward(validArgs({ q: other })))).toBe('q'); // made for device 1
  });

  it.each<[string, Partial<Record<keyof AddonForwardArgs, unknown>>, string]>([
    ['a negative offset', { qOffset: -1 }, 'qOffset'],
    ['a fractional token stride', { kTokenStride: 1.5 }, 'kTokenStride'],
    ['a missing head stride', { vHeadStride: undefined }, 'vHeadStride'],
    ['a stride as a string', { qHeadStride: '64' }, 'qHeadStride'],
    ['an offset past 2^53', { vOffset: 2 ** 53 }, 'vOffset'],
    ['a NaN token stride', { qTokenStride: Number.NaN }, 'qTokenStride'],
  ])('rejects a layout with %s', (_name, over, argument) => {
    expect(argumentOf(() => addon.forward(validArgs(over)))).toBe(argument);
  });

  it('checks an input buffer against what its layout reaches, even where the view reads nothing', () => {
    // No tokens, so nothing is read; but the view must still start inside its buffer (core's checkLayout rule).
    expect(argumentOf(() => addon.forward(validArgs({ kOffset: 1 })))).toBe('k');
    expect(argumentOf(() => addon.forward(validArgs({ vOffset: 3 })))).toBe('v');
    const zero = () => addon.alloc(0, 0);
    const base = { ...validArgs(), keyTiles: new Int32Array(0), dout: zero(), dq: zero(), dk: zero(), dv: zero() };
    expect(argumentOf(() => addon.backward({ ...base, qOffset: 2 }))).toBe('q');
  });

  it('backward checks its own buffers and the dK/dV work list', () => {
    const zero = () => addon.alloc(0, 0);
    const base = { ...validArgs(), keyTiles: new Int32Array(0), dout: zero(), dq: zero(), dk: zero(), dv: zero() };
    expect(argumentOf(() => addon.backward({ ...base, keyTiles: undefined } as never))).toBe('keyTiles');
    expect(argumentOf(() => addon.backward({ ...base, keyTiles: Int32Array.of(0, 0) }))).toBe('keyTiles');
    expect(argumentOf(() => addon.backward({ ...base, dout: 1 } as never))).toBe('dout');
    expect(argumentOf(() => addon.backward({ ...base, dq: base.q }))).toBe('dq');
    expect(argumentOf(() => addon.backward({ ...base, dv: base.dk }))).toBe('dk');
  });

  it('device queries report failures as data or typed errors', () => {
    const count = addon.deviceCount();
    expect(typeof count.count).toBe('number');
    if (count.count === 0) expect(count.error).toMatch(/^cuda\w+: /);
    expect(argumentOf(() => addon.deviceInfo(-1))).toBe('device');
    expect(argumentOf(() => addon.tileShape(0, 0, 64, 1, 1))).toBe('headDim');
    expect(argumentOf(() => addon.tileShape(5, 64, 64, 1, 1))).toBe('dtype');
    expect(argumentOf(() => addon.tileShape(1, 64, 64, 2, 1))).toBe('forwardKernel');
    expect(argumentOf(() => addon.tileShape(1, 64, 64, 1, -1))).toBe('backwardKernel');
    const tileShapeOf = addon.tileShape as (...args: number[]) => unknown;
    expect(argumentOf(() => tileShapeOf(1, 64, 64))).toBe('forwardKernel'); // the designs must be named
  });
});

/**
 * Buffers that hold data need an allocation, which the GPU build cannot make without a device; the emulator's
 * binding is the same code over host memory, so the checks against real sizes run there.
 */
const emulator = (() => {
  if (!emulatorPath) return undefined;
  const loaded = tryLoadAddon({ addonPath: emulatorPath, env: {} });
  return 'addon' in loaded ? loaded.addon : undefined;
})();

describe.skipIf(!emulator)(
  `binding layout checks against allocated buffers${emulator ? '' : ` (skipped: ${emulatorMissingReason})`}`,
  () => {
    // A packed qkv: (3 tokens, 3 parts, 2 heads, 8) f32 in one 576-byte buffer; the parts as the façade views them.
    const [T, H, D] = [3, 2, 8];
    const em = emulator as FaCudaAddon;
    const qkv = emulator?.alloc(0, T * 3 * H * D * 4);
    afterAll(() => qkv?.free());
    const args = (over: Partial<Record<keyof AddonForwardArgs, unknown>>) =>
      validArgs(
        {
          batch: 1,
          totalQ: T,
          totalK: T,
          numHeads: H,
          numHeadsK: H,
          headDim: D,
          headDimV: D,
          cuSeqlensQ: Int32Array.of(0, T),
          cuSeqlensK: Int32Array.of(0, T),
          tiles: Int32Array.of(0, 0),
          qOffset: 0,
          qTokenStride: 3 * H * D,
          qHeadStride: D,
          kOffset: H * D,
          kTokenStride: 3 * H * D,
          kHeadStride: D,
          vOffset: 2 * H * D,
          vTokenStride: 3 * H * D,
          vHeadStride: D,
          q: qkv,
          k: qkv,
          v: qkv,
          ...over,
        },
        em,
      );
    const refused = (over: Partial<Record<keyof AddonForwardArgs, unknown>>) =>
      argumentOf(() => em.forward(args(over)));

    it('accepts the parts of a packed qkv in one buffer whose last element v reaches exactly', () => {
      // Every input passes (3 views of one buffer are not aliasing outputs); the zero-byte out is next.
      expect(refused({})).toBe('out');
    });

    it('refuses a view one element past its buffer, naming the input, whatever part reaches it', () => {
      expect(refused({ vOffset: 2 * H * D + 1 })).toBe('v'); // the last element one further
      expect(refused({ vTokenStride: 3 * H * D + 1 })).toBe('v'); // the last token
      expect(refused({ kHeadStride: 2 * H * D + 1 })).toBe('k'); // the last head
      expect(refused({ qOffset: T * 3 * H * D + 1 })).toBe('q');
    });

    it('does not wrap around on huge strides', () => {
      expect(refused({ qTokenStride: 2 ** 53 - 1 })).toBe('q');
      expect(refused({ kHeadStride: 2 ** 52, kTokenStride: 2 ** 52 })).toBe('k');
    });
  },
);

describe.skipIf(!emulator)(
  `binding interleave checks against allocated buffers${emulator ? '' : ` (skipped: ${emulatorMissingReason})`}`,
  () => {
    const em = emulator as FaCudaAddon;
    // One f16 source of 11 elements (22 bytes): parts of 2 rows of 3 elements fit from offsets 0 to 5.
    const source = emulator?.alloc(0, 22);
    const out = emulator?.alloc(0, 2 * 2 * 3 * 2);
    afterAll(() => {
      source?.free();
      out?.free();
    });
    const args = (over: Partial<Record<keyof AddonInterleaveArgs, unknown>> = {}): AddonInterleaveArgs =>
      ({
        device: 0,
        elementBytes: 2,
        rows: 2,
        rowElements: 3,
        parts: [
          { buffer: source, offset: 5 },
          { buffer: source, offset: 0 },
        ],
        out,
        ...over,
      }) as AddonInterleaveArgs;
    const refused = (over: Partial<Record<keyof AddonInterleaveArgs, unknown>>) =>
      argumentOf(() => em.interleave(args(over)));
    const bytesOf = async (buffer: DeviceBuffer) => {
      const target = new Uint16Array(buffer.bytes / 2);
      await em.download(buffer, target);
      return target;
    };

    beforeAll(async () => {
      await em.upload(
        source as DeviceBuffer,
        Uint16Array.from({ length: 11 }, (_, i) => 0x100 + i),
      );
    });

    it('copies parts that reach exactly the end of their buffer, views of one buffer, row by row', async () => {
      await em.interleave(args());
      // Row r: part 0 (from 5) then part 1 (from 0), 3 elements each.
      expect([...(await bytesOf(out as DeviceBuffer))]).toEqual(
        [5, 6, 7, 0, 1, 2, 8, 9, 10, 3, 4, 5].map((i) => 0x100 + i),
      );
    });

    it.each<[string, Partial<Record<keyof AddonInterleaveArgs, unknown>>, string]>([
      ['a device out of range', { device: -1 }, 'device'],
      ['an element size of 3', { elementBytes: 3 }, 'elementBytes'],
      ['an element size as a string', { elementBytes: '2' }, 'elementBytes'],
      ['negative rows', { rows: -1 }, 'rows'],
      ['fractional row elements', { rowElements: 1.5 }, 'rowElements'],
      ['rows past 2^53', { rows: 2 ** 53 }, 'rows'],
      ['parts not an array', { parts: { length: 1 } }, 'parts'],
      ['no parts', { parts: [] }, 'parts'],
      ['a part that is not an object', { parts: [{ buffer: source, offset: 0 }, 7] }, 'parts[1]'],
      ['a negative offset', { parts: [{ buffer: source, offset: -1 }] }, 'parts[0].offset'],
      ['a missing offset', { parts: [{ buffer: source, offset: 0 }, { buffer: source }] }, 'parts[1].offset'],
      [
        'a part one element past its buffer',
        {
          parts: [
            { buffer: source, offset: 0 },
            { buffer: source, offset: 6 },
          ],
        },
        'parts[1]',
      ],
      ['a part that is not a buffer', { parts: [{ buffer: {}, offset: 0 }] }, 'parts[0]'],
      // 13 parts of one element: 26 bytes, where out holds 24.
      [
        'an output one element short',
        { rows: 1, rowElements: 1, parts: Array.from({ length: 13 }, (_, i) => ({ buffer: source, offset: i % 11 })) },
        'out',
      ],
      ['an output that is one of the parts', { out: source, parts: [{ buffer: source, offset: 0 }] }, 'out'],
      ['an output that is not a buffer', { out: null }, 'out'],
      ['counts whose product wraps around', { rows: 2 ** 52, rowElements: 2 ** 52 }, 'parts[0]'],
    ])('refuses %s by name, before any device work', async (_name, over, argument) => {
      const before = await bytesOf(out as DeviceBuffer);
      expect(refused(over)).toBe(argument);
      expect(await bytesOf(out as DeviceBuffer)).toEqual(before);
    });

    it('refuses a freed part and a part or output of another device', () => {
      const freed = em.alloc(0, 22);
      freed.free();
      expect(
        refused({
          parts: [
            { buffer: source, offset: 0 },
            { buffer: freed, offset: 0 },
          ],
        }),
      ).toBe('parts[1]');
      const other = em.alloc(1, 0);
      expect(refused({ rows: 0, parts: [{ buffer: other, offset: 0 }] })).toBe('parts[0]');
      expect(refused({ rows: 0, out: other })).toBe('out');
      expect(argumentOf(() => em.interleave(42 as never))).toBe('args');
    });

    it('no rows or no row elements: nothing to copy, and offsets may reach the end of the buffer', async () => {
      const empty = em.alloc(0, 0);
      await expect(
        em.interleave(args({ rows: 0, out: empty, parts: [{ buffer: source, offset: 11 }] })),
      ).resolves.toBeUndefined();
      await expect(em.interleave(args({ rowElements: 0, out: empty }))).resolves.toBeUndefined();
      expect(refused({ rows: 0, out: empty, parts: [{ buffer: source, offset: 12 }] })).toBe('parts[0]');
      empty.free();
    });
  },
);
