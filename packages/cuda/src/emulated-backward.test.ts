/**
 * The backward designs on the CPU emulator, beyond the shared suite (src/emulated.test.ts runs that on the
 * default design): f16/bf16 cases long enough to take the fa2 kernels' multi-tile paths — several query tiles
 * per key tile and several key tiles (so tiles that no mask boundary crosses run the unmasked body), GQA groups
 * streamed through one dK/dV block, causal and window bounds and sequence ends inside tiles, dropout, head dims
 * 64 and 128 — on every design and A/B switch: fa2 with atomic dQ (default), fa2 deterministic, fa2 with the
 * mask on every tile and the generic instantiation, and the baseline. The A/B variants also run a subset of the
 * conformance grid's fixed cases.
 */
import { checkCase } from '@fa/conformance';
import { registerBackend } from '@fa/core';
import * as fa from '@fa/flash-attn';
import { type AttnCase, fixedCases } from '@fa/testkit';
import { describe, expect, it } from 'vitest';
import { emulatorMissingReason, emulatorPath, forcingDeterministic } from '../test/addon.js';
import { createCudaBackend } from './index.js';
import type { CudaKernelOptions } from './kernels.js';

const base = { numHeads: 4, numHeadsK: 2 } as const;
/**
 * Multi-tile backward cases (fa2 dK/dV: 64 keys x 64 query rows at D <= 96, 32 rows at 128; dQ: 64 x 64). With
 * Lq = Lk a tile (row0, key0, m rows, 64 keys) needs the mask iff key0 < row0 + m - 1 - left or
 * key0 + 63 > row0 + right. The windows (62, 63) and (63, 62) put one bound exactly one element inside tiles
 * that the other bound leaves alone (dK/dV at m = 32 and 64, and dQ), so an off-by-one in that test shows, in
 * f16, whose tolerance a single wrongly visible score of a ~126-key window exceeds.
 */
const MULTI_TILE_CASES: AttnCase[] = [
  {
    ...base,
    name: 'f16 D=128: window (62, 63), GQA, 4 key tiles x 8 query tiles',
    lengthsQ: [256],
    lengthsK: [256],
    headDim: 128,
    headDimV: 128,
    dtype: 'f16',
    windowSize: [62, 63],
  },
  {
    ...base,
    name: 'f16 D=128: window (63, 62), sequence ends inside tiles',
    lengthsQ: [200, 21],
    lengthsK: [200, 40],
    headDim: 128,
    headDimV: 128,
    dtype: 'f16',
    windowSize: [63, 62],
  },
  {
    ...base,
    name: 'bf16 D=128: causal, Lq < Lk, dropout',
    lengthsQ: [97, 5],
    lengthsK: [150, 12],
    headDim: 128,
    headDimV: 128,
    dtype: 'bf16',
    causal: true,
    dropoutP: 0.2,
  },
  {
    ...base,
    name: 'f16 D=64: window (62, 63), softcap, ALiBi',
    lengthsQ: [256],
    lengthsK: [256],
    headDim: 64,
    headDimV: 64,
    dtype: 'f16',
    windowSize: [62, 63],
    softcap: 3,
    alibi: true,
  },
  {
    name: 'bf16 D=96 (dim 80): MQA, dropout, Lq > Lk',
    lengthsQ: [150, 64],
    lengthsK: [130, 64],
    numHeads: 3,
    numHeadsK: 1,
    headDim: 80,
    headDimV: 80,
    dtype: 'bf16',
    dropoutP: 0.15,
  },
  {
    name: 'f16 D=256 (dim 200): causal, GQA, dQ kernel single-buffered',
    lengthsQ: [70, 9],
    lengthsK: [70, 9],
    numHeads: 2,
    numHeadsK: 1,
    headDim: 200,
    headDimV: 200,
    dtype: 'f16',
    causal: true,
  },
];
// The A/B variants take the two cheaper multi-tile cases (the window cases above cost ~3 s each here).
const AB_MULTI_TILE = new Set([MULTI_TILE_CASES[2]?.name, MULTI_TILE_CASES[4]?.name]);

/** The fixed conformance cases the A/B variants also run: every mask shape and the f16/bf16 rows. */
const SUBSET = new Set([
  'causal, Lq > Lk',
  'window (4, 2)',
  'causal with window (6, -1)',
  'GQA',
  'long sequence over several tiles',
  'everything at once',
  'f16: causal GQA',
  'f16: window, softcap, ALiBi',
  'bf16: causal GQA',
  'bf16: dropout',
  'bf16: head_dim 111',
]);

const GENERIC: CudaKernelOptions = { maskEveryTile: true, specialise: false };
const BASELINE: CudaKernelOptions = { backward: 'baseline' };

interface Variant {
  readonly name: string;
  readonly id: string;
  readonly kernels?: CudaKernelOptions;
  readonly deterministic?: boolean;
  readonly subset: boolean;
}

const VARIANTS: Variant[] = [
  { id: 'fa2', name: 'fa2', subset: false },
  { id: 'fa2-det', name: 'fa2, deterministic', deterministic: true, subset: false },
  { id: 'fa2-generic', name: 'fa2, mask every tile, generic', kernels: GENERIC, subset: true },
  {
    id: 'fa2-generic-det',
    name: 'fa2, mask every tile, generic, deterministic',
    kernels: GENERIC,
    deterministic: true,
    subset: true,
  },
  { id: 'baseline', name: 'baseline', kernels: BASELINE, subset: true },
  { id: 'baseline-det', name: 'baseline, deterministic', kernels: BASELINE, deterministic: true, subset: true },
];

if (emulatorPath) {
  const path = emulatorPath;
  for (const variant of VARIANTS) {
    const backend = `cuda-emu-bwd-${variant.id}`;
    registerBackend(backend, () => {
      const cuda = createCudaBackend({ addonPath: path, ...(variant.kernels ? { kernels: variant.kernels } : {}) });
      return variant.deterministic ? forcingDeterministic(cuda) : cuda;
    });
    const cases = variant.subset
      ? [
          ...MULTI_TILE_CASES.filter((c) => AB_MULTI_TILE.has(c.name)),
          ...fixedCases().filter((c) => SUBSET.has(c.name)),
        ]
      : MULTI_TILE_CASES;
    describe(`backward designs on the emulator: ${variant.name}`, () => {
      cases.forEach((testCase, index) => {
        it(testCase.name, async () => {
          const seed = 0x5eed + 7919 * index;
          const comparisons = await checkCase({ facade: fa, backend }, testCase, seed, true);
          expect(comparisons).toHaveLength(5);
          for (const c of comparisons) {
            expect(Number.isNaN(c.maxError), `${c.quantity} has NaN`).toBe(false);
            expect(c.pass, `${c.quantity}: ${c.maxError} > ${c.tolerance} (${c.rule}), seed ${seed}`).toBe(true);
          }
        }, 120_000);
      });
    });
  }
} else {
  describe.skip(`backward designs on the emulator (skipped: ${emulatorMissingReason})`, () => {
    it('runs the multi-tile cases on every design', () => undefined);
  });
}
