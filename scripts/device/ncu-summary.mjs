#!/usr/bin/env node
// Kernel times from Nsight Compute, for @fa/cuda's kernels: the one number the addon cannot give itself (it has no
// CUDA events). Reads the CSV of
//
//   ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --page raw \
//       --log-file RUN.csv node ... scripts/bench.ts --dims 128 --layouts uniform --causal false ...
//
// one file per configuration, and prints per kernel the launches, median and spread of gpu__time_duration, plus
// forward = median fwd_kernel and backward = the sum of the medians of the bwd_* kernels (one launch of each per
// backward call), with TFLOP/s when the matching bench JSON is given.
//
//   node scripts/device/ncu-summary.mjs LABEL=RUN.csv[:BENCH.json] ... [--out FILE.json]
import { readFileSync, writeFileSync } from 'node:fs';

/** ncu's CSV: every field quoted; a header row starting with "ID", then (in raw pages) a units row. */
function parseCsv(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('"')) continue; // ==PROF== lines and the program's own output
    const fields = [];
    let field = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') {
          field += '"';
          i++;
        } else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') {
        fields.push(field);
        field = '';
      } else field += c;
    }
    fields.push(field);
    rows.push(fields);
  }
  return rows;
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** `void fa::fwd_kernel<(fa::Dtype)2, 128>(fa::AttnParams)` → `fwd_kernel` */
const shortName = (name) => (name.replace(/^void\s+/, '').split(/[<(]/)[0] ?? name).split('::').pop().trim();

function summarize(csvPath) {
  const rows = parseCsv(readFileSync(csvPath, 'utf8'));
  const header = rows.find((r) => r[0] === 'ID');
  if (!header) throw new Error(`${csvPath}: no ncu CSV header ("ID", ...) found`);
  const nameAt = header.indexOf('Kernel Name');
  const timeAt = header.indexOf('gpu__time_duration.sum');
  if (nameAt < 0 || timeAt < 0) throw new Error(`${csvPath}: no "Kernel Name" or "gpu__time_duration.sum" column`);
  const unitsRow = rows[rows.indexOf(header) + 1];
  const unit = unitsRow && !/^\d/.test(unitsRow[0] ?? '') ? unitsRow[timeAt] : 'nsecond';
  const toNs = { nsecond: 1, usecond: 1e3, msecond: 1e6, second: 1e9, ns: 1, us: 1e3, ms: 1e6 }[unit] ?? 1;
  const kernels = new Map();
  for (const row of rows.slice(rows.indexOf(header) + 1)) {
    if (!/^\d+$/.test(row[0] ?? '')) continue;
    const value = Number(String(row[timeAt]).replace(/,/g, ''));
    if (!Number.isFinite(value)) continue;
    const name = shortName(row[nameAt] ?? '?');
    if (!kernels.has(name)) kernels.set(name, []);
    kernels.get(name).push(value * toNs);
  }
  const perKernel = Object.fromEntries(
    [...kernels].map(([name, ns]) => [
      name,
      { launches: ns.length, medianMs: median(ns) / 1e6, minMs: Math.min(...ns) / 1e6, maxMs: Math.max(...ns) / 1e6 },
    ]),
  );
  const forwardMs = perKernel.fwd_kernel?.medianMs ?? null;
  const backwardNames = Object.keys(perKernel).filter((n) => n.startsWith('bwd_'));
  const backwardMs = backwardNames.length ? backwardNames.reduce((a, n) => a + perKernel[n].medianMs, 0) : null;
  return { unit, perKernel, forwardMs, backwardMs, backwardKernels: backwardNames };
}

const argv = process.argv.slice(2);
const outAt = argv.indexOf('--out');
const out = outAt >= 0 ? argv[outAt + 1] : '';
const runs = [];
for (const arg of argv.filter((_, i) => outAt < 0 || (i !== outAt && i !== outAt + 1))) {
  const [label, rest] = arg.includes('=') ? arg.split(/=(.*)/s) : [arg, arg];
  const [csv, benchJson] = rest.split(':');
  const run = { label, csv, ...summarize(csv) };
  if (benchJson) {
    const bench = JSON.parse(readFileSync(benchJson, 'utf8'));
    const result = bench.results?.[0];
    if (result) {
      const flops = result.forwardFlops;
      run.config = { layout: result.layout, headDim: result.headDim, causal: result.causal, digest: result.digest };
      run.forwardTflops = run.forwardMs ? flops / run.forwardMs / 1e9 : null;
      run.backwardTflops = run.backwardMs ? (2.5 * flops) / run.backwardMs / 1e9 : null;
      run.forwardBackwardTflops =
        run.forwardMs && run.backwardMs ? (3.5 * flops) / (run.forwardMs + run.backwardMs) / 1e9 : null;
      // Wall times of the same calls, inflated by ncu's serialisation: not comparable with the plain bench.
      run.wallMsUnderNcu = {
        forwardAwaited: result.forward?.awaitedMs ?? null,
        backwardAwaited: result.backward?.awaitedMs ?? null,
      };
    }
  }
  runs.push(run);
}

const f = (x, d = 3) => (x === null || x === undefined ? '—' : x.toFixed(d));
console.log('| run | kernel | launches | median ms | min ms | max ms |');
console.log('|---|---|---|---|---|---|');
for (const r of runs)
  for (const [name, k] of Object.entries(r.perKernel))
    console.log(`| ${r.label} | ${name} | ${k.launches} | ${f(k.medianMs)} | ${f(k.minMs)} | ${f(k.maxMs)} |`);
console.log('\n| run | fwd kernel ms | bwd kernels ms | fwd TFLOP/s | bwd TFLOP/s | fwd+bwd TFLOP/s |');
console.log('|---|---|---|---|---|---|');
for (const r of runs)
  console.log(
    `| ${r.label} | ${f(r.forwardMs)} | ${f(r.backwardMs)} | ${f(r.forwardTflops, 1)} | ${f(r.backwardTflops, 1)} | ${f(r.forwardBackwardTflops, 1)} |`,
  );
if (out) {
  writeFileSync(
    out,
    `${JSON.stringify({ tool: 'scripts/device/ncu-summary.mjs', date: new Date().toISOString(), metric: 'gpu__time_duration.sum (ncu --clock-control none --cache-control none)', runs }, null, 2)}\n`,
  );
  console.log(`wrote ${out}`);
}
process.exit(runs.length && runs.every((r) => r.forwardMs !== null) ? 0 : 1);
