/**
 * Pure parts of the static report (scripts/report.ts): the analytic model of a tiling (from plan/config.ts, so it
 * stays true to the kernels), a bank-conflict model, and the parser of Tint's SPIR-V disassembly. No GPU here.
 */
import { rowThreads, sharedFloats, type TileConfig } from '../src/plan/config.js';

/** 32 banks of 4 bytes: the most distinct word addresses of one subgroup-wide load that fall in one bank. */
export function bankWavefronts(words: readonly number[]): number {
  const perBank = new Map<number, Set<number>>();
  for (const w of words) {
    const bank = w % 32;
    perBank.set(bank, (perBank.get(bank) ?? new Set()).add(w));
  }
  return Math.max(0, ...[...perBank.values()].map((s) => s.size));
}

/** Word addresses a 32-lane subgroup (invocations 0…31) reads from the key tile for x = 0, d = 0 in S = Q·Kᵀ. */
export function keyLoadWords(c: TileConfig): number[] {
  const tpr = rowThreads(c);
  // Row width of the key tile the product reads: dK/dV's resident k_tile holds the whole head dim.
  const width = c.kind === 'dkdv' && c.resident ? c.dp : Math.max(c.dc, c.vc);
  const words: number[] = [];
  for (let t = 0; t < Math.min(32, c.wg); t++) {
    const lane = t % tpr;
    if (c.vec4) {
      const stride = width / 4 + 1; // vec4s; row key_pos(4·lane) = lane
      for (let e = 0; e < 4; e++) words.push(lane * stride * 4 + e);
    } else {
      words.push(4 * lane * (width + 1)); // col_of(lane, 0) · KV_TILE_S (K_TILE_S)
    }
  }
  return words;
}

export interface Analytic {
  workgroupBytes: number;
  barriersPerKeyTile: number | null;
  globalFloatsPerKeyTile: number | null;
  wgLoadsPerFmaQK: number | null;
  wgLoadsPerFmaPV: number | null;
  keyLoadBankWavefronts: number | null;
  /** The fewest wavefronts those words could take: distinct words / 32, rounded up. */
  keyLoadMinWavefronts: number | null;
}

/** The forward's per-key-tile model (see the README's Static report); the other kernels get memory and banks. */
export function analytic(c: TileConfig): Analytic {
  const tpr = rowThreads(c);
  const ns = c.bn / tpr;
  const workgroupBytes = sharedFloats(c) * 4;
  const words = keyLoadWords(c);
  const keyLoadBankWavefronts = bankWavefronts(words);
  const keyLoadMinWavefronts = Math.ceil(new Set(words).size / 32);
  if (c.kind !== 'forward') {
    return {
      workgroupBytes,
      barriersPerKeyTile: null,
      globalFloatsPerKeyTile: null,
      wgLoadsPerFmaQK: null,
      wgLoadsPerFmaPV: null,
      keyLoadBankWavefronts,
      keyLoadMinWavefronts,
    };
  }
  return {
    workgroupBytes,
    // Two per staged head-dim chunk of K and of V, three for the row max/sum exchange without subgroups.
    barriersPerKeyTile: (2 * c.dp) / c.dc + (c.subgroupRows ? 0 : 3) + (2 * c.dvp) / c.vc,
    globalFloatsPerKeyTile: c.bn * (c.dp + c.dvp) + (c.resident ? 0 : c.bm * c.dp),
    // Per head-dim column (four with vec4): NS key loads and RM query loads feed RM·NS multiply-adds.
    wgLoadsPerFmaQK: (ns + c.rm) / (c.rm * ns * (c.vec4 ? 4 : 1)),
    // Per key: VC/TPR value loads and RM probability loads (a quarter with vec4) feed RM·VC/TPR.
    wgLoadsPerFmaPV: (c.vc / tpr + c.rm / (c.vec4 ? 4 : 1)) / ((c.rm * c.vc) / tpr),
    keyLoadBankWavefronts,
    keyLoadMinWavefronts,
  };
}

export interface SpirvCounts {
  /** Loops (OpLoopMerge) in the entry point and the functions it calls. */
  loops: number;
  /** `UMin`/`UClamp`/`SClamp` results used as an OpAccessChain index inside a loop (robustness clamps). */
  clamps: number;
  dots: number;
  /** OpUDiv/OpSDiv/OpUMod/OpSMod/OpSRem inside loops, plus calls to Tint's tint_div/tint_mod helpers there. */
  divMod: number;
  /** Function-storage array variables accessed with a non-constant index inside a loop. */
  functionArrays: number;
}

interface Fn {
  name: string;
  lines: string[];
}

