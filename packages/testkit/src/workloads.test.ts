import { describe, expect, it } from 'vitest';
import { LAYOUTS, layoutLengths, normals, sampleRows, workload, workloadsDocument } from './workloads.js';

describe('the benchmark workloads', () => {
  it('keep their lengths for the same arguments: the digests the CUDA, WebGPU and PyTorch results are joined by', () => {
    // Changing a layout changes every recorded benchmark's batch: bump GENERATOR_VERSION with these digests.
    expect(LAYOUTS.map((layout) => workload(layout).digest)).toEqual(['6a2e5c5f', 'f765908e', '0769806b']);
    for (const layout of LAYOUTS) expect(workload(layout).tokens).toBeLessThanOrEqual(32768);
    expect(workload('skewed').tokens).toBe(32768);
  });

  it('give a valid batch at smoke sizes too', () => {
    for (const layout of LAYOUTS) {
      const lengths = layoutLengths(layout, { tokens: 100, seqlen: 30 });
      expect(lengths.every((l) => Number.isInteger(l) && l > 0)).toBe(true);
      expect(lengths.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(100);
    }
    expect(() => layoutLengths('ragged' as never)).toThrow(/uniform, skewed, fixed/);
  });

  it('sample rows inside the batch, the longest sequence first', () => {
    const lengths = [5, 40, 0, 7];
    const rows = sampleRows(lengths, 3, 50);
    expect(rows.slice(0, 2)).toEqual([
      { b: 1, h: 0, i: 0 },
      { b: 1, h: 2, i: 39 },
    ]);
    for (const { b, h, i } of rows) expect(h < 3 && i < (lengths[b] as number)).toBe(true);
  });

  it('draw the benchmark data as float32 normals, and write a document for other programs', () => {
    const data = normals(7, 3);
    expect(data).toBeInstanceOf(Float32Array);
    expect(Array.from(data)).toEqual(Array.from(normals(7, 3)));
    const document = workloadsDocument({ tokens: 1000, heads: 2, layouts: ['fixed'], seqlen: 300 });
    expect(document.workloads[0]?.cuSeqlens).toEqual([0, 300, 600, 900, 1000]);
    expect(document.generator).toBe('packages/testkit/src/workloads.ts');
  });
});
