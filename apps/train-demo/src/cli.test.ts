import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, parseArgs } from './cli.js';

describe('flags', () => {
  it('parses the documented flags, both spellings', () => {
    const o = parseArgs(['--steps', '5', '--seed=3', '--backend', 'reference', '--max-tokens', '256', '--out', 'x']);
    expect(o).toMatchObject({ steps: 5, seed: 3, backend: 'reference', maxTokens: 256, out: 'x' });
    expect(parseArgs(['--help'])).toBeNull();
    expect(parseArgs(['--', '--steps', '7'])?.steps).toBe(7);
  });

  it('rejects bad values with exit code 2', async () => {
    const lines: string[] = [];
    expect(await main(['--backend', 'tpu'], (l) => lines.push(l))).toBe(2);
    expect(await main(['--steps', '-1'], (l) => lines.push(l))).toBe(2);
    expect(await main(['--stepz', '1'], (l) => lines.push(l))).toBe(2);
    expect(lines).toEqual([
      'error: --backend expects one of cpu, webgpu, cuda, reference, received "tpu".',
      'error: --steps expects an integer >= 0, received "-1".',
      'error: Unknown flag --stepz. See --help.',
    ]);
  });
});

describe('the demo end to end', () => {
  it('prints progress and the baseline, and writes curve.json and curve.svg', async () => {
    const out = mkdtempSync(join(tmpdir(), 'train-demo-'));
    const lines: string[] = [];
    const args = ['--steps', '3', '--max-tokens', '256', '--d-model', '16', '--layers', '1', '--eval-every', '0'];
    expect(await main([...args, '--out', out], (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toMatch(/unigram baseline: \d\.\d{4} nats\/byte/);
    expect(lines.join('\n')).toMatch(/step 3\/3 {2}loss \d\.\d{4} {2}lr \S+ {2}\d+ tokens\/s/);
    const curve = JSON.parse(readFileSync(join(out, 'curve.json'), 'utf8'));
    expect(curve.curve).toHaveLength(3);
    expect(curve.validation.map((r: { step: number }) => r.step)).toEqual([0, 3]);
    expect(readFileSync(join(out, 'curve.svg'), 'utf8')).toContain('<polyline');
  });
});
