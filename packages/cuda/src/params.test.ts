import { dropoutThreshold, FaError, resolveAttnProblem } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { toFaError } from './errors.js';
import { DTYPE_CODES, packProblem } from './params.js';

const meta = (shape: number[], dtype: 'f32' | 'f16' | 'bf16' = 'f16') => ({ shape, dtype });

describe('packProblem', () => {
  it('flattens a resolved problem with core’s dropout threshold and seed words', () => {
    const cu = Int32Array.of(0, 3, 3, 10);
    const cuK = Int32Array.of(0, 5, 6, 6);
    const slopes = Float32Array.of(0.5, 0.25, 0.125, 0.0625);
    const problem = resolveAttnProblem(meta([10, 4, 40]), meta([6, 2, 40]), meta([6, 2, 24]), {
      cuSeqlensQ: cu,
      cuSeqlensK: cuK,
      causal: true,
      windowSize: [7, 3],
      softcap: 30,
      alibiSlopes: slopes,
      dropoutP: 0.1,
      seed: 2 ** 40 + 12345,
    });
    const tiles = Int32Array.of(2, 0, 0, 0);
    const args = packProblem(problem, 1, tiles);
    expect(args).toEqual({
      device: 1,
      dtype: DTYPE_CODES.f16,
      batch: 3,
      totalQ: 10,
      totalK: 6,
      numHeads: 4,
      numHeadsK: 2,
      headDim: 40,
      headDimV: 24,
      softmaxScale: 1 / Math.sqrt(40),
      softcap: 30,
      windowLeft: 7,
      windowRight: 0, // causal forces it
      dropout: true,
      dropoutThreshold: dropoutThreshold(0.1),
      keepScale: 1 / 0.9,
      seedLo: 12345,
      seedHi: 2 ** 8,
      cuSeqlensQ: cu,
      cuSeqlensK: cuK,
      alibiSlopes: slopes,
      // Dense tensors: each token's heads back to back.
      qOffset: 0,
      qTokenStride: 4 * 40,
      qHeadStride: 40,
      kOffset: 0,
      kTokenStride: 2 * 40,
      kHeadStride: 40,
      vOffset: 0,
      vTokenStride: 2 * 24,
      vHeadStride: 24,
      tiles,
      deterministic: false,
      forwardKernel: 1,
      backwardKernel: 1,
      tuning: 0,
    });
  });

  it('passes the layouts of views as they are: the parts of a packed qkv', () => {
    const [T, H, D] = [7, 3, 20];
    const part = (p: number) => ({
      shape: [T, H, D],
      dtype: 'f16' as const,
      view: { layout: { offset: p * H * D, tokenStride: 3 * H * D, headStride: D }, storageElements: T * 3 * H * D },
    });
    const cu = Int32Array.of(0, 4, 7);
    const problem = resolveAttnProblem(part(0), part(1), part(2), { cuSeqlensQ: cu, cuSeqlensK: cu });
    const args = packProblem(problem, 0, new Int32Array(0));
    const layout = (x: 'q' | 'k' | 'v') => [args[`${x}Offset`], args[`${x}TokenStride`], args[`${x}HeadStride`]];
    expect([layout('q'), layout('k'), layout('v')]).toEqual([
      [0, 180, 20],
      [60, 180, 20],
      [120, 180, 20],
    ]);
  });

  it('turns dropout off entirely at p = 0, whatever the seed', () => {
    const problem = resolveAttnProblem(meta([2, 1, 8], 'f32'), meta([2, 1, 8], 'f32'), meta([2, 1, 8], 'f32'), {
      cuSeqlensQ: Int32Array.of(0, 2),
      cuSeqlensK: Int32Array.of(0, 2),
      seed: 99,
    });
    const args = packProblem(problem, 0, new Int32Array(0));
    expect([args.dtype, args.dropout, args.dropoutThreshold, args.keepScale, args.alibiSlopes]).toEqual([
      0,
      false,
      0,
      1,
      null,
    ]);
  });

  it('uses the addon’s dtype codes', () => {
    expect(DTYPE_CODES).toEqual({ f32: 0, f16: 1, bf16: 2 });
  });
});

describe('toFaError', () => {
  const argumentError = Object.assign(new RangeError('Expected x for `q`, received y.'), {
    code: 'E_ADDON_ARGUMENT',
    argument: 'q',
  });

  it('names the argument the binding refused', () => {
    const error = toFaError(argumentError, 'forward');
    expect(error).toBeInstanceOf(FaError);
    expect([error.code, error.argument, error.message]).toEqual([
      'E_VALUE',
      'q',
      'cuda forward: Expected x for `q`, received y.',
    ]);
    expect(error.cause).toBe(argumentError);
  });

  it('maps out-of-memory to E_LIMIT and other CUDA failures to E_DEVICE_LOST', () => {
    const oom = Object.assign(new Error('cudaMalloc of 9 bytes failed: cudaErrorMemoryAllocation: out of memory'), {
      code: 'E_CUDA_OOM',
    });
    expect(toFaError(oom, 'allocating out').code).toBe('E_LIMIT');
    const fault = Object.assign(new Error('forward failed: cudaErrorIllegalAddress: an illegal memory access'), {
      code: 'E_CUDA',
    });
    expect(toFaError(fault, 'forward').code).toBe('E_DEVICE_LOST');
    const typed = new FaError('E_DISPOSED', 'gone');
    expect(toFaError(typed, 'x')).toBe(typed);
  });
});
