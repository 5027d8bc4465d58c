/**
 * The static speedometer: for every kernel instantiation, registers, spills, shared memory and occupancy on
 * sm_90, and the instruction mix of one iteration of its main tile loop, from the PTX of the real build's
 * translation units (see static-report.ts). Needs nvcc, no GPU.
 *
 *   pnpm --filter @fa/cuda report            # prints the table, writes benchmarks/cuda-static-<date>.json
 *   node --import tsx scripts/report.ts --markdown   # only the markdown table (for the README)
 *
 * The loop counts are static: PTX instructions in the loop body as written (each counted once, whichever
 * branches a call takes, code behind runtime flags such as softcap, ALiBi and dropout included), not executed
 * counts, and PTX, not the SASS ptxas makes of it (no cuobjdump/nvdisasm here).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  compile,
  findNvcc,
  kernelRows,
  markdownTable,
  NVCC_FLAGS,
  OCCUPANCY_RULES,
  PTXAS_FLAGS,
  packageDir,
  SM90,
} from './static-report.js';

const markdownOnly = process.argv.includes('--markdown');
const nvcc = findNvcc();
if (!nvcc) {
  console.error('@fa/cuda report: nvcc (the CUDA toolkit) was not found (PATH, CUDACXX, CUDA_HOME, /usr/local/cuda).');
  process.exit(1);
}
const started = Date.now();
const compilation = await compile(nvcc, join(packageDir, 'build', 'report'));
const rows = kernelRows(compilation);
if (rows.length === 0) {
  console.error('@fa/cuda report: no kernel entries parsed from the PTX and ptxas output.');
  process.exit(1);
}
const table = markdownTable(rows);
if (markdownOnly) {
  console.log(table);
  process.exit(0);
}
const date = new Date().toISOString().slice(0, 10);
const file = join(packageDir, '..', '..', 'benchmarks', `cuda-static-${date}.json`);
const report = {
  command: 'pnpm --filter @fa/cuda report',
  date,
  nvcc: compilation.nvccVersion,
  nvccFlags: ['-ptx', ...NVCC_FLAGS.map((f) => f.replace(packageDir, '<package>'))],
  ptxasFlags: PTXAS_FLAGS,
  units: compilation.units.map((u) => ({ unit: `csrc/${u.unit}`, seconds: u.seconds })),
  target: { arch: 'sm_90', ...SM90 },
  occupancyRules: OCCUPANCY_RULES,
  loopCounts:
    'static PTX instructions in the main tile loop body (the loop with the most mma.sync, or f32 fma for the f32 path; among equals the innermost), each counted once per iteration per thread = per warp instruction; code behind runtime flags (softcap, ALiBi, dropout, masking) included; nested loops counted once; not executed counts and not SASS',
  rows,
};
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(table);
console.log(`\n${rows.length} kernels, ${((Date.now() - started) / 1000).toFixed(0)} s; wrote ${file}`);
