import { describe, expect, it } from 'vitest';
import { FaError } from './errors.js';
import { checkKnownKeys, editDistance, nearestKey, optionKeys } from './known-keys.js';
import { ATTN_OPTION_KEYS, resolveAttnProblem, type TensorMeta } from './options.js';
import { referenceAttnForward } from './reference.js';
import { registerBackend, unregisterBackend } from './registry.js';

const KEYS = ['cuSeqlensQ', 'cuSeqlensK', 'causal', 'windowSize', 'seed'] as const;

function thrown(fn: () => unknown): FaError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FaError) return error;
    throw error;
  }
  throw new Error('expected an FaError');
}

describe('editDistance', () => {
  it.each([
    ['causal', 'causal', 0],
    ['casual', 'causal', 1],
    ['causl', 'causal', 1],
    ['causall', 'causal', 1],
    ['cuSeqlenQ', 'cuSeqlensQ', 1],
    ['seed', 'sede', 1],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
    ['ca', 'abc', 3],
  ])('%s → %s is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe('nearestKey', () => {
  it('suggests the key one swap, insertion, deletion or case change away', () => {
    expect(nearestKey('casual', KEYS)).toBe('causal');
    expect(nearestKey('Causal', KEYS)).toBe('causal');
    expect(nearestKey('windowsize', KEYS)).toBe('windowSize');
    expect(nearestKey('window_size', KEYS)).toBe('windowSize');
  });

  it('prefers the nearest key, and the first listed on a tie', () => {
    expect(nearestKey('cuSeqlensk', KEYS)).toBe('cuSeqlensK');
    expect(nearestKey('cuSeqlens', KEYS)).toBe('cuSeqlensQ');
  });

  it('suggests nothing when no key is close', () => {
    expect(nearestKey('backend', KEYS)).toBeUndefined();
    expect(nearestKey('x', ['lr', 'eps'])).toBeUndefined();
    expect(nearestKey('anything', [])).toBeUndefined();
  });
});

describe('checkKnownKeys', () => {
  it('accepts known keys, an empty bag and symbol keys', () => {
    expect(() => checkKnownKeys({ causal: true, seed: 3 }, 'options', KEYS)).not.toThrow();
    expect(() => checkKnownKeys({}, 'options', KEYS)).not.toThrow();
    expect(() => checkKnownKeys({ [Symbol('tag')]: 1, causal: false }, 'options', KEYS)).not.toThrow();
    expect(() => checkKnownKeys(Object.create({ casual: true }), 'options', KEYS)).not.toThrow();
  });

  it('rejects an unknown key, naming it with its path and suggesting the nearest known one', () => {
    const error = thrown(() => checkKnownKeys({ cuSeqlensQ: 1, casual: true }, 'options', KEYS));
    expect(error).toMatchObject({
      code: 'E_VALUE',
      argument: 'options.casual',
      expected: 'one of cuSeqlensQ, cuSeqlensK, causal, windowSize, seed',
      received: 'casual',
    });
    expect(error.message).toBe('Unknown key `options.casual`: did you mean `causal`?');
  });

  it('rejects a key whose value is undefined: a typo is a typo', () => {
    expect(thrown(() => checkKnownKeys({ casual: undefined }, 'options', KEYS)).argument).toBe('options.casual');
  });

  it('lists the known keys when none is close', () => {
    const error = thrown(() => checkKnownKeys({ backend: 'cpu' }, 'options', KEYS));
    expect(error.message).toBe(
      'Unknown key `options.backend`: expected one of `cuSeqlensQ`, `cuSeqlensK`, `causal`, `windowSize`, `seed`.',
    );
    expect(thrown(() => checkKnownKeys({ any: 1 }, 'options', [])).message).toBe(
      'Unknown key `options.any`: `options` takes no keys.',
    );
  });

  it('names keys of nested bags by their full path, and keys that are not identifiers in brackets', () => {
    const nested = thrown(() => checkKnownKeys({ shape: [] }, 'options.tilingLimits', ['shapes', 'vec4']));
    expect(nested.argument).toBe('options.tilingLimits.shape');
    expect(nested.message).toBe('Unknown key `options.tilingLimits.shape`: did you mean `shapes`?');
    expect(thrown(() => checkKnownKeys({ 'max-len': 1 }, 'options', KEYS)).argument).toBe('options["max-len"]');
  });

  it('rejects what is not an options bag', () => {
    expect(thrown(() => checkKnownKeys([1], 'options', KEYS))).toMatchObject({ code: 'E_VALUE', argument: 'options' });
    expect(thrown(() => checkKnownKeys(null, 'config', KEYS))).toMatchObject({ code: 'E_VALUE', argument: 'config' });
  });
});

describe('optionKeys', () => {
  interface Example {
    readonly alpha: number;
    readonly beta?: string;
  }

  it('returns the keys, frozen, and holds the list to the interface at compile time', () => {
    const keys = optionKeys<Example>()(['alpha', 'beta']);
    expect(keys).toEqual(['alpha', 'beta']);
    expect(Object.isFrozen(keys)).toBe(true);
    // @ts-expect-error `beta` is missing from the list
    optionKeys<Example>()(['alpha']);
    // @ts-expect-error `gamma` is not a key of Example
    optionKeys<Example>()(['alpha', 'beta', 'gamma']);
  });
});

describe('core entry points reject unknown option keys', () => {
  const q: TensorMeta = { shape: [5, 2, 3], dtype: 'f32' };
  const k: TensorMeta = { shape: [5, 1, 3], dtype: 'f32' };
  const cu = Int32Array.of(0, 2, 5);

  it('resolveAttnProblem: options.casual, before anything else is looked at', () => {
    const options = { cuSeqlensQ: cu, cuSeqlensK: cu, casual: true };
    const error = thrown(() => resolveAttnProblem(q, k, k, options as never));
    expect(error).toMatchObject({ code: 'E_VALUE', argument: 'options.casual', received: 'casual' });
    expect(error.message).toContain('did you mean `causal`?');
    expect(thrown(() => resolveAttnProblem(null as never, k, k, options as never)).argument).toBe('options.casual');
  });

  it('ATTN_OPTION_KEYS lists every key resolveAttnProblem reads', () => {
    const all = Object.fromEntries(ATTN_OPTION_KEYS.map((key) => [key, undefined]));
    expect(() => resolveAttnProblem(q, k, k, { ...all, cuSeqlensQ: cu, cuSeqlensK: cu })).not.toThrow();
  });

  it('referenceAttnForward: config.precison', () => {
    const t = { data: new Float32Array(15).fill(0.5), shape: [5, 1, 3], dtype: 'f32' } as const;
    const error = thrown(() =>
      referenceAttnForward(t, t, t, { cuSeqlensQ: cu, cuSeqlensK: cu }, { precison: 'f16' } as never),
    );
    expect(error).toMatchObject({ code: 'E_VALUE', argument: 'config.precison' });
    expect(error.message).toContain('did you mean `precision`?');
  });

  it('registerBackend: options.priorty', () => {
    const error = thrown(() => registerBackend('typo-test', () => ({}) as never, { priorty: 5 } as never));
    expect(error).toMatchObject({ code: 'E_VALUE', argument: 'options.priorty' });
    expect(error.message).toContain('did you mean `priority`?');
    expect(unregisterBackend('typo-test')).toBe(false);
  });
});
