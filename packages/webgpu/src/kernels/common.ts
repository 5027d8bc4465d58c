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
    INPUT_ROWS_WGSL,
    scoreCommonWgsl(c),
    scoreFunctionWgsl(f),
    extraConstants,
    sharedWgsl(c),
    c.vec4 ? KEY_POS_WGSL : '',
  ].join('\n');
}

/**
 * Where row `(token, head)` of q, k and v starts in its binding, from the layouts in `Params`: the inputs may be
 * strided views (the parts of a packed `qkv: (T, 3, H, D)` are three views of one buffer), and only the head dim
 * is contiguous. The loads stay scalar in every tiling (vec4 tiles are a workgroup-memory format, filled four
 * scalar loads at a time), so a layout needs no alignment, 16-bit loads pick the half from the element index,
 * and layouts are uniforms rather than part of any pipeline key.
 */
const INPUT_ROWS_WGSL = /* wgsl */ `
fn q_row(token: u32, head: u32) -> u32 { return p.q_offset + token * p.q_token_stride + head * p.q_head_stride; }
fn k_row(token: u32, head: u32) -> u32 { return p.k_offset + token * p.k_token_stride + head * p.k_head_stride; }
fn v_row(token: u32, head: u32) -> u32 { return p.v_offset + token * p.v_token_stride + head * p.v_head_stride; }`;

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
  /** vec4 tiles only: where block row `rr` goes in the tile, for swizzled layouts (an expression of `rr`). */
  readonly rowPosition?: string;
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

/**
 * `stageLoad` into an array of vec4: each invocation fills four consecutive columns of a row with one store.
 * `width` and `targetColumn` must be multiples of 4.
 */
export function stageLoad4(s: StageLoad): string {
  return /* wgsl */ `
      for (var e = t; e < ${s.rows} * (${s.width} / 4u); e = e + WG) {
        let rr = e / (${s.width} / 4u);
        let d0 = 4u * (e % (${s.width} / 4u));
        var x = vec4<f32>(0.0);
        for (var k = 0u; k < 4u; k = k + 1u) {
          let d = d0 + k;
          if (rr < ${s.rowLimit} && ${s.column} + d < ${s.columnLimit}) {
            x[k] = ${s.load};
          }
        }
        ${s.target}[${s.rowPosition ?? 'rr'} * ${s.stride} + (${s.targetColumn ?? '0u'} + d0) / 4u] = x;
      }`;
}

export interface ScoreProduct {
  /** Accumulator of `RM × NS` scores (`acc[u * NS + x]`: owned row u, key column `col_of(lane, x)`). */
  readonly acc: string;
  /** Width of the staged chunk (a constant such as `DC`). */
  readonly width: string;
  /**
   * The owned row u's element at chunk column `d` (scalar tiles) or its vec4 at `d / 4` (vec4 tiles), as an
   * expression of the loop variables `u` and `d` (`d4` with vec4 tiles).
   */
  readonly row: string;
  /** The staged key rows' tile, its row stride constant, and the column the chunk starts at (scalar columns). */
  readonly keys: string;
  readonly keysStride: string;
  readonly keysColumn?: string;
  /** vec4 tiles, key rows stored at `key_pos` (see forwardWgsl). */
  readonly vec4: boolean;
}

/**
 * `acc[u, x] += row(u) · key(col_of(lane, x))` over one staged chunk (S = Q·Kᵀ, dP = dO·Vᵀ). Each value read
 * from workgroup memory feeds RM or NS multiply-adds. With vec4 tiles a load brings four columns, and the key rows
 * one x asks for across the lanes (keys 4·lane + const) are stored as consecutive rows (`key_pos`), which with a
 * stride of an odd number of vec4s sit in different banks.
 */
export function scoreProduct(sp: ScoreProduct): string {
  if (sp.vec4) {
    return /* wgsl */ `
      for (var d4 = 0u; d4 < ${sp.width} / 4u; d4 = d4 + 1u) {
        var kd: array<vec4<f32>, NS>;
        for (var x = 0u; x < NS; x = x + 1u) {
          kd[x] = ${sp.keys}[((x & 3u) * (BN / 4u) + lane + TPR * (x >> 2u)) * ${sp.keysStride} + ${sp.keysColumn ? `${sp.keysColumn} / 4u + ` : ''}d4];
        }
        for (var u = 0u; u < RM; u = u + 1u) {
          let a = ${sp.row};
          for (var x = 0u; x < NS; x = x + 1u) {
            ${sp.acc}[u * NS + x] = ${sp.acc}[u * NS + x] + dot(a, kd[x]);
          }
        }
      }`;
  }
  return /* wgsl */ `
      for (var d = 0u; d < ${sp.width}; d = d + 1u) {
        var kd: array<f32, NS>;
        for (var x = 0u; x < NS; x = x + 1u) {
          kd[x] = ${sp.keys}[col_of(lane, x) * ${sp.keysStride} + ${sp.keysColumn ? `${sp.keysColumn} + ` : ''}d];
        }
        for (var u = 0u; u < RM; u = u + 1u) {
          let a = ${sp.row};
          for (var x = 0u; x < NS; x = x + 1u) {
            ${sp.acc}[u * NS + x] = ${sp.acc}[u * NS + x] + a * kd[x];
          }
        }
      }`;
}

