import type { FloatDType } from '@fa/core';
import { keyThreads, type TileConfig } from '../plan/config.js';
import type { BindingSpec } from '../wgsl/bindings.js';
import type { ScoreFeatures } from '../wgsl/scores.js';
import { attentionPrelude, dropoutWords, scoreProduct, tileStaging, zeroedArray } from './common.js';

export function dkdvBindings(dtype: FloatDType): BindingSpec[] {
  return [
    { name: 'p', kind: { type: 'uniform' } },
    { name: 'info', kind: { type: 'words-in' } },
    { name: 'q', kind: { type: 'tensor-in', dtype } },
    { name: 'k', kind: { type: 'tensor-in', dtype } },
    { name: 'v', kind: { type: 'tensor-in', dtype } },
    { name: 'dout', kind: { type: 'tensor-in', dtype } },
    { name: 'stats', kind: { type: 'words-in' } },
    { name: 'dk', kind: { type: 'tensor-out', dtype } },
    { name: 'dv', kind: { type: 'tensor-out', dtype } },
  ];
}

/**
 * dK and dV, one workgroup per (key tile, key/value head), looping over the query heads of its GQA group and,
 * for each, over the query rows that see the tile: recompute S and P = exp(S − lse), dP = dO Vᵀ and
 * dS = P ∘ (dP − D), then dV += (P ∘ Z)ᵀ dO and dK += scale · dSᵀ Q. The group's heads are summed inside the
 * workgroup, in a fixed order, so no atomics are needed and results are deterministic.
 * Item words: (sequence, first key of the tile, first query row that sees it, end of those rows).
 *
 * Score phase: the forward's layout (row group `t / TPR`, rows `rg + RG * u`, key columns `col_of(lane, x)`).
 * Accumulation phase: key group `kg = t / TPC` owns keys `kg + KG * v` (v < KM), lane `t % TPC` owns head-dim
 * columns `lane2 + TPC * y`.
 */
