/**
 * The static report's machinery (see report.ts): compiles the kernels' translation units to PTX for sm_90 with
 * the real build's flags, runs ptxas -v on that PTX, and parses both — registers, spills, stack and shared
 * memory per kernel entry, occupancy on sm_90 by cuda_occupancy.h's rules, and the instruction mix of each
 * kernel's main tile loop. The parsers are pure functions of text, tested on small samples in
 * test/report.test.ts; the compile step needs nvcc.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const csrc = join(packageDir, 'csrc');

/** The translation units that instantiate kernels (launch.cu and selftest.cu hold none). */
export const KERNEL_UNITS = ['launch_f32.cu', 'launch_f16.cu', 'launch_bf16.cu'] as const;

/**
 * The real build's CUDA flags (CMakeLists.txt, Release; build/CMakeFiles/fa_cuda.dir/flags.make shows them),
 * with code generation narrowed to PTX for compute_90 (ptxas then compiles it for sm_90). Host-only flags
 * (-fPIC, visibility) change no device code and are left out.
 */
export const NVCC_FLAGS = [
  '-O3',
  '-DNDEBUG',
  '-DFA_CUDA_ARCHS="80,90"',
  '-DFA_LDMATRIX=1',
  '--expt-relaxed-constexpr',
  '-lineinfo',
  '-std=c++17',
  '-arch=compute_90',
  `-I${csrc}`,
];
export const PTXAS_FLAGS = ['-v', '-O3', '-arch=sm_90'];

/** sm_90 (H100/H200): the figures the occupancy rules use. */
export const SM90 = {
  sms: 132,
  regsPerSm: 65536,
  subPartitions: 4,
  regAllocUnit: 256, // registers, allocated per warp
  maxRegsPerThread: 255,
  smemPerSm: 228 * 1024, // with the largest carveout; the driver's per-block reservation comes out of it
  smemPerBlockOptin: 227 * 1024, // dynamic + static, excluding the reservation
  smemReservedPerBlock: 1024,
  smemAllocUnit: 128,
  maxBlocksPerSm: 32,
  maxWarpsPerSm: 64,
} as const;

export const OCCUPANCY_RULES = [
  'registers: per warp roundUp(regs × 32, 256); warps per SM = 4 sub-partitions × floor(16384 / that); blocks = floor(warps per SM / warps per block) (cuda_occupancy.h)',
  'shared memory: per block roundUp(static + dynamic + 1024 reserved, 128); blocks = floor(228 KiB / that), the largest carveout assumed; a block over 227 KiB (+1 KiB) does not launch',
  'blocks per SM = min(registers, shared memory, 32 blocks, floor(64 warps / warps per block)); warps per SM = blocks × warps per block',
  'threads per block: the .maxntid of the PTX entry (__launch_bounds__, which is what launch_impl.cuh launches); dynamic shared memory: the kSmemBytes of kernel_traits.h that launch_impl.cuh passes at launch (0 for the preprocess and convert kernels)',
];

// ---------------------------------------------------------------------------------------------------------------
// Names

export interface KernelName {
  readonly kernel: string; // e.g. fwd_kernel
  readonly dtype: string | undefined; // F32, F16, BF16
  readonly headDim: number | undefined;
  /** The bool template arguments after the head dim (the fa2 kernels' specialisations), in order. */
  readonly flags: readonly boolean[];
}

/**
 * What each kernel's bool template arguments mean, for the table's kernel column: the label shown when the flag
 * is true and the one shown when it is false ('' shows nothing).
 */
export const FLAG_NAMES: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  fwd_fa2_kernel: [
    ['window', ''],
    ['extras', ''],
    ['', 'element-wise loads'],
  ],
  bwd_fa2_dq_kernel: [
    ['window', ''],
    ['extras', ''],
  ],
  bwd_fa2_dkdv_kernel: [
    ['window', ''],
    ['extras', ''],
  ],
};

/** `fwd_fa2_kernel (window, extras)`, `fwd_fa2_kernel (plain)`, or the bare name of a kernel without flags. */
export function displayName(name: Pick<KernelName, 'kernel' | 'flags'>): string {
  if (name.flags.length === 0) return name.kernel;
  const labels = FLAG_NAMES[name.kernel] ?? name.flags.map((_, i) => [`flag${i}`, ''] as const);
  const shown = name.flags.map((f, i) => labels[i]?.[f ? 0 : 1] ?? '').filter((l) => l !== '');
  return `${name.kernel} (${shown.length > 0 ? shown.join(', ') : 'plain'})`;
}

