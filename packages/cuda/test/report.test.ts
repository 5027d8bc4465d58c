import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Compilation,
  classifyOpcode,
  compile,
  demangleEntry,
  displayName,
  findLoops,
  findNvcc,
  instructionMix,
  kernelRows,
  mainLoop,
  markdownTable,
  occupancySm90,
  opcodeOf,
  parsePtxasVerbose,
  parsePtxEntries,
  parsePtxGlobals,
  withoutColdRegions,
} from '../scripts/static-report.js';

// Shaped like nvcc 13's output for the kernels (trimmed): a header, a global, one entry with a loop.
const PTX = `
.version 9.0
.target sm_90
.address_size 64
.visible .global .align 4 .u32 fa_fwd_kernel_F16_128_kSmemBytes = 87040;
.visible .global .align 4 .u32 fa_fwd_kernel_F16_128_kBN = 64;
.extern .shared .align 16 .b8 _ZN2fa4smemE[];

.visible .entry _ZN2fa10fwd_kernelINS_3F16ELi128EEEvNS_10AttnParamsE(
\t.param .align 8 .b8 _ZN2fa10fwd_kernelINS_3F16ELi128EEEvNS_10AttnParamsE_param_0[512]
)
.maxntid 128, 1, 1
{
\t.reg .pred \t%p<3>;
\t.reg .b32 \t%r<20>;
\tmov.u32 \t%r1, %tid.x;
\tsetp.lt.s32 \t%p1, %r1, 7;
\t@%p1 bra \t$L__BB0_3;
$L__BB0_1:
\tcp.async.cg.shared.global [%r2], [%rd1], 16, %r3;
\tcp.async.commit_group;
\tbar.sync \t0;
\tld.shared.u32 \t%r4, [%r2];
\tldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%r5, %r6}, [%r2];
\tmma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%f1, %f2, %f3, %f4}, {%r4, %r4, %r4, %r4}, {%r5, %r6}, {%f1, %f2, %f3, %f4};
$L__BB0_2:
\tfma.rn.f32 \t%f5, %f1, %f2, %f3;
\tex2.approx.ftz.f32 \t%f6, %f5;
\tadd.s32 \t%r7, %r7, 1;
\tsetp.lt.s32 \t%p2, %r7, 4;
\t@%p2 bra \t$L__BB0_2;
\tst.shared.f32 \t[%r2], %f6; // a comment
\tshfl.sync.bfly.b32 \t%r8, %r7, 1, 31, -1;
\tcvt.rn.f16.f32 \t%rs1, %f6;
\t@!%p1 bra.uni \t$L__BB0_1;
$L__BB0_3:
\tst.global.f32 \t[%rd2], %f6;
\tret;

}
`;

const PTXAS = `ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function '_ZN2fa10fwd_kernelINS_3F16ELi128EEEvNS_10AttnParamsE' for 'sm_90'
ptxas info    : Function properties for _ZN2fa10fwd_kernelINS_3F16ELi128EEEvNS_10AttnParamsE
    8 bytes stack frame, 4 bytes spill stores, 8 bytes spill loads
ptxas info    : Used 168 registers, used 1 barriers, 8 bytes cumulative stack size, 16 bytes smem
ptxas info    : Compile time = 507.478 ms
ptxas info    : Compiling entry function '_ZN2fa21bwd_dq_convert_kernelINS_3F32EEEvNS_10AttnParamsE' for 'sm_90'
ptxas info    : Function properties for _ZN2fa21bwd_dq_convert_kernelINS_3F32EEEvNS_10AttnParamsE
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 10 registers
`;

