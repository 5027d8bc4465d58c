import { FaError } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { checkWebGpuOptions } from './options.js';

/** The checks run before any device is looked for, so these need no GPU. */
function rejection(options: unknown): FaError {
  try {
    checkWebGpuOptions(options);
  } catch (error) {
    if (error instanceof FaError) return error;
    throw error;
  }
  throw new Error('expected an FaError');
}

const shape = { wg: 64, bm: 32, bn: 32, rm: 2, km: 1 };

describe('a misspelt WebGPU option is an error at every level, naming its path and the key meant', () => {
  it.each<[string, unknown, string, string]>([
    ['options', { checkError: false }, 'options.checkError', 'checkErrors'],
    ['tilingLimits', { tilingLimits: { shape: {} } }, 'options.tilingLimits.shape', 'shapes'],
    ['tilingLimits.shapes', { tilingLimits: { shapes: { dQ: [shape] } } }, 'options.tilingLimits.shapes.dQ', 'dq'],
    [
      'a tile shape',
      { tilingLimits: { shapes: { forward: [shape, { ...shape, mk: 1 }] } } },
      'options.tilingLimits.shapes.forward[1].mk',
      'km',
    ],
  ])('%s', (_, options, argument, meant) => {
    const error = rejection(options);
    expect(error).toMatchObject({ code: 'E_VALUE', argument });
    expect(error.message).toContain(`did you mean \`${meant}\`?`);
  });

  it('accepts every option it knows', () => {
    const tilingLimits = { workgroupStorageBytes: 16384, invocations: 64, minChunk: 16, vec4: false };
    const shapes = { forward: [shape], dq: [shape], dkdv: [shape] };
    expect(() =>
      checkWebGpuOptions({
        device: undefined,
        adapter: undefined,
        gpu: undefined,
        checkErrors: true,
        subgroups: false,
        tilingLimits: { ...tilingLimits, shapes },
      }),
    ).not.toThrow();
  });
});
