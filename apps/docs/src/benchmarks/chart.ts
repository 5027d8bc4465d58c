/**
 * Bar-chart geometry for the committed `fa bench` results (schema `fa-bench/1`), computed at build time and drawn
 * as inline SVG by BenchChart.astro: no chart library, no script on the page.
 */

/** The parts of an `fa-bench/1` file the chart reads. */
export interface BenchRun {
  readonly schema: string;
  readonly date: string;
  readonly device: { readonly cpu?: string; readonly cores?: number; readonly node?: string };
  readonly workloads: readonly { readonly id: string; readonly label: string }[];
  readonly rows: readonly {
    readonly workload: string;
    readonly implementation: string;
    readonly backend: string | null;
    readonly pass: string;
    readonly usefulGflops: number | null;
    readonly note?: string | null;
  }[];
}

/** The implementations charted, in bar order. */
export const SERIES = [
  { implementation: 'varlen', label: 'fa varlen', color: '#4c6ef5' },
  { implementation: 'padded', label: 'fa padded', color: '#f59f00' },
  { implementation: 'onnxruntime', label: 'ORT', color: '#37b24d' },
  { implementation: 'naive-js', label: 'naive JS', color: '#868e96' },
] as const;

export interface Bar {
  readonly series: string;
  readonly color: string;
  readonly gflops: number;
  readonly backend: string | null;
  readonly y: number;
  readonly width: number;
}

export interface Group {
  readonly id: string;
  readonly label: string;
  readonly y: number;
  readonly bars: Bar[];
}

export interface Chart {
  readonly width: number;
  readonly height: number;
  readonly plotX: number;
  readonly plotWidth: number;
  readonly max: number;
  readonly ticks: { value: number; x: number }[];
  readonly groups: Group[];
}

export const BAR = 14;
const GROUP_GAP = 18;
const TOP = 28;

/** A "nice" axis maximum, at or above `value`, whose quarters are round numbers. */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 1.2, 1.6, 2, 4, 6, 8, 10].find((m) => m * power >= value * (1 - 1e-12)) as number) * power;
}

/** Useful GFLOP/s of the forward pass per workload, one bar per implementation that has a row. */
export function forwardChart(run: BenchRun, width = 760, labelWidth = 230): Chart {
  if (!run.schema.startsWith('fa-bench/')) throw new Error(`Not an fa bench file: schema ${run.schema}`);
  const plotX = labelWidth;
  const plotWidth = width - labelWidth - 70; // room for the value labels right of the longest bar
  const forward = run.rows.filter((r) => r.pass === 'forward' && r.usefulGflops !== null);
  const max = niceMax(Math.max(0, ...forward.map((r) => r.usefulGflops as number)));
  const groups: Group[] = [];
  let y = TOP;
  for (const workload of run.workloads) {
    const bars: Bar[] = [];
    for (const s of SERIES) {
      const row = forward.find((r) => r.workload === workload.id && r.implementation === s.implementation);
      if (!row) continue;
      const gflops = row.usefulGflops as number;
      bars.push({
        series: s.label,
        color: s.color,
        gflops,
        backend: row.backend,
        y: y + bars.length * BAR,
        width: (gflops / max) * plotWidth,
      });
    }
    if (bars.length === 0) continue;
    groups.push({ id: workload.id, label: workload.label, y, bars });
    y += bars.length * BAR + GROUP_GAP;
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({ value: f * max, x: plotX + f * plotWidth }));
  return { width, height: y + 10, plotX, plotWidth, max, ticks, groups };
}

export function formatGflops(value: number): string {
  return value === 0 ? '0' : value >= 10 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(2);
}
