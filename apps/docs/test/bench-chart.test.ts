import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type BenchRun, forwardChart, niceMax, SERIES } from '../src/benchmarks/chart.js';

const DIR = new URL('../../../benchmarks/', import.meta.url);
const records = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, json: JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Record<string, unknown> }));
/** `fa bench --json` runs, which the results page charts; the other records (static reports, GPU runs) are not. */
const files = records
  .filter(({ json }) => typeof json.schema === 'string' && json.schema.startsWith('fa-bench/'))
  .map(({ file }) => file);

describe('benchmark charts', () => {
  it('rounds the axis up to a number whose quarters are round', () => {
    expect(niceMax(113.2)).toBe(120);
    expect(niceMax(65)).toBe(80);
    expect(niceMax(0.9)).toBeCloseTo(1);
    expect(niceMax(0)).toBe(1);
  });

  it('charts at least one committed run, and every other record says the command that made it', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const { file, json } of records.filter((r) => !files.includes(r.file))) {
      expect(typeof json.command, `${file} names its command`).toBe('string');
    }
  });

  it.each(files)('%s: one bar per forward row, in scale', (file) => {
    const run = JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as BenchRun;
    expect(run.schema).toBe('fa-bench/1');
    const chart = forwardChart(run);
    const charted = new Set<string>(SERIES.map((s) => s.implementation));
    const forwardRows = run.rows.filter(
      (r) => r.pass === 'forward' && r.usefulGflops !== null && charted.has(r.implementation),
    );
    const bars = chart.groups.flatMap((g) => g.bars);
    expect(bars.length).toBe(forwardRows.length);
    for (const bar of bars) {
      expect(bar.width).toBeCloseTo((bar.gflops / chart.max) * chart.plotWidth);
      expect(bar.width).toBeLessThanOrEqual(chart.plotWidth);
    }
    expect(chart.groups.map((g) => g.id)).toEqual(
      run.workloads.filter((w) => forwardRows.some((r) => r.workload === w.id)).map((w) => w.id),
    );
  });
});
