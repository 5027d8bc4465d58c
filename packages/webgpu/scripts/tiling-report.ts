/**
 * What each forward tiling variant compiles to on a device's limits, and what that predicts: workgroup memory,
 * workgroups per SM from it, workgroup-memory loads per multiply-add in the two products, barriers and global
 * loads per key tile. Derived from plan/config.ts through the model in scripts/static-report.ts, so it stays true
 * to the kernels; the predictions are there to be checked against `webgpu.sh tune` on the GPU, not to stand in
 * for it.
 *
 *   node --conditions=@fa/source --import tsx scripts/tiling-report.ts [--storage 49152] [--invocations 1024]
 *     [--subgroup 32] [--sm-storage 233472] [--sm-threads 2048] [--dims 128,64]
 *
 * The defaults are the H100 through Dawn (../shared/device/README.md): 48 KiB of workgroup storage and 1024
 * invocations per workgroup, subgroups of 32; 228 KiB of shared memory and 2048 threads per SM.
 */
import { chooseTileConfig, configKey, type TileShape, type TilingLimits } from '../src/plan/config.js';
import { analytic } from './static-report.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = argv.indexOf(name);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const dims = (argv.includes('--dims') ? argv[argv.indexOf('--dims') + 1]! : '128,64').split(',').map(Number);
const limits: TilingLimits = {
  workgroupStorageBytes: option('--storage', 49152),
  invocations: option('--invocations', 1024),
  subgroupWidth: option('--subgroup', 32),
};
const smStorage = option('--sm-storage', 233472);
const smThreads = option('--sm-threads', 2048);

const RESIDENT_Q_SHAPE: TileShape = { wg: 128, bm: 64, bn: 32, rm: 4, km: 1 };
const variants: Array<[string, Partial<TilingLimits>]> = [
  ['default', {}],
  ['vec4', { vec4: true }],
  ['no-subgroups', { subgroupWidth: 0 }],
  ['q-resident', { shapes: { forward: [RESIDENT_Q_SHAPE] } }],
  ['q-resident-vec4', { shapes: { forward: [RESIDENT_Q_SHAPE] }, vec4: true }],
];

console.log(
  `limits: ${limits.workgroupStorageBytes} B workgroup storage, ${limits.invocations} invocations, subgroups of ${limits.subgroupWidth}; per SM ${smStorage} B, ${smThreads} threads`,
);
console.log(
  '| variant | D | forward tiles | workgroup memory | workgroups / SM | loads / FMA (QKᵀ, PV) | barriers / key tile | global floats / key tile |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const d of dims) {
  for (const [name, change] of variants) {
    const c = chooseTileConfig('forward', d, d, { ...limits, ...change });
    const m = analytic(c);
    const bytes = m.workgroupBytes;
    const perSm = Math.min(Math.floor(smStorage / bytes), Math.floor(smThreads / c.wg), 32);
    const qk = m.wgLoadsPerFmaQK!;
    const pv = m.wgLoadsPerFmaPV!;
    const barriers = m.barriersPerKeyTile;
    const globalFloats = m.globalFloatsPerKeyTile;
    console.log(
      `| ${name} | ${d} | \`${configKey(c)}\` | ${(bytes / 1024).toFixed(1)} KiB | ${perSm} (${perSm * c.wg} threads) | ${qk.toFixed(3)}, ${pv.toFixed(3)} | ${barriers} | ${globalFloats} |`,
    );
  }
}
