/**
 * Static report: for every kernel and tiling variant on a device's limits (H200 defaults), the analytic model
 * (scripts/static-report.ts) and counts in the hot loops of the SPIR-V Tint emits, dumped by Dawn on SwiftShader
 * (`dump_shaders`), with Dawn's default robustness and with `disable_robustness`.
 *
 *   pnpm --filter @fa/webgpu report [--out ../../benchmarks/webgpu-static-<date>.json] [--readme]
 *
 * `--readme` puts the table into README.md between the static-report markers.
 *
 * Needs the SwiftShader environment of `pnpm test` (LD_LIBRARY_PATH, VK_ICD_FILENAMES) for the SPIR-V part.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FloatDType } from '@fa/core';
import { dkdvWgsl } from '../src/kernels/dkdv.js';
import { dqWgsl } from '../src/kernels/dq.js';
import { forwardWgsl } from '../src/kernels/forward.js';
import { preprocessWgsl } from '../src/kernels/preprocess.js';
import { chooseTileConfig, configKey, type KernelKind, type TileShape, type TilingLimits } from '../src/plan/config.js';
import { type Analytic, analytic, parseSpirv, type SpirvCounts, splitDump } from './static-report.js';

/** The H200 (and H100) through Dawn: 48 KiB of workgroup storage, 1024 invocations, subgroups of 32. */
export const H200_LIMITS: TilingLimits = { workgroupStorageBytes: 49152, invocations: 1024, subgroupWidth: 32 };
const RESIDENT_Q: TileShape = { wg: 128, bm: 64, bn: 32, rm: 4, km: 1 };
export const VARIANTS: ReadonlyArray<readonly [string, Partial<TilingLimits>]> = [
  ['default', {}],
  ['vec4', { vec4: true }],
  ['no-subgroups', { subgroupWidth: 0 }],
  ['forward=128x64x32x4', { shapes: { forward: [RESIDENT_Q] } }],
  ['forward=128x64x32x4 vec4', { shapes: { forward: [RESIDENT_Q] }, vec4: true }],
];
const FEATURES = { softcap: false, alibi: false, dropout: false };
export const TOGGLE_SETS = { default: [] as string[], disable_robustness: ['disable_robustness'] };

export interface Entry {
  kernel: KernelKind | 'preprocess';
  variant: string;
  d: number;
  dtype: FloatDType;
  config: string;
  wgsl: string;
}

