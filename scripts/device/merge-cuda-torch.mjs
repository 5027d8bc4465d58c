#!/usr/bin/env node
// Joins the JSON of packages/cuda/scripts/bench.ts (fa) and packages/cuda/scripts/torch_varlen_bench.py (PyTorch's
// varlen_attn) into one table with ratios, printed as Markdown and written as JSON.
//
//   node scripts/device/merge-cuda-torch.mjs FA.json TORCH.json [--out MERGED.json]
//
// Rows are matched on (dtype, head dim, layout, causal); a row whose workload digests differ (not the same
// cu_seqlens) is reported and left out of the ratios. fa's times are host wall times (its addon has no CUDA
// events): "queued" (calls issued back to back, total / count) is the one compared first, "awaited" (one call at a
// time) second; PyTorch's are CUDA-event times. ratio = fa TFLOP/s / PyTorch TFLOP/s (above 1: fa is faster).
import { readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const outAt = argv.indexOf('--out');
const out = outAt >= 0 ? argv[outAt + 1] : '';
const [faPath, torchPath] = argv.filter((_, i) => outAt < 0 || (i !== outAt && i !== outAt + 1));
if (!faPath || !torchPath) {
  console.error('usage: merge-cuda-torch.mjs FA.json TORCH.json [--out MERGED.json]');
  process.exit(2);
}
const fa = JSON.parse(readFileSync(faPath, 'utf8'));
const torch = JSON.parse(readFileSync(torchPath, 'utf8'));

const key = (r) => `${r.dtype}|${r.headDim}|${r.layout}|${r.causal}`;
const torchRows = new Map(torch.results.map((r) => [key(r), r]));
const ratio = (a, b) => (a && b ? a / b : null);
const rows = [];
const problems = [];
for (const f of fa.results) {
  const t = torchRows.get(key(f));
  if (!t) {
    problems.push(`no PyTorch row for ${key(f)}`);
    continue;
  }
  torchRows.delete(key(f));
  if (f.digest !== t.digest) {
    problems.push(`${key(f)}: workload digests differ (fa ${f.digest}, torch ${t.digest}): not the same cu_seqlens`);
    continue;
  }
  const pass = (name, faTiming, torchTiming) => {
    if (!faTiming || !torchTiming) return null;
    const faBest = faTiming.queuedTflops ?? faTiming.awaitedTflops;
    return {
      faAwaitedMs: faTiming.awaitedMs,
      faQueuedMs: faTiming.queuedMs,
      torchMs: torchTiming.ms,
      faTflops: faBest,
      faAwaitedTflops: faTiming.awaitedTflops,
      torchTflops: torchTiming.tflops,
      ratio: ratio(faBest, torchTiming.tflops),
      ratioAwaited: ratio(faTiming.awaitedTflops, torchTiming.tflops),
      name,
    };
  };
  rows.push({
    dtype: f.dtype,
    headDim: f.headDim,
    layout: f.layout,
    causal: f.causal,
    sequences: f.sequences,
    tokens: f.tokens,
    digest: f.digest,
    forward: pass('forward', f.forward, t.forward),
    backward: pass('backward', f.backward, t.backward),
    forwardBackward: pass('forwardBackward', f.forwardBackward, t.forwardBackward),
    errors: {
      fa: { out: f.errors.out?.maxAbs, lse: f.errors.lse?.maxAbs, dq: f.errors.dq?.maxAbs ?? null },
      torch: { out: t.errors.out?.maxAbs, lse: t.errors.lse, dq: t.errors.dq?.maxAbs ?? null },
    },
  });
}
for (const k of torchRows.keys()) problems.push(`no fa row for ${k}`);

const n = (x, d = 1) => (x === null || x === undefined ? '—' : x.toFixed(d));
const e = (x) => (x === null || x === undefined ? '—' : x.toExponential(1));
console.log(`# fa (@fa/cuda) vs PyTorch varlen_attn — ${fa.device?.name ?? '?'} / ${torch.device ?? '?'}`);
console.log(`fa: ${fa.command}\ntorch: ${torch.command} (${torch.function ?? ''})\n`);
console.log(
  '| dtype | D | layout | causal | fwd fa TFLOP/s | fwd torch | fwd ratio | bwd fa | bwd torch | bwd ratio | fwd+bwd fa | fwd+bwd torch | fwd+bwd ratio | fa err out/dq | torch err out/dq |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const c = (p) => [n(p?.faTflops), n(p?.torchTflops), n(p?.ratio, 2)];
  console.log(
    `| ${r.dtype} | ${r.headDim} | ${r.layout} | ${r.causal} | ${c(r.forward).join(' | ')} | ${c(r.backward).join(' | ')} | ${c(r.forwardBackward).join(' | ')} | ${e(r.errors.fa.out)} / ${e(r.errors.fa.dq)} | ${e(r.errors.torch.out)} / ${e(r.errors.torch.dq)} |`,
  );
}
console.log(
  "(fa TFLOP/s from its queued wall time, PyTorch's from CUDA events; ratio = fa / torch; awaited ratios in the JSON)",
);
for (const p of problems) console.log(`warning: ${p}`);

if (out) {
  const document = {
    tool: 'scripts/device/merge-cuda-torch.mjs',
    date: new Date().toISOString(),
    fa: { file: faPath, command: fa.command, device: fa.device, timing: fa.timing },
    torch: {
      file: torchPath,
      command: torch.command,
      device: torch.device,
      function: torch.function,
      timing: torch.timing,
    },
    rows,
    problems,
  };
  writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
process.exit(rows.length > 0 && problems.length === 0 ? 0 : 1);