describe('static report parsers (embedded samples)', () => {
  it('demangles fa::kernel<dtype, dim> entries', () => {
    expect(demangleEntry('_ZN2fa10fwd_kernelINS_3F16ELi128EEEvNS_10AttnParamsE')).toEqual({
      kernel: 'fwd_kernel',
      dtype: 'F16',
      headDim: 128,
      flags: [],
    });
    expect(demangleEntry('_ZN2fa14fwd_fa2_kernelINS_4BF16ELi128ELb1ELb0EEEvNS_10AttnParamsE')).toEqual({
      kernel: 'fwd_fa2_kernel',
      dtype: 'BF16',
      headDim: 128,
      flags: [true, false],
    });
    expect(displayName({ kernel: 'fwd_fa2_kernel', flags: [true, false, true] })).toBe('fwd_fa2_kernel (window)');
    expect(displayName({ kernel: 'fwd_fa2_kernel', flags: [false, false, true] })).toBe('fwd_fa2_kernel (plain)');
    expect(displayName({ kernel: 'fwd_fa2_kernel', flags: [true, true, false] })).toBe(
      'fwd_fa2_kernel (window, extras, element-wise loads)',
    );
    expect(displayName({ kernel: 'fwd_kernel', flags: [] })).toBe('fwd_kernel');
    expect(demangleEntry('_ZN2fa15bwd_dkdv_kernelINS_4BF16ELi96EEEvNS_10AttnParamsE')).toEqual({
      kernel: 'bwd_dkdv_kernel',
      dtype: 'BF16',
      headDim: 96,
      flags: [],
    });
    expect(demangleEntry('_ZN2fa21bwd_dq_convert_kernelINS_3F32EEEvNS_10AttnParamsE')).toEqual({
      kernel: 'bwd_dq_convert_kernel',
      dtype: 'F32',
      headDim: undefined,
      flags: [],
    });
    expect(demangleEntry('_ZN2fa19bwd_fa2_dkdv_kernelINS_4BF16ELi128ELb1ELb0EEEvNS_10AttnParamsE')).toEqual({
      kernel: 'bwd_fa2_dkdv_kernel',
      dtype: 'BF16',
      headDim: 128,
      flags: [true, false],
    });
    expect(demangleEntry('_Z3foov')).toBeUndefined();
  });

  it('reads registers, spills, stack and static shared memory from ptxas -v', () => {
    const [fwd, convert, ...rest] = parsePtxasVerbose(PTXAS);
    expect(rest).toEqual([]);
    expect(fwd).toEqual({
      entry: '_ZN2fa10fwd_kernelINS_3F16ELi128EEEvNS_10AttnParamsE',
      registers: 168,
      spillStores: 4,
      spillLoads: 8,
      stackFrame: 8,
      staticSmem: 16,
      barriers: 1,
    });
    expect(convert).toMatchObject({ registers: 10, spillStores: 0, staticSmem: 0, barriers: 0 });
  });

  it('splits PTX into entries with their thread counts, and reads integer globals', () => {
    const [entry, ...rest] = parsePtxEntries(PTX);
    expect(rest).toEqual([]);
    expect(entry?.name).toBe('_ZN2fa10fwd_kernelINS_3F16ELi128EEEvNS_10AttnParamsE');
    expect(entry?.maxntid).toBe(128);
    expect(entry?.lines[0]?.trim()).toBe('{');
    expect(entry?.lines.at(-1)).toBe('}');
    expect(parsePtxGlobals(PTX)).toEqual(
      new Map([
        ['fa_fwd_kernel_F16_128_kSmemBytes', 87040],
        ['fa_fwd_kernel_F16_128_kBN', 64],
      ]),
    );
  });

  it('classifies opcodes', () => {
    expect(classifyOpcode('mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32')).toBe('mma');
    expect(classifyOpcode('ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16')).toBe('ldmatrix');
    expect(classifyOpcode('ld.shared.v2.u32')).toBe('ldShared');
    expect(classifyOpcode('st.shared.u16')).toBe('stShared');
    expect(classifyOpcode('cp.async.cg.shared.global')).toBe('cpAsync');
    expect(classifyOpcode('cp.async.wait_group')).toBe('other');
    expect(classifyOpcode('ex2.approx.ftz.f32')).toBe('ex2');
    expect(classifyOpcode('bar.sync')).toBe('barSync');
    expect(classifyOpcode('atom.global.add.f32')).toBe('global');
    expect(classifyOpcode('fma.rn.f32')).toBe('float');
    expect(classifyOpcode('setp.gt.f32')).toBe('intPred');
    expect(classifyOpcode('mad.lo.s32')).toBe('intPred');
    expect(classifyOpcode('cvt.rn.f16.f32')).toBe('other');
    // Inline asm in braces (cuda_bf16.hpp's pair conversion) is an instruction too; a scope brace is not.
    expect(opcodeOf('\t{ cvt.rn.bf16x2.f32 %r601, %f252, %f251;}')).toBe('cvt.rn.bf16x2.f32');
    expect(opcodeOf('\t{')).toBeUndefined();
    expect(opcodeOf('\t{ .reg .pred %p1;')).toBeUndefined();
  });

  it('finds back edges and picks the loop with the products, counting its body', () => {
    const entry = parsePtxEntries(PTX)[0];
    if (!entry) throw new Error('no entry');
    const loops = findLoops(entry.lines);
    expect(loops.map((l) => l.label)).toEqual(['$L__BB0_2', '$L__BB0_1']);
    const loop = mainLoop(entry.lines);
    expect(loop?.label).toBe('$L__BB0_1');
    expect(loop?.innerLoops).toBe(1);
    expect(loop?.mix).toEqual({
      mma: 1,
      ldmatrix: 1,
      ldShared: 1,
      stShared: 1,
      cpAsync: 1,
      ex2: 1,
      barSync: 1,
      shfl: 1,
      global: 0,
      float: 1,
      intPred: 4, // add, setp, and the two bra
      other: 2, // commit_group, cvt
      total: 15,
    });
    expect(instructionMix(['$L__BB0_9:', '\t// only a comment', '\t.reg .b32 %r<3>;']).total).toBe(0);
    // Without cold regions and without sub-tiles, the steady-state path is the whole body.
    expect(loop?.hot).toEqual(loop?.mix);
    expect(loop?.repeats).toBe(1);
  });

  it('counts a sub-tile loop once per sub-tile and leaves cold regions out of the steady-state path', () => {
    const lines = [
      '$L__BB1_1:', // tile loop
      '\tbar.sync 0;',
      '$L__BB1_2:', // sub-tile loop
      '\tmma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%f1}, {%r1}, {%r2}, {%f1};',
      '\t// begin inline asm',
      '\t// fa-cold-begin',
      '\t// end inline asm',
      '\tmul.f32 %f2, %f2, %f3;',
      '\t// fa-cold-end',
      '\t@%p1 bra $L__BB1_2;',
      '\t@%p2 bra $L__BB1_1;',
    ];
    expect(withoutColdRegions(lines)).not.toContain('\tmul.f32 %f2, %f2, %f3;');
    const once = mainLoop(lines);
    expect(once?.label).toBe('$L__BB1_2');
    const tile = mainLoop(lines, 2);
    expect(tile?.label).toBe('$L__BB1_1');
    expect(tile?.repeats).toBe(2);
    // bar and the outer bra once; mma, mul and the inner bra twice.
    expect(tile?.mix).toMatchObject({ mma: 2, barSync: 1, float: 2, intPred: 3, total: 8 });
    expect(tile?.hot).toMatchObject({ mma: 2, barSync: 1, float: 0, intPred: 3, total: 6 });
  });

  it('computes sm_90 occupancy by the stated rules', () => {
    // 168 regs × 32 = 5376 per warp; 16384 / 5376 = 3 warps per sub-partition, 12 per SM: 3 blocks of 4 warps.
    // 85 KiB + 1 KiB reserved = 86 KiB per block: 2 blocks in 228 KiB.
    expect(occupancySm90(168, 128, 0, 85 * 1024)).toMatchObject({
      warpsPerBlock: 4,
      blocksByRegs: 3,
      blocksBySmem: 2,
      blocksPerSm: 2,
      warpsPerSm: 8,
      limiter: 'shared memory',
    });
    expect(occupancySm90(10, 256, 0, 0)).toMatchObject({ blocksPerSm: 8, warpsPerSm: 64, limiter: '64 warps' });
    expect(occupancySm90(16, 32, 0, 0)).toMatchObject({ blocksPerSm: 32, limiter: '32 blocks' });
    expect(occupancySm90(64, 128, 0, 228 * 1024)).toMatchObject({ blocksPerSm: 0, limiter: 'does not fit' });
  });
});

