import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BOS, formatDocuments, parseDocuments, prepareCorpus, Vocabulary } from './corpus.js';
import { generateCorpus } from './corpus-gen.js';
import { CORPUS_PATH } from './paths.js';

const shipped = readFileSync(CORPUS_PATH, 'utf8');

describe('the shipped corpus', () => {
  it('is the generator output for seed 2024, a few hundred KB, of very different document lengths', () => {
    const documents = parseDocuments(shipped);
    expect(formatDocuments(generateCorpus())).toBe(shipped);
    expect(shipped.length).toBeGreaterThan(100_000);
    expect(shipped.length).toBeLessThan(400_000);
    const lengths = documents.map((d) => d.length);
    expect(Math.min(...lengths)).toBeLessThan(50);
    expect(Math.max(...lengths)).toBeGreaterThan(2000);
  });

  it('round-trips through parse and format', () => {
    const docs = ['one', 'two\n\nparagraphs', 'three'];
    expect(parseDocuments(formatDocuments(docs))).toEqual(docs);
  });
});

describe('tokenising and packing', () => {
  const documents = parseDocuments(shipped).slice(0, 200);
  const corpus = prepareCorpus(documents, { maxTokens: 300, seed: 1 });

  it('has one token per byte present plus BOS, and decodes what it encodes', () => {
    const vocab = new Vocabulary([new TextEncoder().encode('hello')]);
    expect(vocab.size).toBe(5); // BOS, e, h, l, o
    expect(Array.from(vocab.encode(new TextEncoder().encode('hole')))).toEqual([2, 4, 3, 1]);
    expect(vocab.decode([BOS, 2, 1, 3, 3, 4])).toBe('hello');
  });

  it('packs sequences into batches within the budget, without padding, that start with BOS and shift targets', () => {
    let tokens = 0;
    for (const batch of [...corpus.train, ...corpus.validation]) {
      expect(batch.tokens).toBeLessThanOrEqual(300);
      expect(batch.inputs.length).toBe(batch.tokens);
      expect(batch.cuSeqlens.at(-1)).toBe(batch.tokens);
      for (let s = 0; s + 1 < batch.cuSeqlens.length; s++) {
        const [start, end] = [batch.cuSeqlens[s]!, batch.cuSeqlens[s + 1]!];
        expect(batch.inputs[start]).toBe(BOS);
        for (let t = start; t < end; t++) {
          expect(batch.positions[t]).toBe(t - start); // rotary positions restart at every document
          if (t + 1 < end) expect(batch.inputs[t + 1]).toBe(batch.targets[t]);
        }
      }
      tokens += batch.tokens;
    }
    // Every byte of every document is a target exactly once.
    expect(tokens).toBe(documents.reduce((n, d) => n + new TextEncoder().encode(d).length, 0));
    expect(corpus.documents.train + corpus.documents.validation).toBe(200);
  });

  it('computes the unigram baseline as the entropy of the training targets', () => {
    const tiny = prepareCorpus(['aab', 'ab', 'x'], { maxTokens: 8, seed: 0, validationShare: 0.01 });
    // One document is held out; the baseline comes from the other two.
    const heldOut = ['aab', 'ab', 'x'].find((d) => !tiny.train.some((b) => tiny.vocab.decode(b.targets).includes(d)));
    const counts = new Map<string, number>();
    for (const d of ['aab', 'ab', 'x'].filter((d) => d !== heldOut))
      for (const c of d) counts.set(c, (counts.get(c) ?? 0) + 1);
    const total = [...counts.values()].reduce((s, n) => s + n, 0);
    const entropy = -[...counts.values()].reduce((s, n) => s + (n / total) * Math.log(n / total), 0);
    expect(tiny.unigramLoss).toBeCloseTo(entropy, 12);
  });
});