/** WGSL of `key_pos`: where key row `col` of a vec4 tile is stored (see scoreProduct). */
const KEY_POS_WGSL = 'fn key_pos(col: u32) -> u32 { return (col & 3u) * (BN / 4u) + (col >> 2u); }';

/**
 * How a kernel with configuration `c` stages tiles: `stage` writes scalar or vec4 tiles, and `keyRows` (spread
 * into the staging of rows that score products read as keys) places them at `key_pos` with vec4 tiles.
 */
export function tileStaging(c: TileConfig): {
  readonly stage: (s: StageLoad) => string;
  readonly keyRows: { readonly rowPosition?: string };
} {
  return c.vec4 ? { stage: stageLoad4, keyRows: { rowPosition: 'key_pos(rr)' } } : { stage: stageLoad, keyRows: {} };
}

export interface WeightedKeySum {
  /** Accumulator of `perRow` values per owned row: row u's column `lane + TPR · c` of this chunk is at
   * `u * perRow + chunk / TPR + c`. */
  readonly acc: string;
  readonly perRow: string;
  /** Workgroup array of per-(row, key) weights (P, dS) and its row stride constant. */
  readonly weights: string;
  readonly weightsStride: string;
  /** First column and width of the chunk of keys' rows staged in `kv_tile`. */
  readonly chunk: string;
  readonly width: string;
  /** `kv_tile` is vec4 with key rows at `key_pos` (read as scalars here). */
  readonly vec4?: boolean;
  /** The key rows are at `key_pos` (they were staged for a score product with vec4 tiles). */
  readonly swizzled?: boolean;
}

/**
 * `acc[row] += Σ_key weights[row, key] · kv_tile[key]` over the staged keys (O += P·V, dQ += dS·K), one key at a
 * time: each lane reads its columns of the key's row once and uses them for all of its rows.
 */
export function weightedKeySum(w: WeightedKeySum): string {
  return /* wgsl */ `
      for (var jj = 0u; jj < cols; jj = jj + 1u) {
        var kv_row: array<f32, ${w.width} / TPR>;
        for (var c = 0u; c < ${w.width} / TPR; c = c + 1u) {
          ${
            w.vec4
              ? `let col = lane + TPR * c;
          kv_row[c] = kv_tile[${w.swizzled ? 'key_pos(jj)' : 'jj'} * KV_TILE_S + col / 4u][col % 4u];`
              : 'kv_row[c] = kv_tile[jj * KV_TILE_S + lane + TPR * c];'
          }
        }
        for (var u = 0u; u < RM; u = u + 1u) {
          let weight = ${w.weights}[(rg + RG * u) * ${w.weightsStride} + jj];
          for (var c = 0u; c < ${w.width} / TPR; c = c + 1u) {
            ${w.acc}[u * ${w.perRow} + ${w.chunk} / TPR + c] = ${w.acc}[u * ${w.perRow} + ${w.chunk} / TPR + c] + weight * kv_row[c];
          }
        }
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

/**
 * The opening of a kernel with one workgroup per (query tile, head) item, shared by the forward and dQ kernels
 * (same item list, same layout): decodes the item and the sequence bounds it covers. Returns early for the
 * padding workgroups of a grid rounded up to two dimensions.
 */
export function queryTileItem(): string {
  return `  let linear = wid.x + wid.y * p.grid_x;
  if (linear >= p.num_items * p.num_heads) {
    return;
  }
  let item = linear / p.num_heads;
  let h = linear % p.num_heads;
  let b = item_word(item, 0u);
  let row0 = item_word(item, 1u);
  let kt0 = item_word(item, 2u);
  let kt1 = item_word(item, 3u);
  let ft0 = item_word(item, 4u);
  let ft1 = item_word(item, 5u);
  let q_start = seq_start_q(b);
  let lq = seq_len_q(b);
  let k_start = seq_start_k(b);
  let lk = seq_len_k(b);
  let rows = min(BM, lq - row0);
  let kvh = h / p.group_size;
  let head_dim = p.head_dim;
  let head_dim_v = p.head_dim_v;`;
}
