import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BenchReport, writeBenchReport } from './runner.js';

/** Just what `writeBenchReport` reads: the date, the device, the workloads and a marker to tell runs apart. */
function fakeReport(run: string, tokens: number): BenchReport {
  return {
    schema: 'fa-bench/1',
    date: '2026-11-24T12:00:00.000Z',
    quick: false,
    device: { cpu: 'Test CPU', cores: 2, node: 'v20', platform: 'Linux', arch: 'x64', memoryGiB: 1 },
    workloads: [{ id: 'w', heads: 8, headDim: 64, causal: true, tokens, sequenceLengths: [tokens] }],
    command: run,
  } as unknown as BenchReport;
}

describe('writeBenchReport', () => {
  it('replaces a same-day file only when it holds the same workloads', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fa-bench-write-'));
    try {
      const first = await writeBenchReport(fakeReport('first', 4096), dir, 'm');
      expect(path.basename(first)).toBe('cpu-2026-11-24-m.json');
      // The same workloads again: a rerun, which replaces the file.
      expect(await writeBenchReport(fakeReport('rerun', 4096), dir, 'm')).toBe(first);
      expect(JSON.parse(await readFile(first, 'utf8')).command).toBe('rerun');
      // Other workloads: the earlier results stay, the new run gets the next free name.
      const other = await writeBenchReport(fakeReport('other', 2048), dir, 'm');
      expect(path.basename(other)).toBe('cpu-2026-11-24-m-2.json');
      expect(JSON.parse(await readFile(first, 'utf8')).command).toBe('rerun');
      // A file that is not a bench report is never replaced.
      await writeFile(path.join(dir, 'cpu-2026-11-24-x.json'), 'not json');
      expect(path.basename(await writeBenchReport(fakeReport('x', 4096), dir, 'x'))).toBe('cpu-2026-11-24-x-2.json');
      expect((await readdir(dir)).sort()).toEqual([
        'cpu-2026-11-24-m-2.json',
        'cpu-2026-11-24-m.json',
        'cpu-2026-11-24-x-2.json',
        'cpu-2026-11-24-x.json',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