// The real thing: compile one translation unit (f16: forward, dK/dV and dQ on mma.sync) and parse it.
const nvcc = findNvcc();
const required = process.env.FA_REQUIRE_CUDA_BUILD === '1';
const skipReason = nvcc ? undefined : 'nvcc not found (PATH, CUDACXX, CUDA_HOME, /usr/local/cuda): no PTX to parse';
if (skipReason && required) throw new Error(`FA_REQUIRE_CUDA_BUILD=1 but ${skipReason}`);

describe.skipIf(!nvcc)(`static report on the real PTX${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let compilation: Compilation;
  beforeAll(async () => {
    if (!nvcc) return;
    compilation = await compile(nvcc, mkdtempSync(join(tmpdir(), 'fa-cuda-report-')), ['launch_f16.cu']);
  }, 300_000);

  it('finds every f16 kernel with registers, threads, shared memory and an mma loop', () => {
    const rows = kernelRows(compilation);
    // Per head-dim bucket: the baseline forward, dQ and dK/dV; the fa2 forward's five instantiations (window x
    // extras with cp.async loads, and the generic one with element-wise loads); the fa2 backward's dQ and dK/dV in
    // three each (plain, window, window + extras); plus the two element-wise kernels.
    expect(rows.length).toBe(6 * 3 + 6 * 5 + 6 * 2 * 3 + 2);
    for (const row of rows) {
      expect(row.dtype).toBe('F16');
      expect(row.registers).toBeGreaterThan(0);
      expect(row.occupancy.threads).toBeGreaterThan(0);
      expect(row.occupancy.blocksPerSm).toBeGreaterThan(0);
    }
    const tiled = rows.filter((r) => r.headDim !== null);
    expect(new Set(tiled.map((r) => r.kernel))).toEqual(
      new Set([
        'fwd_kernel',
        'fwd_fa2_kernel',
        'bwd_dq_kernel',
        'bwd_dkdv_kernel',
        'bwd_fa2_dq_kernel',
        'bwd_fa2_dkdv_kernel',
      ]),
    );
    const fa2Backward = tiled.filter((r) => r.kernel.startsWith('bwd_fa2_'));
    expect(new Set(fa2Backward.map((r) => displayName(r).replace(/^\S+ /, '')))).toEqual(
      new Set(['(plain)', '(window)', '(window, extras)']),
    );
    // The fa2 dK/dV kernel's design point: two 256-thread blocks per SM on sm_90 up to D = 128, without spills.
    for (const row of fa2Backward.filter((r) => r.kernel === 'bwd_fa2_dkdv_kernel' && (r.headDim ?? 0) <= 128)) {
      expect(row.occupancy.blocksPerSm, row.entry).toBeGreaterThanOrEqual(2);
      expect(row.spillStores + row.spillLoads, row.entry).toBe(0);
    }
    for (const row of tiled) {
      expect(row.dynamicSmem, row.entry).toBeGreaterThan(0);
      expect(row.loop?.mma, row.entry).toBeGreaterThan(0);
      expect(row.loop?.ldmatrix, row.entry).toBeGreaterThan(0);
      expect(row.loopTile, row.entry).toMatch(/^(32|64) (keys|query rows)( \(2 × 32\))?$/);
      expect(row.loop?.hot.total, row.entry).toBeLessThanOrEqual(row.loop?.total ?? 0);
    }
    // The forward at D = 128 multiplies a 16-row warp slice by 64 keys twice (S = QKᵀ, then PV): 2 × 64 mma.
    const fwd128 = tiled.find((r) => r.kernel === 'fwd_kernel' && r.headDim === 128);
    expect(fwd128?.loop?.mma).toBe(128);
    // The fa2 forward at D = 128: 32 rows per warp (two atoms) by 64 keys, in two 32-key sub-tiles: 2 × 128 mma,
    // K and Q through ldmatrix.x4, V through .x4.trans; its plain instantiation has cold regions (boundary masking,
    // rescaling), so the steady-state path is shorter than the static body.
    const fa2 = tiled.find(
      (r) => r.kernel === 'fwd_fa2_kernel' && r.headDim === 128 && r.flags.every((f, i) => f === (i === 2)),
    );
    expect(fa2?.flags).toEqual([false, false, true]);
    expect(fa2?.loop?.mma).toBe(256);
    expect(fa2?.loop?.repeats).toBe(2);
    expect(fa2?.loop?.ldmatrix).toBe(96);
    expect(fa2?.loop?.hot.total).toBeLessThan(fa2?.loop?.total ?? 0);
    expect(markdownTable(rows).split('\n')).toHaveLength(rows.length + 2);
  });
});
