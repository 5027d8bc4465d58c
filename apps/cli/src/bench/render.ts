import {
  type Column,
  formatError,
  formatInt,
  formatNumber,
  formatSeconds,
  renderMarkdownTable,
  renderTable,
} from '../format.js';
import type { BenchReport, BenchRow } from './runner.js';

/** The bench report as text: what ran where, one table of every row, and the command that reproduces it. */

const IMPLEMENTATION_LABEL: Record<BenchRow['implementation'], string> = {
  varlen: 'fa varlen',
  padded: 'fa padded',
  'naive-js': 'naive JS',
  onnxruntime: 'ORT MHA padded',
};

function implementationCell(row: BenchRow): string {
  const label = IMPLEMENTATION_LABEL[row.implementation] ?? row.implementation;
  if (row.implementation === 'onnxruntime') {
    // `onnxruntime-node@1.30.0` → `ORT MHA padded (1.30.0)`; no version when it did not load.
    const version = row.backend?.split('@')[1];
    return version ? `${label} (${version})` : label;
  }
  return `${label}${row.backend ? ` (${row.backend})` : ''}`;
}

function speedup(x: number | null): string {
  return x === null ? '' : `${formatNumber(x)}×`;
}

function checkCell(row: BenchRow): string {
  if (row.medianSeconds === null) return row.note?.startsWith('unavailable') ? 'unavailable' : 'failed';
  if (!row.check) return 'n/a';
  return row.check.pass ? 'PASS' : 'FAIL';
}

function columns(report: BenchReport): Column<BenchRow>[] {
  const labels = new Map(report.workloads.map((w) => [w.id, w]));
  let previous = '';
  return [
    {
      header: 'workload',
      value: (r) => {
        // The workload name only on its first row, so that groups read as blocks.
        const shown = r.workload === previous ? '' : (labels.get(r.workload)?.label ?? r.workload);
        previous = r.workload;
        return shown;
      },
    },
    { header: 'implementation', value: implementationCell },
    { header: 'pass', value: (r) => (r.pass === 'forward' ? 'fwd' : 'bwd') },
    {
      header: 'median',
      align: 'right',
      value: (r) => (r.medianSeconds === null ? '—' : formatSeconds(r.medianSeconds)),
    },
    { header: 'runs', align: 'right', value: (r) => String(r.runs) },
    {
      header: 'useful GFLOP/s',
      align: 'right',
      value: (r) => (r.usefulGflops === null ? '—' : formatNumber(r.usefulGflops)),
    },
    { header: 'vs naive', align: 'right', value: (r) => speedup(r.speedupVsNaive) },
    { header: 'vs padded', align: 'right', value: (r) => speedup(r.speedupVsPadded) },
    ...(hasOnnxruntime(report)
      ? [
          {
            header: 'vs ORT',
            align: 'right',
            value: (r) => speedup(r.speedupVsOnnxruntime ?? null),
          } as Column<BenchRow>,
        ]
      : []),
    { header: 'max |err|', align: 'right', value: (r) => formatError(r.check?.maxError) },
    { header: 'check', value: checkCell },
  ];
}

/** The "vs ORT" column only when an onnxruntime row has a time to compare with. */
function hasOnnxruntime(report: BenchReport): boolean {
  return report.rows.some((r) => r.implementation === 'onnxruntime' && r.medianSeconds !== null);
}

/** The onnxruntime baseline in one paragraph, or nothing for reports without it. */
function onnxruntimeLines(report: BenchReport): string[] {
  const info = report.onnxruntime;
  if (!info) return [];
  if (info.status === 'unavailable') return [`onnxruntime: ${info.package} unavailable: ${info.reason}.`];
  return [`onnxruntime: ${info.package} ${info.version}, ${info.model}.`];
}

