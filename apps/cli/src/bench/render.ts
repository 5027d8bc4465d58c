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
};

function speedup(x: number | null): string {
  return x === null ? '' : `${formatNumber(x)}×`;
}

function checkCell(row: BenchRow): string {
  if (row.medianSeconds === null) return 'failed';
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
    {
      header: 'implementation',
      value: (r) => `${IMPLEMENTATION_LABEL[r.implementation]}${r.backend ? ` (${r.backend})` : ''}`,
    },
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
    { header: 'max |err|', align: 'right', value: (r) => formatError(r.check?.maxError) },
    { header: 'check', value: checkCell },
  ];
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
  const failedRows = report.rows.filter((r) => r.note?.startsWith('failed'));
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
    ...failedRows.map((r) => `Note: ${r.workload} ${r.implementation} ${r.pass}: ${r.note}`),
    '',
    `Reproduce: ${report.command}`,
    ...(file ? [`Written: ${file}`] : []),
    report.pass
      ? 'PASS: every checked row is within tolerance.'
      : 'FAIL: some rows are out of tolerance (see the check column).',
  ];
  return `${lines.join('\n')}\n`;
}