/** Every (kernel, variant, D, dtype) whose code differs; variants that compile the same config are dropped. */
export function entries(limits: TilingLimits = H200_LIMITS): Entry[] {
  const out: Entry[] = [];
  const seen = new Set<string>();
  for (const d of [64, 128]) {
    for (const dtype of ['f32', 'f16'] as const) {
      for (const kernel of ['forward', 'dq', 'dkdv'] as const) {
        for (const [variant, change] of VARIANTS) {
          if (dtype === 'f16' && variant !== 'default') continue;
          const c = chooseTileConfig(kernel, d, d, { ...limits, ...change });
          const key = `${configKey(c)}:${dtype}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const gen = kernel === 'forward' ? forwardWgsl : kernel === 'dq' ? dqWgsl : dkdvWgsl;
          out.push({ kernel, variant, d, dtype, config: configKey(c), wgsl: gen(c, dtype, FEATURES) });
        }
      }
      if (d === 64)
        out.push({
          kernel: 'preprocess',
          variant: 'default',
          d: 0,
          dtype,
          config: 'preprocess',
          wgsl: preprocessWgsl(dtype),
        });
    }
  }
  return out;
}

/** In a child process: compile each module with dump_shaders, so Dawn prints its SPIR-V to stdout. */
async function child(toggles: string[], file: string): Promise<void> {
  const { create, globals } = (await import('webgpu')) as unknown as { create: (f: string[]) => GPU; globals: object };
  Object.assign(globalThis, globals);
  const gpu = create([
    `enable-dawn-features=${['dump_shaders', 'disable_symbol_renaming', 'disable_workgroup_init', 'skip_validation', ...toggles].join(',')}`,
  ]);
  const adapter = (await gpu.requestAdapter())!;
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: ['subgroups' as GPUFeatureName],
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    },
  });
  for (const code of JSON.parse(readFileSync(file, 'utf8')) as string[]) {
    const module = device.createShaderModule({ code: fitWorkgroupArrays(code, l.maxComputeWorkgroupStorageSize) });
    await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  }
  device.destroy();
}

/**
 * SwiftShader allows 32 KiB of workgroup storage, less than the H200's tiles: for the dump only, every
 * `var<workgroup>` array is halved until they fit. Indices, strides and loops are untouched, and a robustness
 * clamp of a runtime index is `min(i, N - 1)` whatever N is, so the counts are those of the real code.
 */
export function fitWorkgroupArrays(code: string, bytes: number): string {
  const decl = /(var<workgroup> \w+: array<(f32|vec4<f32>), )(\d+)>/g;
  let scale = 1;
  const total = () =>
    [...code.matchAll(decl)].reduce((sum, m) => sum + Math.ceil(Number(m[3]) / scale) * (m[2] === 'f32' ? 4 : 16), 0);
  while (total() > bytes) scale *= 2;
  return code.replace(decl, (_, head: string, _t: string, n: string) => `${head}${Math.ceil(Number(n) / scale)}>`);
}

/** The SPIR-V hot-loop counts of each entry under a toggle set, or the reason there are none. */
export function spirvCounts(list: Entry[], toggles: string[]): SpirvCounts[] | string {
  const file = `/tmp/fa-webgpu-report-${process.pid}.json`;
  writeFileSync(file, JSON.stringify(list.map((e) => e.wgsl)));
  const script = fileURLToPath(import.meta.url);
  const args = ['--conditions=@fa/source', '--import', 'tsx', script, '--child', JSON.stringify(toggles), file];
  const result = spawnSync(process.execPath, args, {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const dumps = splitDump(result.stdout ?? '');
  if (result.status !== 0 || dumps.length !== list.length) {
    return `child exited ${result.status ?? result.signal} with ${dumps.length} of ${list.length} SPIR-V dumps: ${(result.stderr ?? '').slice(-500)}`;
  }
  return dumps.map(parseSpirv);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(JSON.parse(argv[1]!), argv[2]!);
  const list = entries();
  const spirv = Object.fromEntries(Object.entries(TOGGLE_SETS).map(([name, t]) => [name, spirvCounts(list, t)]));
  const { version } = JSON.parse(readFileSync(new URL('../node_modules/webgpu/package.json', import.meta.url), 'utf8'));
  const rows: Row[] = list.map((e, i) => ({
    kernel: e.kernel,
    variant: e.variant,
    d: e.d,
    dtype: e.dtype,
    config: e.config,
    ...(e.kernel === 'preprocess' ? {} : analytic(chooseTileConfigOf(e))),
    spirv: Object.fromEntries(
      Object.entries(spirv).map(([name, s]) => [name, typeof s === 'string' ? null : (s[i] ?? null)]),
    ),
  }));
  const report = {
    command: 'pnpm --filter @fa/webgpu report --out ../../benchmarks/webgpu-static-<date>.json --readme',
    date: new Date().toISOString().slice(0, 10),
    versions: {
      node: process.version,
      webgpu: version,
      adapter: 'SwiftShader (Vulkan) through Dawn, for the SPIR-V only',
    },
    limits: H200_LIMITS,
    rules: RULES,
    errors: Object.fromEntries(Object.entries(spirv).filter(([, s]) => typeof s === 'string')),
    rows,
  };
  const at = argv.indexOf('--out');
  if (at >= 0) writeFileSync(argv[at + 1]!, `${JSON.stringify(report, null, 2)}\n`);
  const table = markdown(rows);
  if (argv.includes('--readme')) {
    const readme = new URL('../README.md', import.meta.url);
    const [start, end] = README_MARKERS;
    const text = readFileSync(readme, 'utf8');
    const from = text.indexOf(start);
    const to = text.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end}`);
    writeFileSync(readme, `${text.slice(0, from + start.length)}\n${table}\n${text.slice(to)}`);
  }
  console.log(table);
}

function chooseTileConfigOf(e: Entry) {
  const change = VARIANTS.find(([name]) => name === e.variant)![1];
  return chooseTileConfig(e.kernel as KernelKind, e.d, e.d, { ...H200_LIMITS, ...change });
}

export const README_MARKERS = ['<!-- static-report:start -->', '<!-- static-report:end -->'] as const;

export const RULES = {
  limits:
    'H200/H100 through Dawn: 48 KiB workgroup storage, 1024 invocations, subgroups of 32 (tiling from plan/config.ts chooseTileConfig)',
  workgroupBytes: 'sharedFloats(config) · 4: every var<workgroup> array the kernel declares',
  barriersPerKeyTile:
    'forward only: 2 per staged head-dim chunk of K (dp/dc) and of V (dvp/vc), +3 for the row max/sum exchange through workgroup memory when subgroups do not serve it',
  globalFloatsPerKeyTile:
    'forward only: BN·(dp + dvp) key and value floats, + BM·dp when Q is not resident (restaged per key tile)',
  wgLoadsPerFmaQK:
    'forward S = Q·Kᵀ: (NS + RM) loads per RM·NS multiply-adds per head-dim column, four columns per load with vec4',
  wgLoadsPerFmaPV:
    'forward O += P·V: (VC/TPR + RM) loads (RM/4 probability loads with vec4) per RM·VC/TPR multiply-adds per key',
  keyLoadBankWavefronts:
    'invocations 0…31 loading key column x = 0 at d = 0 in the score product (col_of(lane, 0) · KV_TILE_S, or the vec4 key_pos row, 4 words each): the most distinct 4-byte words in one of 32 banks ; keyLoadMinWavefronts is the fewest possible, distinct words / 32 rounded up (wavefronts > min: a bank conflict)',
  spirv:
    'Tint SPIR-V dumped by Dawn (toggles dump_shaders, disable_symbol_renaming, skip_validation) to stdout of a child process on SwiftShader, compiled with createComputePipelineAsync; SwiftShader allows 32 KiB of workgroup storage, so for the dump only every var<workgroup> array length is halved until they fit (a robustness clamp min(i, N-1) is emitted whatever N is, indices and loops are unchanged); hot code = instructions between an OpLoopMerge header and its merge label in any function, plus whole functions called from hot code',
  clamps: 'OpExtInst UMin/UClamp/SClamp results used as an OpAccessChain index in hot code (robustness clamps)',
  dots: 'OpDot in hot code',
  divMod:
    'OpUDiv/OpSDiv/OpUMod/OpSMod/OpSRem in hot code plus OpFunctionCall of tint_div_*/tint_mod_* there (helper bodies not counted)',
  functionArrays:
    'OpVariable of Function storage with array type accessed with a non-constant index (an id that is not OpConstant) in hot code: spill risk',
  toggleSets: 'default: Dawn robustness on; disable_robustness: Dawn toggle disable_robustness',
};

export interface Row extends Partial<Analytic> {
  kernel: string;
  variant: string;
  d: number;
  dtype: string;
  config: string;
  spirv: Record<string, SpirvCounts | null>;
}

export function markdown(rows: Row[]): string {
  const n = (v: number | null | undefined, digits = 0) => (v == null ? '–' : v.toFixed(digits));
  const s = (c: SpirvCounts | null | undefined) =>
    c ? `${c.clamps} / ${c.dots} / ${c.divMod} / ${c.functionArrays}` : '–';
  const lines = [
    '| kernel | variant | D | dtype | workgroup memory | barriers / key tile | global floats / key tile | wg loads / FMA (QKᵀ) | K-load wavefronts | clamps / OpDot / div-mod / fn arrays | same, disable_robustness |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.kernel} | ${r.variant} | ${r.d || '–'} | ${r.dtype} | ${r.workgroupBytes == null ? '–' : `${(r.workgroupBytes / 1024).toFixed(1)} KiB`} | ${n(r.barriersPerKeyTile)} | ${n(r.globalFloatsPerKeyTile)} | ${n(r.wgLoadsPerFmaQK, 3)} | ${r.keyLoadBankWavefronts == null ? '–' : `${r.keyLoadBankWavefronts} (min ${r.keyLoadMinWavefronts})`} | ${s(r.spirv.default)} | ${s(r.spirv.disable_robustness)} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