/** Notes of rows that did not run or whose results are off, each unavailability once. */
function rowNotes(report: BenchReport): string[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const r of report.rows) {
    if (!r.note) continue;
    const failed = r.note.startsWith('failed');
    if (!failed && r.implementation !== 'onnxruntime') continue;
    const line = r.note.startsWith('unavailable')
      ? `Note: ${implementationCell(r)} rows: ${r.note}`
      : `Note: ${r.workload} ${implementationCell(r)} ${r.pass}: ${r.note}`;
    if (!seen.has(line)) lines.push(line);
    seen.add(line);
  }
  return lines;
}

export function benchTable(report: BenchReport): string[] {
  return renderTable(report.rows, columns(report));
}

/** The table and the workloads in Markdown, for docs/benchmarks.md. */
export function renderBenchMarkdown(report: BenchReport): string {
  const { device } = report;
  const lines = [
    `Measured ${report.date.slice(0, 10)} on ${device.cpu}, ${device.cores} cores, ${device.memoryGiB} GiB, ` +
      `${device.platform} ${device.arch}, Node ${device.node}; backends: ${report.backends.benchmarked.join(', ')}.`,
    '',
    'Reproduce from the repository root:',
    '',
    '```sh',
    report.command,
    '```',
    '',
    ...onnxruntimeLines(report).flatMap((line) => [line, '']),
    ...renderMarkdownTable(report.workloads, [
      { header: 'workload', value: (w) => w.label },
      { header: 'tokens', align: 'right', value: (w) => formatInt(w.tokens) },
      { header: 'sequences', align: 'right', value: (w) => String(w.lengths.sequences) },
      { header: 'longest', align: 'right', value: (w) => formatInt(w.lengths.longest) },
      { header: 'median', align: 'right', value: (w) => formatInt(w.lengths.median) },
      { header: 'padded / packed slots', align: 'right', value: (w) => `${formatNumber(w.padding.ratio)}×` },
      { header: 'forward GFLOP (packed)', align: 'right', value: (w) => formatNumber(w.forwardFlops / 1e9) },
      { header: 'forward GFLOP (padded)', align: 'right', value: (w) => formatNumber(w.paddedForwardFlops / 1e9) },
    ]),
    '',
    ...renderMarkdownTable(report.rows, columns(report)),
  ];
  return `${lines.join('\n')}\n`;
}

export function workloadLines(report: BenchReport): string[] {
  return report.workloads.map(
    (w) =>
      `  ${w.label}: ${formatInt(w.tokens)} tokens, ${w.lengths.sequences} seqs (longest ${formatInt(w.lengths.longest)}, ` +
      `median ${formatInt(w.lengths.median)}), padded ${formatNumber(w.padding.ratio)}× the slots, ` +
      `${formatNumber(w.forwardFlops / 1e9)} GFLOP fwd (padded: ${formatNumber(w.paddedForwardFlops / 1e9)} executed)`,
  );
}

/** Other work on the machine skews every timing; say so when the load average shows it. */
function busyWarning(report: BenchReport): string[] {
  const load = report.loadAverage;
  if (!load || load.before < 0.5 * report.device.cores) return [];
  return [
    `Warning: the machine was busy before the run (load average ${load.before.toFixed(2)} on ${report.device.cores} cores); timings may be skewed.`,
  ];
}

export function renderBench(report: BenchReport, file: string | null): string {
  const { device } = report;
  const lines = [
    `fa bench${report.quick ? ' --quick' : ''}: ${device.cpu}, ${device.cores} cores, Node ${device.node}; backends: ${report.backends.benchmarked.join(', ')}`,
    ...busyWarning(report),
    '',
    ...workloadLines(report),
    '',
    ...benchTable(report),
    '',
    `FLOPs: ${report.method.flops}.`,
    `Timing: ${report.method.timing}.`,
    `Accuracy: ${report.method.check}; ${report.method.tolerance}.`,
    ...onnxruntimeLines(report),
    ...rowNotes(report),
    '',
    `Reproduce: ${report.command}`,
    ...(file ? [`Written: ${file}`] : []),
    report.pass
      ? 'PASS: every checked row is within tolerance.'
      : 'FAIL: some rows are out of tolerance (see the check column).',
  ];
  return `${lines.join('\n')}\n`;
}