/** Reads `fa::name<fa::DType, int>` back from an Itanium-mangled entry such as `_ZN2fa10fwd_kernelINS_3F16ELi128EEEv...`. */
export function demangleEntry(mangled: string): KernelName | undefined {
  const m = /^_ZN2fa(\d+)/.exec(mangled);
  if (!m?.[1]) return undefined;
  let pos = m[0].length;
  const kernel = mangled.slice(pos, pos + Number(m[1]));
  pos += kernel.length;
  if (mangled[pos] !== 'I') return { kernel, dtype: undefined, headDim: undefined, flags: [] };
  const args = mangled.slice(pos + 1);
  const dtype = /^NS_(\d+)(\w+?)E/.exec(args);
  const dtypeName = dtype?.[1] && dtype[2] ? dtype[2].slice(0, Number(dtype[1])) : undefined;
  const dim = /^(?:NS_\d+\w+?E)?Li(\d+)E((?:Lb[01]E)*)/.exec(args);
  const flags = [...(dim?.[2] ?? '').matchAll(/Lb([01])E/g)].map((m) => m[1] === '1');
  return { kernel, dtype: dtypeName, headDim: dim?.[1] ? Number(dim[1]) : undefined, flags };
}

// ---------------------------------------------------------------------------------------------------------------
// ptxas -v

export interface PtxasResource {
  readonly entry: string;
  readonly registers: number;
  readonly spillStores: number;
  readonly spillLoads: number;
  readonly stackFrame: number;
  readonly staticSmem: number;
  readonly barriers: number;
}

