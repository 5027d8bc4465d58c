import { checkKnownKeys } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { type CheckedSpec, misspell, optionsBags, sweepChecked } from './sweep.js';

/** The sweep's own checks: a function that ignores a misspelt key must fail it, whatever the spec declares. */
describe('the misspelt-key sweep', () => {
  const options = () => ({ causal: true, tiling: { blockM: 16, shapes: [{ wg: 64 }] } });
  const strict = (bag: { tiling?: { shapes?: unknown[] } }) => {
    checkKnownKeys(bag, 'options', ['causal', 'tiling']);
    checkKnownKeys(bag.tiling, 'options.tiling', ['blockM', 'shapes']);
    bag.tiling?.shapes?.forEach((shape, i) => checkKnownKeys(shape, `options.tiling.shapes[${i}]`, ['wg']));
  };
  const spec = (call: (bag: never) => unknown): CheckedSpec => ({
    kind: 'checked',
    call,
    args: () => [options()],
    names: ['options'],
    valid: { 0: [undefined, {}] },
  });

  it('finds every options bag, nested ones and those in arrays included, but not host tensors', () => {
    const host = { data: new Float32Array(2), shape: [2], dtype: 'f32' };
    const { bags, unnamed } = optionsBags({ ...spec(strict), names: ['options', null] }, [options(), { host }]);
    expect(bags.map((b) => b.path)).toEqual(['options', 'options.tiling', 'options.tiling.shapes[0]']);
    expect(unnamed).toEqual([1]);
  });

  it('passes a function that checks the keys of every bag', async () => {
    expect(await sweepChecked(spec((bag) => bag === undefined || strict(bag)))).toEqual([]);
  });

  it('fails a function that ignores a misspelt key, at any level', async () => {
    const lax = (bag: unknown) => bag === undefined || checkKnownKeys(bag, 'options', ['causal', 'tiling']);
    const problems = await sweepChecked(spec(lax));
    expect(problems).toEqual([
      expect.stringMatching(/^options bag `options.tiling` with `blockM` misspelt as `bolckM`: the call was accepted/),
      expect.stringMatching(/^options bag `options.tiling` with `shapes` misspelt as `sahpes`: the call was accepted/),
      expect.stringMatching(/^options bag `options.tiling.shapes\[0\]` with `wg` misspelt as `gw`: the call was/),
    ]);
  });

  it('fails a spec whose options bag sits at a position it does not name, unless declared not options', async () => {
    const unnamed = { ...spec((bag) => bag === undefined || strict(bag)), names: [null] };
    expect(await sweepChecked(unnamed)).toEqual([
      'argument 0 holds an options bag but has no name in the spec to sweep it under',
    ]);
    expect(await sweepChecked({ ...unnamed, notOptions: { '<argument 0>': 'a test' } })).toEqual([]);
  });

  it('misspells a key by one swap of neighbouring letters', () => {
    expect(['causal', 'lr', 'seed', 'aa', 'x'].map(misspell)).toEqual(['cuasal', 'rl', 'esed', 'aaa', 'xx']);
  });
});
