import { noGrad } from '@fa/autograd';
import { describe, expect, it } from 'vitest';
import { prepareCorpus } from './corpus.js';
import { DEFAULT_MODEL, TinyLM } from './model.js';

const corpus = prepareCorpus(['the cat sat on the mat', 'a dog', 'the end of the story is near'], {
  maxTokens: 64,
  seed: 0,
  validationShare: 0.01,
});
const batch = corpus.train[0]!;
const model = (attentionDropout: number) =>
  new TinyLM({
    ...DEFAULT_MODEL,
    dModel: 16,
    heads: 2,
    kvHeads: 1,
    mlpHidden: 32,
    attentionDropout,
    vocabSize: corpus.vocab.size,
    seed: 1,
  });

describe('TinyLM', () => {
  it('is seeded, and its parameter groups split matrices (decayed) from gains and the embedding', () => {
    const a = model(0);
    expect(Array.from(a.head.data)).toEqual(Array.from(model(0).head.data));
    const { decayed, other } = a.parameterGroups();
    expect(decayed.every((p) => p.shape.length === 2)).toBe(true);
    expect(other.map((p) => p.name)).toEqual([
      'embed',
      'blocks.0.attnNorm',
      'blocks.0.mlpNorm',
      'blocks.1.attnNorm',
      'blocks.1.mlpNorm',
      'finalNorm',
    ]);
    expect(decayed.length + other.length).toBe(a.parameters().length);
  });

  it('uses attention dropout when training (masks vary by step) and never when evaluating', async () => {
    const m = model(0.5);
    const evalA = (await noGrad(() => m.loss(batch, 'cpu'))).item();
    const evalB = (await noGrad(() => m.loss(batch, 'cpu'))).item();
    expect(evalA).toBe(evalB);
    expect(evalA).toBe((await noGrad(() => model(0).loss(batch, 'cpu'))).item());
    const step1 = (await noGrad(() => m.loss(batch, 'cpu', 1))).item();
    const step2 = (await noGrad(() => m.loss(batch, 'cpu', 2))).item();
    expect(step1).not.toBe(evalA);
    expect(step1).not.toBe(step2);
    expect(step1).toBe((await noGrad(() => m.loss(batch, 'cpu', 1))).item());
  });
});