/** One record per `Compiling entry function` in ptxas -v's output (stderr). */
export function parsePtxasVerbose(text: string): PtxasResource[] {
  const out: PtxasResource[] = [];
  const blocks = text.split(/ptxas info\s*: Compiling entry function '/).slice(1);
  for (const block of blocks) {
    const entry = block.slice(0, block.indexOf("'"));
    const num = (re: RegExp) => Number(re.exec(block)?.[1] ?? 0);
    const registers = /Used (\d+) registers/.exec(block);
    if (!registers?.[1]) continue;
    out.push({
      entry,
      registers: Number(registers[1]),
      spillStores: num(/(\d+) bytes spill stores/),
      spillLoads: num(/(\d+) bytes spill loads/),
      stackFrame: num(/(\d+) bytes stack frame/),
      staticSmem: num(/(\d+) bytes smem/),
      barriers: num(/used (\d+) barriers/),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// PTX

export interface PtxEntry {
  readonly name: string;
  readonly maxntid: number | undefined;
  /** The body's lines, from the opening brace to the closing one. */
  readonly lines: readonly string[];
}

/** Splits a PTX module into its `.entry` functions. */
export function parsePtxEntries(ptx: string): PtxEntry[] {
  const lines = ptx.split('\n');
  const entries: PtxEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const head = /^\s*(?:\.visible\s+|\.weak\s+)?\.entry\s+([\w$.]+)\s*\(?/.exec(lines[i] ?? '');
    if (!head?.[1]) continue;
    let j = i + 1;
    let maxntid: number | undefined;
    while (j < lines.length && !/^\s*\{\s*$/.test(lines[j] ?? '')) {
      const ntid = /\.(?:maxntid|reqntid)\s+(\d+)(?:\s*,\s*(\d+))?(?:\s*,\s*(\d+))?/.exec(lines[j] ?? '');
      if (ntid) maxntid = Number(ntid[1]) * Number(ntid[2] ?? 1) * Number(ntid[3] ?? 1);
      j++;
    }
    const start = j;
    while (j < lines.length && !/^\}\s*$/.test(lines[j] ?? '')) j++;
    entries.push({ name: head[1], maxntid, lines: lines.slice(start, j + 1) });
    i = j;
  }
  return entries;
}

/** Integer `.global` scalars of a PTX module (`.visible .global .align 4 .u32 name = 123;`). */
export function parsePtxGlobals(ptx: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of ptx.matchAll(/\.global\s+(?:\.align\s+\d+\s+)?\.[us]32\s+([\w$]+)\s*=\s*(-?\d+)\s*;/g)) {
    if (m[1] && m[2]) out.set(m[1], Number(m[2]));
  }
  return out;
}

export const MIX_KEYS = [
  'mma',
  'ldmatrix',
  'ldShared',
  'stShared',
  'cpAsync',
  'ex2',
  'barSync',
  'shfl',
  'global',
  'float',
  'intPred',
  'other',
] as const;
export type MixKey = (typeof MIX_KEYS)[number];
export type InstructionMix = Record<MixKey, number> & { total: number };

const INT_TYPES = /\.(?:[su](?:8|16|32|64)|b(?:8|16|32|64)|pred)\b/;
const FLOAT_TYPES = /\.(?:f16|f16x2|bf16|bf16x2|f32|f64)\b/;

/** The category of one PTX instruction's opcode (guard predicate already removed). */
export function classifyOpcode(opcode: string): MixKey {
  if (opcode.startsWith('mma.') || opcode.startsWith('wgmma.')) return 'mma';
  if (opcode.startsWith('ldmatrix')) return 'ldmatrix';
  if (opcode.startsWith('ld.shared')) return 'ldShared';
  if (opcode.startsWith('st.shared')) return 'stShared';
  if (/^cp\.async\.c[ag]\b/.test(opcode)) return 'cpAsync';
  if (opcode.startsWith('ex2')) return 'ex2';
  if (opcode.startsWith('bar.') || opcode.startsWith('barrier.')) return 'barSync';
  if (opcode.startsWith('shfl')) return 'shfl';
  if (/^(?:ld|st|atom|red)\.global\b/.test(opcode) || /^(?:ld|st)\.(?:param|const|local)\b/.test(opcode))
    return 'global';
  if (/^(?:setp|selp|bra|mov|lop3|prmt|bfe|bfi|brev|popc|clz)\b/.test(opcode)) return 'intPred';
  if (opcode.startsWith('cvt')) return 'other';
  if (FLOAT_TYPES.test(opcode)) return 'float';
  if (INT_TYPES.test(opcode)) return 'intPred';
  return 'other';
}

/** The opcode of a PTX source line, or undefined for labels, directives, comments and braces. */
export function opcodeOf(line: string): string | undefined {
  // Inline asm may wrap an instruction in braces, e.g. cuda_bf16.hpp's `{ cvt.rn.bf16x2.f32 %r1, %f2, %f1;}`.
  const t = line
    .replace(/\/\/.*$/, '')
    .trim()
    .replace(/^\{\s*/, '')
    .replace(/\s*\}$/, '');
  if (!t || t.startsWith('.') || t.startsWith('{') || t.startsWith('}') || t.endsWith(':')) return undefined;
  const body = t.replace(/^@!?%\w+\s+/, '');
  const op = /^([a-z][\w.]*)/.exec(body);
  return op?.[1];
}

export function instructionMix(lines: readonly string[]): InstructionMix {
  const mix = Object.fromEntries([...MIX_KEYS, 'total'].map((k) => [k, 0])) as InstructionMix;
  for (const line of lines) {
    const op = opcodeOf(line);
    if (!op) continue;
    mix[classifyOpcode(op)]++;
    mix.total++;
  }
  return mix;
}

export interface PtxLoop {
  readonly label: string;
  /** Line indices within the entry: the label's line and the back-edge branch's line (inclusive). */
  readonly start: number;
  readonly end: number;
}

/** Every back edge of an entry: a `bra` to a label defined on an earlier line, as [label, branch]. */
export function findLoops(lines: readonly string[]): PtxLoop[] {
  const labels = new Map<string, number>();
  const loops: PtxLoop[] = [];
  lines.forEach((line, i) => {
    const label = /^\s*([\w$]+):\s*$/.exec(line);
    if (label?.[1]) labels.set(label[1], i);
    const branch = /^\s*(?:@!?%\w+\s+)?bra(?:\.uni)?\s+([\w$]+)\s*;/.exec(line);
    const target = branch?.[1] ? labels.get(branch[1]) : undefined;
    if (branch?.[1] && target !== undefined) loops.push({ label: branch[1], start: target, end: i });
  });
  return loops;
}

export interface MainLoop extends PtxLoop {
  readonly mix: InstructionMix;
  /**
   * The same without the cold regions the kernels mark (`// fa-cold-begin` … `// fa-cold-end`, hd.h's
   * FA_COLD_BEGIN/END: masking on boundary tiles, rescaling when a row's max grows): the steady-state path.
   */
  readonly hot: InstructionMix;
  /** Loops nested inside it (counted once each in the mix, or `repeats` times for the sub-tile loop). */
  readonly innerLoops: number;
  /** How many times the sub-tile loop's body was counted (1 when there is none). */
  readonly repeats: number;
}

/** The lines of `lines` outside cold regions (markers included in neither). */
export function withoutColdRegions(lines: readonly string[]): string[] {
  const out: string[] = [];
  let depth = 0;
  for (const line of lines) {
    if (line.includes('// fa-cold-begin')) depth++;
    else if (line.includes('// fa-cold-end')) depth = Math.max(0, depth - 1);
    else if (depth === 0) out.push(line);
  }
  return out;
}

function addMix(a: InstructionMix, b: InstructionMix, times = 1): InstructionMix {
  const out = { ...a };
  for (const k of [...MIX_KEYS, 'total'] as const) out[k] += times * b[k];
  return out;
}

/**
 * The main tile loop: of the loops whose body holds matrix products (mma, or f32 FMAs for the f32 path), the one
 * holding the most; among equals the innermost (shortest span), so an outer loop over heads or query tiles that
 * only wraps it is not taken. With `subTileRepeats` > 1 that innermost loop is a kernel's sub-tile loop (the fa2
 * forward walks a key tile in sub-tiles, not unrolled): the tile loop is then the one just around it, counted with
 * the sub-tile body `subTileRepeats` times.
 */
export function mainLoop(lines: readonly string[], subTileRepeats = 1): MainLoop | undefined {
  const products = (l: PtxLoop) => {
    let mma = 0;
    let fma = 0;
    for (let i = l.start; i <= l.end; i++) {
      const op = opcodeOf(lines[i] ?? '');
      if (!op) continue;
      if (op.startsWith('mma.')) mma++;
      else if (op.startsWith('fma.') && op.endsWith('.f32')) fma++;
    }
    return mma > 0 ? mma * 1e6 : fma;
  };
  let best: { loop: PtxLoop; score: number } | undefined;
  const loops = findLoops(lines);
  for (const loop of loops) {
    const score = products(loop);
    if (score === 0) continue;
    const better =
      !best || score > best.score || (score === best.score && loop.end - loop.start < best.loop.end - best.loop.start);
    if (better) best = { loop, score };
  }
  if (!best) return undefined;
  const inner = best.loop;
  const contains = (outer: PtxLoop, l: PtxLoop) => l !== outer && l.start >= outer.start && l.end <= outer.end;
  const parent =
    subTileRepeats > 1
      ? loops.filter((l) => contains(l, inner)).sort((a, b) => a.end - a.start - (b.end - b.start))[0]
      : undefined;
  const loop = parent ?? inner;
  const innerLoops = loops.filter((l) => contains(loop, l)).length;
  const span = (from: number, to: number) => lines.slice(from, to + 1);
  if (!parent) {
    const body = span(loop.start, loop.end);
    return {
      ...loop,
      mix: instructionMix(body),
      hot: instructionMix(withoutColdRegions(body)),
      innerLoops,
      repeats: 1,
    };
  }
  const outside = [...span(parent.start, inner.start - 1), ...span(inner.end + 1, parent.end)];
  const innerBody = span(inner.start, inner.end);
  return {
    ...loop,
    mix: addMix(instructionMix(outside), instructionMix(innerBody), subTileRepeats),
    hot: addMix(
      instructionMix(withoutColdRegions(outside)),
      instructionMix(withoutColdRegions(innerBody)),
      subTileRepeats,
    ),
    innerLoops,
    repeats: subTileRepeats,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Occupancy

export interface Occupancy {
  readonly threads: number;
  readonly warpsPerBlock: number;
  readonly smemPerBlock: number; // allocated: static + dynamic + reserved, rounded up
  readonly blocksByRegs: number;
  readonly blocksBySmem: number;
  readonly blocksPerSm: number;
  readonly warpsPerSm: number;
  /** What bounds blocksPerSm: 'registers', 'shared memory', '32 blocks', '64 warps' (joined with ' + ' on a tie), or 'does not fit'. */
  readonly limiter: string;
}

const roundUp = (x: number, unit: number) => Math.ceil(x / unit) * unit;

export function occupancySm90(registers: number, threads: number, staticSmem: number, dynamicSmem: number): Occupancy {
  const s = SM90;
  const warpsPerBlock = Math.ceil(threads / 32);
  const regsPerWarp = roundUp(Math.max(registers, 1) * 32, s.regAllocUnit);
  const warpsByRegs = s.subPartitions * Math.floor(s.regsPerSm / s.subPartitions / regsPerWarp);
  const blocksByRegs = registers > s.maxRegsPerThread ? 0 : Math.floor(warpsByRegs / warpsPerBlock);
  const smemPerBlock = roundUp(staticSmem + dynamicSmem + s.smemReservedPerBlock, s.smemAllocUnit);
  const fits = staticSmem + dynamicSmem <= s.smemPerBlockOptin;
  const blocksBySmem = fits ? Math.floor(s.smemPerSm / smemPerBlock) : 0;
  const byWarps = Math.floor(s.maxWarpsPerSm / warpsPerBlock);
  const blocksPerSm = Math.min(blocksByRegs, blocksBySmem, s.maxBlocksPerSm, byWarps);
  const limits: [string, number][] = [
    ['registers', blocksByRegs],
    ['shared memory', blocksBySmem],
    ['32 blocks', s.maxBlocksPerSm],
    ['64 warps', byWarps],
  ];
  const limiter =
    blocksPerSm === 0
      ? 'does not fit'
      : limits
          .filter(([, n]) => n === blocksPerSm)
          .map(([name]) => name)
          .join(' + ');
  return {
    threads,
    warpsPerBlock,
    smemPerBlock,
    blocksByRegs,
    blocksBySmem,
    blocksPerSm,
    warpsPerSm: blocksPerSm * warpsPerBlock,
    limiter,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Compiling

export function findNvcc(): string | undefined {
  const onPath = (name: string) =>
    (process.env.PATH ?? '')
      .split(delimiter)
      .map((dir) => dir && join(dir, name))
      .find((p) => p && existsSync(p));
  const candidates = [
    process.env.CUDACXX,
    process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'bin', 'nvcc'),
    process.env.CUDA_PATH && join(process.env.CUDA_PATH, 'bin', 'nvcc'),
    onPath('nvcc'),
    '/usr/local/cuda/bin/nvcc',
  ];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

/** ptxas next to nvcc (or on PATH). */
function findPtxas(nvcc: string): string {
  const sibling = join(dirname(nvcc), 'ptxas');
  return existsSync(sibling) ? sibling : 'ptxas';
}

// Per (dtype, bucket): the dynamic shared memory each kernel is launched with (launch_impl.cuh passes
// kSmemBytes) and its tile sizes, read back from a tiny PTX module of __device__ constants so that nothing here
// restates kernel_traits.h's formulas.
const DTYPES = ['F32', 'F16', 'BF16'] as const;
const BUCKETS = [32, 64, 96, 128, 192, 256] as const;
const TRAITS = {
  fwd_kernel: 'FwdTraits',
  fwd_fa2_kernel: 'Fa2FwdTraits',
  bwd_dq_kernel: 'DqTraits',
  bwd_dkdv_kernel: 'DkdvTraits',
  bwd_fa2_dq_kernel: 'Fa2DqTraits',
  bwd_fa2_dkdv_kernel: 'Fa2DkdvTraits',
} as const;
/** Fields only some traits have. */
const TRAIT_EXTRA_FIELDS: Partial<Record<keyof typeof TRAITS, readonly string[]>> = { fwd_fa2_kernel: ['kSubN'] };
/** Kernels instantiated for the tensor-core types only (f32 runs the baseline). */
const TRAIT_DTYPES: Partial<Record<keyof typeof TRAITS, readonly (typeof DTYPES)[number][]>> = {
  fwd_fa2_kernel: ['F16', 'BF16'],
  bwd_fa2_dq_kernel: ['F16', 'BF16'],
  bwd_fa2_dkdv_kernel: ['F16', 'BF16'],
};
const TRAIT_FIELDS = ['kSmemBytes', 'kBM', 'kBN'] as const;

function traitsSource(): string {
  const lines = ['#include "kernel_traits.h"', '#include "kernel_bwd_fa2_traits.h"', 'namespace fa {'];
  for (const [kernel, traits] of Object.entries(TRAITS)) {
    for (const dtype of TRAIT_DTYPES[kernel as keyof typeof TRAITS] ?? DTYPES) {
      for (const dim of BUCKETS) {
        for (const field of [...TRAIT_FIELDS, ...(TRAIT_EXTRA_FIELDS[kernel as keyof typeof TRAITS] ?? [])]) {
          lines.push(
            `extern "C" __device__ int fa_${kernel}_${dtype}_${dim}_${field} = ${traits}<${dtype}, ${dim}>::${field};`,
          );
        }
      }
    }
  }
  lines.push('}  // namespace fa', '');
  return lines.join('\n');
}

export interface Traits {
  readonly smem: number;
  readonly bm: number;
  readonly bn: number;
  /** Keys per sub-tile, for kernels that walk a key tile in sub-tiles (the fa2 forward). */
  readonly subN?: number;
}

export function traitsOf(globals: Map<string, number>, name: KernelName): Traits | undefined {
  const key = `fa_${name.kernel}_${name.dtype}_${name.headDim}`;
  const [smem, bm, bn] = TRAIT_FIELDS.map((f) => globals.get(`${key}_${f}`));
  const subN = globals.get(`${key}_kSubN`);
  if (smem === undefined || bm === undefined || bn === undefined) return undefined;
  return subN === undefined ? { smem, bm, bn } : { smem, bm, bn, subN };
}

export interface CompiledUnit {
  readonly unit: string;
  readonly ptx: string;
  readonly ptxas: string;
  readonly seconds: number;
}

export interface Compilation {
  readonly nvcc: string;
  readonly nvccVersion: string;
  readonly units: CompiledUnit[];
  readonly traits: Map<string, number>;
}

/** Compiles `units` (default: all kernel units) to PTX and runs ptxas -v on each, two at a time. */
export async function compile(
  nvcc: string,
  outDir: string,
  units: readonly string[] = KERNEL_UNITS,
  parallel = 2,
): Promise<Compilation> {
  mkdirSync(outDir, { recursive: true });
  const ptxas = findPtxas(nvcc);
  const version = (await run(nvcc, ['--version'], { encoding: 'utf8' })).stdout.trim().split('\n');
  const traitsCu = join(outDir, 'traits.cu');
  writeFileSync(traitsCu, traitsSource());
  const traitsPtx = join(outDir, 'traits.ptx');
  const one = async (unit: string): Promise<CompiledUnit> => {
    const started = Date.now();
    const ptxPath = join(outDir, unit.replace(/\.cu$/, '.ptx'));
    await run(nvcc, ['-ptx', ...NVCC_FLAGS, join(csrc, unit), '-o', ptxPath], { maxBuffer: 64 << 20 });
    const { stderr, stdout } = await run(ptxas, [...PTXAS_FLAGS, ptxPath, '-o', join(outDir, `${unit}.cubin`)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    return {
      unit,
      ptx: readFileSync(ptxPath, 'utf8'),
      ptxas: stdout + stderr,
      seconds: (Date.now() - started) / 1000,
    };
  };
  const queue = [...units];
  const done: CompiledUnit[] = [];
  const worker = async () => {
    for (let unit = queue.shift(); unit; unit = queue.shift()) done.push(await one(unit));
  };
  await Promise.all([
    run(nvcc, ['-ptx', ...NVCC_FLAGS, traitsCu, '-o', traitsPtx]),
    ...Array.from({ length: parallel }, worker),
  ]);
  done.sort((a, b) => units.indexOf(a.unit) - units.indexOf(b.unit));
  return {
    nvcc,
    nvccVersion: version.find((l) => l.includes('release')) ?? version.at(-1) ?? '',
    units: done,
    traits: parsePtxGlobals(readFileSync(traitsPtx, 'utf8')),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Rows

export interface KernelRow {
  readonly entry: string;
  readonly unit: string;
  readonly kernel: string;
  /** The kernel's bool template arguments (FLAG_NAMES says what they mean). */
  readonly flags: readonly boolean[];
  readonly dtype: string;
  readonly headDim: number | null;
  readonly registers: number;
  readonly spillStores: number;
  readonly spillLoads: number;
  readonly stackFrame: number;
  readonly staticSmem: number;
  readonly dynamicSmem: number;
  readonly occupancy: Occupancy;
  /** What one iteration of the main loop covers, e.g. "64 keys" (forward, dQ) or "64 query rows" (dK/dV). */
  readonly loopTile: string | null;
  readonly loop:
    | (InstructionMix & {
        label: string;
        ptxLines: number;
        innerLoops: number;
        repeats: number;
        /** The steady-state path: the loop without its marked cold regions (see MainLoop.hot). */
        hot: InstructionMix;
      })
    | null;
}

const LOOP_TILE: Record<string, (t: Traits) => string> = {
  fwd_kernel: (t) => `${t.bn} keys`,
  fwd_fa2_kernel: (t) => (t.subN && t.subN < t.bn ? `${t.bn} keys (${t.bn / t.subN} × ${t.subN})` : `${t.bn} keys`),
  bwd_dq_kernel: (t) => `${t.bn} keys`,
  bwd_dkdv_kernel: (t) => `${t.bm} query rows`,
  bwd_fa2_dq_kernel: (t) => `${t.bn} keys`,
  bwd_fa2_dkdv_kernel: (t) => `${t.bm} query rows`,
};

export function kernelRows(compilation: Compilation): KernelRow[] {
  const rows: KernelRow[] = [];
  for (const unit of compilation.units) {
    const resources = new Map(parsePtxasVerbose(unit.ptxas).map((r) => [r.entry, r]));
    for (const entry of parsePtxEntries(unit.ptx)) {
      const name = demangleEntry(entry.name);
      const res = resources.get(entry.name);
      if (!name || !res) continue;
      const traits = traitsOf(compilation.traits, name);
      const dynamicSmem = traits?.smem ?? 0;
      const tile = traits && LOOP_TILE[name.kernel];
      // Only the tile kernels have a main loop; the preprocess and convert kernels are element-wise.
      const repeats = traits?.subN ? traits.bn / traits.subN : 1;
      const loop = tile ? mainLoop(entry.lines, repeats) : undefined;
      rows.push({
        entry: entry.name,
        unit: unit.unit,
        kernel: name.kernel,
        flags: name.flags,
        dtype: name.dtype ?? '',
        headDim: name.headDim ?? null,
        registers: res.registers,
        spillStores: res.spillStores,
        spillLoads: res.spillLoads,
        stackFrame: res.stackFrame,
        staticSmem: res.staticSmem,
        dynamicSmem,
        occupancy: occupancySm90(res.registers, entry.maxntid ?? 0, res.staticSmem, dynamicSmem),
        loopTile: loop && tile ? tile(traits) : null,
        loop: loop
          ? {
              label: loop.label,
              ptxLines: loop.end - loop.start + 1,
              innerLoops: loop.innerLoops,
              repeats: loop.repeats,
              ...loop.mix,
              hot: loop.hot,
            }
          : null,
      });
    }
  }
  const order = (r: KernelRow) =>
    [
      Object.keys(TRAITS).indexOf(r.kernel) + 1 || 9,
      DTYPES.indexOf(r.dtype as never),
      r.headDim ?? 0,
      r.flags.reduce((n, f, i) => n + (f ? 1 << i : 0), 0),
    ] as const;
  return rows.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || x[3] - y[3];
  });
}

const kib = (bytes: number) => `${Number((bytes / 1024).toFixed(1))}`;

/** The README's table (markdown). */
export function markdownTable(rows: readonly KernelRow[]): string {
  const head = [
    'kernel',
    'dtype',
    'D',
    'threads',
    'regs',
    'spill st/ld (B)',
    'stack (B)',
    'smem (KiB)',
    'blocks/SM',
    'warps/SM',
    'limit',
    'loop tile',
    'mma',
    'ldmatrix',
    'ld.shared',
    'st.shared',
    'cp.async',
    'ex2',
    'bar',
    'shfl',
    'global',
    'float',
    'int/pred',
    'other',
    'total',
    'hot total',
  ];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) {
    const o = r.occupancy;
    const l = r.loop;
    const mix = l ? MIX_KEYS.map((k) => String(l[k])) : MIX_KEYS.map(() => '–');
    lines.push(
      `| ${[
        `\`${displayName(r)}\``,
        r.dtype,
        r.headDim ?? '–',
        o.threads,
        r.registers,
        `${r.spillStores}/${r.spillLoads}`,
        r.stackFrame,
        kib(r.staticSmem + r.dynamicSmem),
        o.blocksPerSm,
        o.warpsPerSm,
        o.limiter,
        r.loopTile ?? (l ? 'loop' : '–'),
        ...mix,
        l ? l.total : '–',
        l ? l.hot.total : '–',
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}
