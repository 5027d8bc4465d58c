import { readFileSync } from 'node:fs';
import { resetBackends } from '@fa/core';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, prepareBackend } from './backends.js';
import { parseDocuments, prepareCorpus } from './corpus.js';
import { CORPUS_PATH } from './paths.js';
import { DEFAULT_TRAIN, type TrainConfig, train } from './train.js';

// A tiny model on part of the corpus: a few seconds per run on two CPU cores.
const corpus = prepareCorpus(parseDocuments(readFileSync(CORPUS_PATH, 'utf8')), {
  maxTokens: 256,
  seed: 0,
  limit: 150,
});
// Release the GPU device (and worker threads) before the process exits, instead of leaving it to Dawn's teardown.
afterAll(() => resetBackends());

const config = (backend: string): TrainConfig => ({
  ...DEFAULT_TRAIN,
  backend,
  steps: 10,
  lr: 1e-2,
  warmup: 2,
  evalEvery: 0,
  evalBatches: 2,
  model: { dModel: 32, layers: 2, heads: 4, kvHeads: 2, mlpHidden: 64 },
});
const losses = (r: { curve: { loss: number }[] }) => r.curve.map((s) => s.loss);

describe('training on packed documents', () => {
  it('the loss falls on the cpu backend, and the run is reproducible from its seed', async () => {
    const first = await train(corpus, config('cpu'));
    const curve = losses(first);
    expect(curve[0]).toBeCloseTo(Math.log(corpus.vocab.size), 1); // a fresh model predicts about uniformly
    expect(curve.at(-1)!).toBeLessThan(curve[0]! - 0.5);
    expect(first.validation.at(-1)!.loss).toBeLessThan(first.validation[0]!.loss - 0.5);
    expect(losses(await train(corpus, config('cpu')))).toEqual(curve);
  });

  it('cpu (WebAssembly SIMD kernels) and reference (float64 reference) backends give the same curve', async () => {
    await prepareBackend('reference');
    const cpu = losses(await train(corpus, config('cpu')));
    const reference = losses(await train(corpus, config('reference')));
    for (let i = 0; i < cpu.length; i++) expect(Math.abs(cpu[i]! - reference[i]!)).toBeLessThan(1e-4);
  });

  // SwiftShader runs WebGPU on the CPU: ~15 s alone, several times that when CI shares the cores.
  it('webgpu gives the same curve as cpu', { timeout: 300_000 }, async (ctx) => {
    try {
      await prepareBackend('webgpu');
    } catch (error) {
      // CI installs SwiftShader and sets FA_REQUIRE_WEBGPU, so there a missing adapter fails instead of skipping.
      if (error instanceof BackendUnavailableError && !process.env.FA_REQUIRE_WEBGPU) {
        ctx.skip(`webgpu cannot start here: ${error.message}`);
      }
      throw error;
    }
    const cpu = losses(await train(corpus, config('cpu')));
    const webgpu = losses(await train(corpus, config('webgpu')));
    for (let i = 0; i < cpu.length; i++) expect(Math.abs(cpu[i]! - webgpu[i]!)).toBeLessThan(1e-3);
  });
});
