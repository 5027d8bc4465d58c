import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  entries,
  fitWorkgroupArrays,
  markdown,
  README_MARKERS,
  type Row,
  spirvCounts,
  TOGGLE_SETS,
} from '../scripts/report.js';
import { analytic, bankWavefronts, parseSpirv, splitDump } from '../scripts/static-report.js';
import { chooseTileConfig } from '../src/plan/config.js';

/** A trimmed Tint dump: a clamp, a tint_mod call, a runtime-indexed Function array and an OpDot in a loop. */
const SAMPLE = `
     %uint_0 = OpConstant %uint 0
     %uint_4 = OpConstant %uint 4
%_ptr_Function__arr_float_uint_4 = OpTypePointer Function %_arr_float_uint_4
 %main_inner = OpFunction %void None %16
          %i = OpFunctionParameter %uint
         %17 = OpLabel
          %o = OpVariable %_ptr_Function__arr_float_uint_4 Function %38
          %k = OpVariable %_ptr_Function_uint Function
         %26 = OpExtInst %uint %27 UMin %i %24
         %28 = OpAccessChain %_ptr_StorageBuffer_float %7 %uint_0 %26
         %49 = OpAccessChain %_ptr_Function_float %o %uint_0
               OpBranch %42
         %42 = OpLabel
               OpLoopMerge %43 %41 None
               OpBranch %40
         %40 = OpLabel
         %66 = OpFunctionCall %uint %tint_mod_u32 %65 %uint_4
         %68 = OpAccessChain %_ptr_Function_float %o %66
         %70 = OpExtInst %uint %27 UMin %66 %24
         %73 = OpAccessChain %_ptr_Workgroup_float %t %70
         %74 = OpDot %float %a %b
         %75 = OpFunctionCall %float %helper %74
               OpBranch %41
         %41 = OpLabel
               OpBranch %42
         %43 = OpLabel
         %53 = OpUDiv %uint %i %52
               OpReturn
               OpFunctionEnd
%tint_mod_u32 = OpFunction %uint None %80
         %84 = OpUDiv %uint %lhs %83
               OpFunctionEnd
     %helper = OpFunction %float None %81
         %90 = OpSMod %int %x %y
               OpFunctionEnd
`;

describe('static report parsers', () => {
  it('counts hot-loop clamps, OpDot, div/mod and runtime-indexed Function arrays', () => {
    // Outside the loop: one clamp and one OpUDiv (not counted). Inside: one clamp, one OpDot, one tint_mod call,
    // and a call to `helper`, whose OpSMod is hot; tint_mod's own OpUDiv is not counted.
    expect(parseSpirv(SAMPLE)).toEqual({ loops: 1, clamps: 1, dots: 1, divMod: 2, functionArrays: 1 });
    expect(parseSpirv('')).toEqual({ loops: 0, clamps: 0, dots: 0, divMod: 0, functionArrays: 0 });
  });

  it('splits a dump into its SPIR-V parts', () => {
    const dump = `info:\n// Dumped WGSL:\nfn a() {}\ninfo:\n/* Dumped SPIRV disassembly */\nA\n// Dumped WGSL:\nx\n/* Dumped SPIRV disassembly */\nB\n`;
    expect(splitDump(dump).map((s) => s.trim())).toEqual(['A', 'B']);
  });

  it('counts bank wavefronts as the most distinct words in one bank', () => {
    expect(bankWavefronts(Array.from({ length: 32 }, (_, i) => i))).toBe(1);
    expect(bankWavefronts([0, 0, 0, 32, 64])).toBe(3);
    // Keys 4·lane with a row stride of 65 floats: lanes l and l + 8 share a bank (the default forward's K loads).
    expect(bankWavefronts(Array.from({ length: 16 }, (_, l) => 4 * l * 65))).toBe(2);
    expect(bankWavefronts(Array.from({ length: 16 }, (_, l) => l * 65))).toBe(1);
  });

  it('halves workgroup arrays only until they fit', () => {
    const code = 'var<workgroup> a: array<f32, 6000>;\nvar<workgroup> b: array<vec4<f32>, 1000>;';
    expect(fitWorkgroupArrays(code, 65536)).toBe(code);
    expect(fitWorkgroupArrays(code, 32768)).toBe(
      'var<workgroup> a: array<f32, 3000>;\nvar<workgroup> b: array<vec4<f32>, 500>;',
    );
  });
});

const DIR = new URL('../../../benchmarks/', import.meta.url);
const latest = readdirSync(DIR)
  .filter((f) => /^webgpu-static-\d{4}-\d\d-\d\d\.json$/.test(f))
  .sort()
  .at(-1);

describe('static report of the generated kernels', () => {
  it('has a committed report', () => expect(latest).toBeDefined());
  const committed = JSON.parse(readFileSync(new URL(latest!, DIR), 'utf8')) as { rows: Row[] };
  const list = entries();

  it('the analytic model matches the committed report (regenerate it when the tiling changes)', () => {
    expect(list.map((e) => `${e.kernel} ${e.variant} ${e.d} ${e.dtype} ${e.config}`)).toEqual(
      committed.rows.map((r) => `${r.kernel} ${r.variant} ${r.d} ${r.dtype} ${r.config}`),
    );
    const forward = chooseTileConfig('forward', 128, 128, {
      workgroupStorageBytes: 49152,
      invocations: 1024,
      subgroupWidth: 32,
    });
    expect(analytic(forward)).toMatchObject({ barriersPerKeyTile: 12, keyLoadBankWavefronts: 2 });
  });

  it("the README's table is the committed report's", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const [start, end] = README_MARKERS;
    expect(readme.slice(readme.indexOf(start) + start.length, readme.indexOf(end)).trim()).toBe(
      markdown(committed.rows),
    );
  });

  it.each(Object.entries(TOGGLE_SETS))(
    'hot loops, %s: no clamp and no runtime-indexed Function array more than the committed baseline',
    (name, toggles) => {
      const counts = spirvCounts(list, toggles);
      if (typeof counts === 'string') throw new Error(counts);
      counts.forEach((c, i) => {
        const row = `${list[i]!.kernel} ${list[i]!.variant} D=${list[i]!.d} ${list[i]!.dtype}`;
        const base = committed.rows[i]!.spirv[name]!;
        expect(c.loops, `${row}: the parser found loops`).toBeGreaterThan(0);
        expect(c.clamps, `${row}: clamps in hot loops`).toBeLessThanOrEqual(base.clamps);
        expect(c.functionArrays, `${row}: runtime-indexed Function arrays`).toBeLessThanOrEqual(base.functionArrays);
      });
      // With robustness on, the parser must see the clamps it is there to count.
      if (name === 'default') expect(counts.reduce((sum, c) => sum + c.clamps, 0)).toBeGreaterThan(0);
    },
    120_000,
  );
});
