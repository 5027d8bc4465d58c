import { Tensor } from '@fa/flash-attn';
import { describe, expect, it } from 'vitest';
import { autogradSpecs, tfjsSpecs } from './specs/autograd.js';
import { coreSpecs } from './specs/core.js';
import { cudaSpecs } from './specs/cuda.js';
import { cpuSpecs, flashAttnSpecs, tensorMethodSpecs } from './specs/flash-attn.js';
import { seqpackSpecs } from './specs/seqpack.js';
import { webgpuSpecs } from './specs/webgpu.js';
import { type Spec, sweepChecked, sweepTotal } from './sweep.js';

const entryPoints: ReadonlyArray<readonly [string, () => Promise<Record<string, unknown>>, Record<string, Spec>]> = [
  ['@fa/core', () => import('@fa/core'), coreSpecs],
  ['@fa/seqpack', () => import('@fa/seqpack'), seqpackSpecs],
  ['@fa/flash-attn', () => import('@fa/flash-attn'), flashAttnSpecs],
  ['@fa/flash-attn/cpu', () => import('@fa/flash-attn/cpu'), cpuSpecs],
  ['@fa/webgpu', () => import('@fa/webgpu'), webgpuSpecs],
  ['@fa/cuda', () => import('@fa/cuda'), cudaSpecs],
  ['@fa/autograd', () => import('@fa/autograd'), autogradSpecs],
  ['@fa/autograd/tfjs', () => import('@fa/autograd/tfjs'), tfjsSpecs],
];

for (const [entry, load, specs] of entryPoints) {
  describe(entry, () => {
    it('has a spec for every exported function and class', async () => {
      const module = await load();
      const functions = Object.keys(module).filter((name) => typeof module[name] === 'function');
      expect(functions.filter((name) => !(name in specs))).toEqual([]);
      expect(Object.keys(specs).filter((name) => !functions.includes(name))).toEqual([]);
    });

    for (const [name, spec] of Object.entries(specs)) {
      if (spec.kind === 'exempt') continue;
      it(`${name}: ${spec.kind === 'checked' ? 'every wrong argument earns a typed error naming it' : 'answers every input'}`, async () => {
        const problems = spec.kind === 'checked' ? await sweepChecked(spec) : await sweepTotal(spec);
        expect(problems).toEqual([]);
      });
    }
  });
}

describe('@fa/flash-attn Tensor methods', () => {
  it('has a spec for every method', () => {
    const methods = Object.entries(Object.getOwnPropertyDescriptors(Tensor.prototype))
      .filter(([name, d]) => name !== 'constructor' && typeof d.value === 'function')
      .map(([name]) => name);
    expect(methods.filter((name) => !(name in tensorMethodSpecs))).toEqual([]);
    expect(Object.keys(tensorMethodSpecs).filter((name) => !methods.includes(name))).toEqual([]);
  });

  for (const [name, spec] of Object.entries(tensorMethodSpecs)) {
    if (spec.kind !== 'checked') continue;
    it(`${name}: every wrong argument earns a typed error naming it`, async () => {
      expect(await sweepChecked(spec)).toEqual([]);
    });
  }
});
