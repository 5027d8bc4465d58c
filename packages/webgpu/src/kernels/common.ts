import type { TileConfig } from '../plan/config.js';
import { sharedWgsl } from '../plan/config.js';
import { type BindingSpec, bindingsWgsl } from '../wgsl/bindings.js';
import { NUMBERS_WGSL } from '../wgsl/numbers.js';
import { PARAMS_WGSL } from '../wgsl/params.js';
import { PHILOX_WGSL } from '../wgsl/philox.js';
import { type ScoreFeatures, scoreCommonWgsl, scoreFunctionWgsl } from '../wgsl/scores.js';

/** Everything an attention kernel declares before `main`: helpers, uniforms, bindings, constants, tiles. */
export function attentionPrelude(
  c: TileConfig,
  bindings: readonly BindingSpec[],
  f: ScoreFeatures,
  extraConstants: string,
): string {
  return [
    NUMBERS_WGSL,
    f.dropout ? PHILOX_WGSL : '',
    PARAMS_WGSL,
    bindingsWgsl(bindings),
    scoreCommonWgsl(c),
    scoreFunctionWgsl(f),
    extraConstants,
    sharedWgsl(c),
  ].join('\n');
}

export interface StageLoad {
  /** Workgroup array to fill, its row stride constant, and the column it starts at. */
  readonly target: string;
  readonly stride: string;
  readonly targetColumn?: string;
  /** Rows and columns of the block (compile-time constants). */
  readonly rows: string;
  readonly width: string;
  /** Rows and columns past these (row `rr`, column `column + d`) read as zeros. */
  readonly rowLimit: string;
  readonly column: string;
  readonly columnLimit: string;
  /** The load expression, in terms of `rr` (row in the block) and `d` (column in the block). */
  readonly load: string;
}

/**
 * Cooperative copy of a `rows × width` block from a tensor into workgroup memory, zero-filling outside the
 * sequence or past the head dim so that padded rows and columns contribute nothing to any product.
 */
export function stageLoad(s: StageLoad): string {
  return /* wgsl */ `
      for (var e = t; e < ${s.rows} * ${s.width}; e = e + WG) {
        let rr = e / ${s.width};
        let d = e % ${s.width};
        var x = 0.0;
        if (rr < ${s.rowLimit} && ${s.column} + d < ${s.columnLimit}) {
          x = ${s.load};
        }
        ${s.target}[rr * ${s.stride} + ${s.targetColumn ?? '0u'} + d] = x;
      }`;
}

/** `var name: array<f32, size>` zeroed explicitly: some compilers do not re-zero a var declared in a loop. */
export function zeroedArray(name: string, size: string, indent = '  '): string {
  return `${indent}var ${name}: array<f32, ${size}>;
${indent}for (var z = 0u; z < ${size}; z = z + 1u) {
${indent}  ${name}[z] = 0.0;
${indent}}`;
}

/** Dropout words of keys `4 * group .. 4 * group + 3` of row `i`: counter (group, i, h, b), key = the seed. */
export function dropoutWords(group: string): string {
  return `let words = philox4x32(vec4<u32>(${group}, u32(i), h, b), vec2<u32>(p.seed_lo, p.seed_hi));`;
}
