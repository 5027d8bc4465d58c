import { DropoutMask, dropoutThreshold, philox4x32, splitSeed, visibleKeyRange, visibleKeySpan } from '@fa/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addon as built, missingReason } from '../test/addon.js';
import type { FaCudaAddon } from './addon.js';
import { visibleRowSpan } from './tiles.js';

/**
 * The kernels' Philox, dropout and span code lives in headers compiled for the device and, through
 * csrc/selftest.cu, for the host. These tests run the host build of those very headers against @fa/core: the
 * dropout decisions and tile bounds a GPU would compute, checked without one.
 */
const addon = built as FaCudaAddon;
const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe.skipIf(!built)(`device headers on the host${built ? '' : ` (skipped: ${missingReason})`}`, () => {
  it('philox4x32_10 matches core bit for bit', () => {
    const expected = new Uint32Array(4);
    // Known-answer vector of Random123 (philox4x32_10, zero counter and key).
    expect([...addon.selftest.philox(0, 0, 0, 0, 0, 0)]).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    fc.assert(
      fc.property(u32, u32, u32, u32, u32, u32, (c0, c1, c2, c3, k0, k1) => {
        philox4x32(c0, c1, c2, c3, k0, k1, expected);
        expect([...addon.selftest.philox(c0, c1, c2, c3, k0, k1)]).toEqual([...expected]);
      }),
      { numRuns: 2000 },
    );
  });

  it('dropout decisions match core, singly and in the pairs the forward and dQ kernels use', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 53 - 1 }),
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        fc.nat(64),
        fc.nat(64),
        fc.nat(5000),
        fc.nat(5000),
        (seed, p, b, h, i, j) => {
          const { lo, hi } = splitSeed(seed);
          const threshold = dropoutThreshold(p);
          const mask = new DropoutMask({ lo, hi }, threshold);
          expect(addon.selftest.dropoutKeep(lo, hi, threshold, b, h, i, j)).toBe(mask.keep(b, h, i, j));
          const even = j & ~1;
          const pair = addon.selftest.dropoutKeep(lo, hi, threshold, b, h, i, even, true) as number;
          expect(Boolean(pair & 1)).toBe(mask.keep(b, h, i, even));
          expect(Boolean(pair & 2)).toBe(mask.keep(b, h, i, even + 1));
        },
      ),
      { numRuns: 1000 },
    );
  });

  const window = fc.integer({ min: -1, max: 12 });
  it('visible_key_span matches core for every row range', () => {
    fc.assert(
      fc.property(fc.nat(40), fc.nat(40), fc.nat(40), fc.nat(40), window, window, (lq, lk, a, n, left, right) => {
        const row0 = lq === 0 ? 0 : a % lq;
        const row1 = Math.min(lq, row0 + n);
        const expected = visibleKeySpan(row0, row1, lq, lk, left, right);
        expect([...addon.selftest.keySpan(row0, row1, lq, lk, left, right)]).toEqual([expected.first, expected.end]);
      }),
      { numRuns: 2000 },
    );
  });

  it('visible_row_span is exactly the rows that see a key of the column range (brute force)', () => {
    fc.assert(
      fc.property(fc.nat(30), fc.nat(30), fc.nat(30), fc.nat(30), window, window, (lq, lk, a, n, left, right) => {
        const col0 = lk === 0 ? 0 : a % lk;
        const col1 = Math.min(lk, col0 + n);
        const rows: number[] = [];
        for (let i = 0; i < lq; i++) {
          const r = visibleKeyRange(i, lq, lk, left, right);
          if (Math.max(r.first, col0) <= Math.min(r.last, col1 - 1)) rows.push(i);
        }
        // The rows form one interval (the band is monotone), which is what the kernels loop over.
        const expected = rows.length === 0 ? [0, 0] : [rows[0] as number, (rows.at(-1) as number) + 1];
        expect(rows.length === 0 || rows.length === (expected[1] as number) - (expected[0] as number)).toBe(true);
        expect([...addon.selftest.rowSpan(col0, col1, lq, lk, left, right)]).toEqual(expected);
        const ts = visibleRowSpan(col0, col1, lq, lk, left, right);
        expect([ts.first, ts.end]).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('gemm.h feeds mma.m16n8k16 (emulated from the PTX fragment tables) and the FMA path every product right', () => {
    const rows = (addon.selftest.gemmLayout() as string)
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    const byName = new Map(rows.map(([name, mismatches, checked]) => [name, [Number(mismatches), Number(checked)]]));
    for (const product of ['S = Q K^T', 'O = P V', 'S^T = K Q^T (slice)', 'dV = P^T dO (slice)']) {
      for (const path of ['mma', 'fma']) {
        const [mismatches, checked] = byName.get(`${product} (${path})`) ?? [Number.NaN, 0];
        expect(checked, `${product} (${path})`).toBeGreaterThanOrEqual(512);
        expect(mismatches, `${product} (${path})`).toBe(0);
      }
    }
    // The control reads K untransposed: the check must see it.
    expect(byName.get('control: K not transposed (mma)')?.[0]).toBeGreaterThan(0);
    expect(byName.get('control: K not transposed (fma)')?.[0]).toBeGreaterThan(0);
  });

  it('maps head dims to compile-time buckets and reports the tile shapes', () => {
    const bucket = (d: number, dv = d) => addon.tileShape(1, d, dv, 1, 1).bucket;
    expect([1, 32, 33, 64, 65, 96, 100, 128, 129, 192, 200, 256].map((d) => bucket(d))).toEqual([
      32, 32, 64, 64, 96, 96, 128, 128, 192, 192, 256, 256,
    ]);
    expect(bucket(40, 130)).toBe(192); // one bucket holds both head dims
    for (const dtype of [0, 1, 2]) {
      for (const [d, kernel] of [32, 64, 96, 128, 192, 256].flatMap((d) => [[d, 0] as const, [d, 1] as const])) {
        const shape = addon.tileShape(dtype, d, d, kernel, kernel);
        // Every instantiation fits sm_80's 163 KiB of shared memory per block (kernel_traits.h asserts it too).
        expect(Math.max(shape.forwardSharedMemory, shape.backwardSharedMemory)).toBeLessThanOrEqual(163 * 1024);
        expect(shape.forwardSharedMemory).toBeGreaterThan(0);
        for (const rows of [shape.forwardRows, shape.dqRows, shape.dkdvKeys]) {
          expect(rows % 16).toBe(0); // whole mma row blocks
          expect(rows).toBeGreaterThanOrEqual(16);
        }
      }
    }
  });
});