const CLAMP = /OpExtInst %\w+ %\w+ (UMin|UClamp|SClamp)\b/;
const DIV = /= Op(UDiv|SDiv|UMod|SMod|SRem) /;
const HELPER = /^%tint_(div|mod)/;

/**
 * Counts in the hot code of one SPIR-V disassembly: instructions lying between a loop's header (OpLoopMerge)
 * and its merge block, in every function, where a function called from hot code is hot as a whole. Tint's own
 * tint_div/tint_mod helpers are counted as the calls to them, not by their bodies.
 */
export function parseSpirv(disasm: string): SpirvCounts {
  const constants = new Set<string>();
  const arrayPointers = new Set<string>();
  const functions: Fn[] = [];
  let current: Fn | undefined;
  for (const raw of disasm.split('\n')) {
    const line = raw.trim();
    const def = /^(%\w+) = (\w+)(.*)$/.exec(line);
    if (def && /^OpConstant|^OpSpecConstant/.test(def[2]!)) constants.add(def[1]!);
    if (def && def[2] === 'OpTypePointer' && /Function %_arr_/.test(def[3]!)) arrayPointers.add(def[1]!);
    if (def && def[2] === 'OpFunction') functions.push((current = { name: def[1]!, lines: [] }));
    else if (line === 'OpFunctionEnd') current = undefined;
    else if (current) current.lines.push(line);
  }
  // Hot lines of each function: within loops; callees of hot lines are hot whole.
  const hotLines = new Map<string, string[]>();
  for (const f of functions) {
    const merges: string[] = [];
    const hot: string[] = [];
    let loops = 0;
    for (const line of f.lines) {
      const label = /^(%\w+) = OpLabel$/.exec(line);
      if (label && merges.includes(label[1]!)) merges.splice(merges.indexOf(label[1]!), 1);
      const merge = /^OpLoopMerge (%\w+)/.exec(line);
      if (merge) {
        merges.push(merge[1]!);
        loops++;
      }
      if (merges.length > 0) hot.push(line);
    }
    hotLines.set(f.name, hot);
    (f as Fn & { loops?: number }).loops = loops;
  }
  const byName = new Map(functions.map((f) => [f.name, f]));
  const wholeHot = new Set<string>();
  const visit = (lines: string[]) => {
    for (const line of lines) {
      const call = /OpFunctionCall %\w+ (%\w+)/.exec(line);
      if (call && !HELPER.test(call[1]!) && !wholeHot.has(call[1]!) && byName.has(call[1]!)) {
        wholeHot.add(call[1]!);
        visit(byName.get(call[1]!)!.lines);
      }
    }
  };
  for (const f of functions) visit(hotLines.get(f.name)!);
  const counts: SpirvCounts = { loops: 0, clamps: 0, dots: 0, divMod: 0, functionArrays: 0 };
  const arrays = new Set<string>();
  const runtimeIndexed = new Set<string>();
  for (const f of functions) {
    if (HELPER.test(f.name)) continue;
    counts.loops += (f as Fn & { loops?: number }).loops ?? 0;
    for (const line of f.lines) {
      const v = /^(%\w+) = OpVariable (%\w+) Function/.exec(line);
      if (v && arrayPointers.has(v[2]!)) arrays.add(v[1]!);
    }
    const clampIds = new Set<string>();
    for (const line of f.lines) {
      const m = /^(%\w+) = /.exec(line);
      if (m && CLAMP.test(line)) clampIds.add(m[1]!);
    }
    for (const line of wholeHot.has(f.name) ? f.lines : hotLines.get(f.name)!) {
      if (/= OpDot /.test(line)) counts.dots++;
      if (DIV.test(line) || /OpFunctionCall %\w+ %tint_(div|mod)/.test(line)) counts.divMod++;
      const chain = /= OpAccessChain %\w+ (%\w+)((?: %\w+)+)$/.exec(line);
      if (chain) {
        const indices = chain[2]!.trim().split(' ');
        counts.clamps += indices.filter((i) => clampIds.has(i)).length;
        if (arrays.has(chain[1]!) && indices.some((i) => !constants.has(i))) runtimeIndexed.add(chain[1]!);
      }
    }
  }
  counts.functionArrays = runtimeIndexed.size;
  return counts;
}

/** Splits Dawn's `dump_shaders` output into the SPIR-V disassemblies it printed, in order. */
export function splitDump(stdout: string): string[] {
  return stdout
    .split('/* Dumped SPIRV disassembly */')
    .slice(1)
    .map((part) => part.split('// Dumped WGSL:')[0]!);
}