export function dkdvWgsl(c: TileConfig, dtype: FloatDType, f: ScoreFeatures): string {
  const tpc = keyThreads(c);
  const res = c.resident;
  // The dO chunk staged last for dP is the whole dO tile when VC == DVP, and dV += Pᵀ dO can reuse it.
  const reuseDo = c.vc === c.dvp;
  const qIndex = 'q_row(q_start + row_start + rr, h)';
  const doIndex = '((q_start + row_start + rr) * p.num_heads + h) * head_dim_v';
  const kIndex = 'k_row(k_start + col0 + rr, kvh)';
  const vIndex = 'v_row(k_start + col0 + rr, kvh)';
  const v4 = c.vec4;
  // With vec4 tiles, key rows are stored at key_pos: see scoreProduct.
  const { stage, keyRows } = tileStaging(c);
  const loadRows = (what: 'q' | 'dout', column: string) =>
    stage({
      target: 'row_stage',
      stride: 'ROW_STAGE_S',
      rows: 'BM',
      width: what === 'q' ? 'DC' : 'VC',
      rowLimit: 'rows',
      column,
      columnLimit: what === 'q' ? 'head_dim' : 'head_dim_v',
      load: what === 'q' ? `load_q(${qIndex} + ${column} + d)` : `load_dout(${doIndex} + ${column} + d)`,
    });
  // One phase of S or dP: `acc[u * NS + x] += row(u) · key(x)` over a staged chunk of width `width`.
  const product = (acc: string, tile: 'k' | 'v', width: string) =>
    scoreProduct({
      acc,
      width,
      row: `row_stage[(rg + RG * u) * ROW_STAGE_S + ${v4 ? 'd4' : 'd'}]`,
      ...(res
        ? { keys: `${tile}_tile`, keysStride: `${tile.toUpperCase()}_TILE_S`, keysColumn: tile === 'k' ? 'dc' : 'vc' }
        : { keys: 'kv_tile', keysStride: 'KV_TILE_S' }),
      vec4: v4,
    });
  // One phase of dV or dK: `acc[v * N + col / TPC] += weights[row, key v] · row_stage[row, col]`.
  const keyProduct = (acc: string, perKey: string, weights: string, chunk: string, width: string) => /* wgsl */ `
        for (var rr = 0u; rr < rows; rr = rr + 1u) {
          var a: array<f32, ${width} / TPC>;
          for (var y = 0u; y < ${width} / TPC; y = y + 1u) {
            ${
              v4
                ? `let col = lane2 + TPC * y;
            a[y] = row_stage[rr * ROW_STAGE_S + col / 4u][col % 4u];`
                : 'a[y] = row_stage[rr * ROW_STAGE_S + lane2 + TPC * y];'
            }
          }
          for (var v = 0u; v < KM; v = v + 1u) {
            let wv = ${weights}[rr * ${weights.toUpperCase()}_S + kg + KG * v];
            for (var y = 0u; y < ${width} / TPC; y = y + 1u) {
              ${acc}[v * ${perKey} + ${chunk} / TPC + y] = ${acc}[v * ${perKey} + ${chunk} / TPC + y] + wv * a[y];
            }
          }
        }`;
  return /* wgsl */ `
${attentionPrelude(
  c,
  dkdvBindings(dtype),
  f,
  `const KM: u32 = ${c.km}u;   // keys per invocation in the accumulation phase: kg, kg + KG, ...
const KG: u32 = ${c.bn / c.km}u;
const TPC: u32 = ${tpc}u;    // lanes per key group
const NK: u32 = ${c.dp / tpc}u;
const NV: u32 = ${c.dvp / tpc}u;`,
)}

@compute @workgroup_size(${c.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let linear = wid.x + wid.y * p.grid_x;
  if (linear >= p.num_items * p.num_heads_k) {
    return;
  }
  let item = linear / p.num_heads_k;
  let kvh = linear % p.num_heads_k;
  let b = item_word(item, 0u);
  let col0 = item_word(item, 1u);
  let row_first = item_word(item, 2u);
  let row_end = item_word(item, 3u);
  let q_start = seq_start_q(b);
  let lq = seq_len_q(b);
  let k_start = seq_start_k(b);
  let lk = seq_len_k(b);
  let cols = min(BN, lk - col0);
  let head_dim = p.head_dim;
  let head_dim_v = p.head_dim_v;
  let stats_rows = p.total_q * p.num_heads;

  let rg = t / TPR;
  let lane = t % TPR;
  let kg = t / TPC;
  let lane2 = t % TPC;
${
  res
    ? `  // Key and value tiles, loaded once.
  for (var dc = 0u; dc < DP; dc = dc + DC) {${stage({ ...keyRows, target: 'k_tile', stride: 'K_TILE_S', targetColumn: 'dc', rows: 'BN', width: 'DC', rowLimit: 'cols', column: 'dc', columnLimit: 'head_dim', load: `load_k(${kIndex} + dc + d)` })}
  }
  for (var vc = 0u; vc < DVP; vc = vc + VC) {${stage({ ...keyRows, target: 'v_tile', stride: 'V_TILE_S', targetColumn: 'vc', rows: 'BN', width: 'VC', rowLimit: 'cols', column: 'vc', columnLimit: 'head_dim_v', load: `load_v(${vIndex} + vc + d)` })}
  }
  workgroupBarrier();`
    : ''
}
  // acc_dk[v * NK + y] is column lane2 + TPC * y of key v (likewise acc_dv).
${zeroedArray('acc_dk', 'KM * NK')}
${zeroedArray('acc_dv', 'KM * NV')}
  for (var g = 0u; g < p.group_size; g = g + 1u) {
    let h = kvh * p.group_size + g;
    for (var row_start = row_first; row_start < row_end; row_start = row_start + BM) {
      let rows = min(BM, row_end - row_start);
      var row_live = 0u;
      var row_lse: array<f32, RM>;
      var row_delta: array<f32, RM>;
      for (var u = 0u; u < RM; u = u + 1u) {
        let r = rg + RG * u;
        row_lse[u] = 0.0;
        row_delta[u] = 0.0;
        if (r < rows) {
          let token = q_start + row_start + r;
          let bits = stats[h * p.total_q + token];
          if (bits != F32_INF_BITS) {
            row_live = row_live | (1u << u);
          }
          row_lse[u] = bitcast<f32>(bits);
          row_delta[u] = bitcast<f32>(stats[stats_rows + h * p.total_q + token]);
        }
      }
      let full = block_full(i32(row_start), i32(row_start + rows), i32(col0), i32(col0 + cols), i32(lq), i32(lk));

      // S = Q K^T
${zeroedArray('s', 'RM * NS', '      ')}
      for (var dc = 0u; dc < DP; dc = dc + DC) {${loadRows('q', 'dc')}${
        res
          ? ''
          : stage({
              ...keyRows,
              target: 'kv_tile',
              stride: 'KV_TILE_S',
              rows: 'BN',
              width: 'DC',
              rowLimit: 'cols',
              column: 'dc',
              columnLimit: 'head_dim',
              load: `load_k(${kIndex} + dc + d)`,
            })
      }
        workgroupBarrier();${product('s', 'k', 'DC')}
        workgroupBarrier();
      }

      // dP = dO V^T
${zeroedArray('dp', 'RM * NS', '      ')}
      for (var vc = 0u; vc < DVP; vc = vc + VC) {${loadRows('dout', 'vc')}${
        res
          ? ''
          : stage({
              ...keyRows,
              target: 'kv_tile',
              stride: 'KV_TILE_S',
              rows: 'BN',
              width: 'VC',
              rowLimit: 'cols',
              column: 'vc',
              columnLimit: 'head_dim_v',
              load: `load_v(${vIndex} + vc + d)`,
            })
      }
        workgroupBarrier();${product('dp', 'v', 'VC')}
        workgroupBarrier();
      }

      // P (dropped and rescaled, for dV) and scale · dS (for dK), into workgroup memory.
      for (var u = 0u; u < RM; u = u + 1u) {
        let r = rg + RG * u;
        let i = i32(row_start + r);
        let live = (row_live & (1u << u)) != 0u;
        for (var grp = 0u; grp < NS / 4u; grp = grp + 1u) {
          ${f.dropout ? dropoutWords('(col0 >> 2u) + lane + TPR * grp') : ''}
          for (var w = 0u; w < 4u; w = w + 1u) {
            let x = grp * 4u + w;
            let j = i32(col0 + col_of(lane, x));
            var pd = 0.0;
            var ds = 0.0;
            if (live && j < i32(lk) && (full || visible(i, j, i32(lq), i32(lk)))) {
              let pr = exp(score(s[u * NS + x], i, j, i32(lq), i32(lk), h) - row_lse[u]);
              var dpv = dp[u * NS + x];
              pd = pr;
              ${f.dropout ? 'let keep = words[w] >= p.threshold;\n              pd = select(0.0, pr * p.keep_scale, keep);\n              dpv = select(0.0, dpv * p.keep_scale, keep);' : ''}
              ds = pr * (dpv - row_delta[u]);
              ${f.softcap ? 'let th = cap_tanh(s[u * NS + x]);\n              ds = ds * (1.0 - th * th);' : ''}
            }
            probs[r * PROBS_S + col_of(lane, x)] = pd;
            dsc[r * DSC_S + col_of(lane, x)] = ds * p.scale;
          }
        }
      }
      workgroupBarrier();

      // dV += (P ∘ Z)^T dO${reuseDo ? ' (dO is still staged from dP)' : ''}.
      for (var vc = 0u; vc < DVP; vc = vc + VC) {${reuseDo ? '' : `${loadRows('dout', 'vc')}\n        workgroupBarrier();`}${keyProduct('acc_dv', 'NV', 'probs', 'vc', 'VC')}
        workgroupBarrier();
      }

      // dK += scale · dS^T Q
      for (var dc = 0u; dc < DP; dc = dc + DC) {${loadRows('q', 'dc')}
        workgroupBarrier();${keyProduct('acc_dk', 'NK', 'dsc', 'dc', 'DC')}
        workgroupBarrier();
      }
    }
  }

  for (var v = 0u; v < KM; v = v + 1u) {
    let kc = kg + KG * v;
    if (kc < cols) {
      let key = k_start + col0 + kc;
      for (var y = 0u; y < NK; y = y + 1u) {
        let d = lane2 + TPC * y;
        if (d < head_dim) {
          store_dk((key * p.num_heads_k + kvh) * head_dim + d, acc_dk[v * NK + y]);
        }
      }
      for (var y = 0u; y < NV; y = y + 1u) {
        let d = lane2 + TPC * y;
        if (d < head_dim_v) {
          store_dv((key * p.num_heads_k + kvh) * head_dim_v + d, acc_dv[v * NV + y]);
        }
      }
    }
  }
}
`;
}
