import type { FloatDType } from '@fa/core';
import { rowThreads, type TileConfig } from '../plan/config.js';
import type { BindingSpec } from '../wgsl/bindings.js';
import type { ScoreFeatures } from '../wgsl/scores.js';
import {
  attentionPrelude,
  dropoutWords,
  queryTileItem,
  scoreProduct,
  tileStaging,
  weightedKeySum,
  zeroedArray,
} from './common.js';

export function dqBindings(dtype: FloatDType): BindingSpec[] {
  return [
    { name: 'p', kind: { type: 'uniform' } },
    { name: 'info', kind: { type: 'words-in' } },
    { name: 'q', kind: { type: 'tensor-in', dtype } },
    { name: 'k', kind: { type: 'tensor-in', dtype } },
    { name: 'v', kind: { type: 'tensor-in', dtype } },
    { name: 'dout', kind: { type: 'tensor-in', dtype } },
    { name: 'stats', kind: { type: 'words-in' } },
    { name: 'dq', kind: { type: 'tensor-out', dtype } },
  ];
}

/**
 * dQ, one workgroup per (query tile, head), looping over the key tiles the tile sees: recompute S = Q Kᵀ and
 * P = exp(S − lse), dP = dO Vᵀ, dS = P ∘ (dP − D), then dQ += scale · dS K. Each dQ element has one owner, so
 * there are no atomics (WGSL has no float atomics) and the result is deterministic. Same item list and
 * invocation layout as the forward, minus the tiles that see no key.
 */
export function dqWgsl(c: TileConfig, dtype: FloatDType, f: ScoreFeatures): string {
  const tpr = rowThreads(c);
  const res = c.resident;
  // The last chunk of K staged for S is the whole tile when DC == DP, and dQ += dS K can reuse it.
  const reuseK = c.dc === c.dp;
  const qIndex = 'q_row(q_start + row0 + rr, h)';
  const doIndex = '((q_start + row0 + rr) * p.num_heads + h) * head_dim_v';
  const kIndex = 'k_row(k_start + col0 + rr, kvh)';
  const vIndex = 'v_row(k_start + col0 + rr, kvh)';
  const v4 = c.vec4;
  // With vec4 tiles, key rows (K, and V for dP) are stored at key_pos: see scoreProduct.
  const { stage, keyRows } = tileStaging(c);
  const loadK = stage({
    ...keyRows,
    target: 'kv_tile',
    stride: 'KV_TILE_S',
    rows: 'BN',
    width: 'DC',
    rowLimit: 'cols',
    column: 'dc',
    columnLimit: 'head_dim',
    load: `load_k(${kIndex} + dc + d)`,
  });
  // Q and dO rows: resident tiles, or one staged chunk at a time (vec4 tiles: the vec4 at column 4 · d4).
  const rowOf = (tile: 'q' | 'do', chunk: string) => {
    const d = v4 ? 'd4' : 'd';
    const column = v4 ? `${chunk} / 4u + ${d}` : `${chunk} + ${d}`;
    return res
      ? `${tile}_tile[(rg + RG * u) * ${tile.toUpperCase()}_TILE_S + ${column}]`
      : `row_stage[(rg + RG * u) * ROW_STAGE_S + ${d}]`;
  };
  return /* wgsl */ `
${attentionPrelude(c, dqBindings(dtype), f, `const NQ: u32 = ${c.dp / tpr}u;   // dQ columns per row per invocation`)}

@compute @workgroup_size(${c.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${queryTileItem()}
  let stats_rows = p.total_q * p.num_heads;

  let rg = t / TPR;
  let lane = t % TPR;
  // lse and D of each owned row; a row with lse = +inf saw no key and passes no gradient.
  var row_live = 0u;
  var row_lse: array<f32, RM>;
  var row_delta: array<f32, RM>;
  for (var u = 0u; u < RM; u = u + 1u) {
    let r = rg + RG * u;
    row_lse[u] = 0.0;
    row_delta[u] = 0.0;
    if (r < rows) {
      let token = q_start + row0 + r;
      let bits = stats[h * p.total_q + token];
      if (bits != F32_INF_BITS) {
        row_live = row_live | (1u << u);
      }
      row_lse[u] = bitcast<f32>(bits);
      row_delta[u] = bitcast<f32>(stats[stats_rows + h * p.total_q + token]);
    }
  }
${
  res
    ? `  // Query and dO tiles, loaded once.
  for (var dc = 0u; dc < DP; dc = dc + DC) {${stage({ target: 'q_tile', stride: 'Q_TILE_S', targetColumn: 'dc', rows: 'BM', width: 'DC', rowLimit: 'rows', column: 'dc', columnLimit: 'head_dim', load: `load_q(${qIndex} + dc + d)` })}
  }
  for (var vc = 0u; vc < DVP; vc = vc + VC) {${stage({ target: 'do_tile', stride: 'DO_TILE_S', targetColumn: 'vc', rows: 'BM', width: 'VC', rowLimit: 'rows', column: 'vc', columnLimit: 'head_dim_v', load: `load_dout(${doIndex} + vc + d)` })}
  }
  workgroupBarrier();`
    : ''
}
  // acc_dq[u * NQ + c] is column lane + TPR * c of row u.
${zeroedArray('acc_dq', 'RM * NQ')}
  for (var kt = kt0; kt < kt1; kt = kt + 1u) {
    let col0 = kt * BN;
    let cols = min(BN, lk - col0);

    // dP = dO V^T
${zeroedArray('dp', 'RM * NS', '    ')}
    for (var vc = 0u; vc < DVP; vc = vc + VC) {${
      res
        ? ''
        : stage({
            target: 'row_stage',
            stride: 'ROW_STAGE_S',
            rows: 'BM',
            width: 'VC',
            rowLimit: 'rows',
            column: 'vc',
            columnLimit: 'head_dim_v',
            load: `load_dout(${doIndex} + vc + d)`,
          })
    }${stage({ ...keyRows, target: 'kv_tile', stride: 'KV_TILE_S', rows: 'BN', width: 'VC', rowLimit: 'cols', column: 'vc', columnLimit: 'head_dim_v', load: `load_v(${vIndex} + vc + d)` })}
      workgroupBarrier();${scoreProduct({ acc: 'dp', width: 'VC', row: rowOf('do', 'vc'), keys: 'kv_tile', keysStride: 'KV_TILE_S', vec4: v4 })}
      workgroupBarrier();
    }

    // S = Q K^T
${zeroedArray('s', 'RM * NS', '    ')}
    for (var dc = 0u; dc < DP; dc = dc + DC) {${
      res
        ? ''
        : stage({
            target: 'row_stage',
            stride: 'ROW_STAGE_S',
            rows: 'BM',
            width: 'DC',
            rowLimit: 'rows',
            column: 'dc',
            columnLimit: 'head_dim',
            load: `load_q(${qIndex} + dc + d)`,
          })
    }${loadK}
      workgroupBarrier();${scoreProduct({ acc: 's', width: 'DC', row: rowOf('q', 'dc'), keys: 'kv_tile', keysStride: 'KV_TILE_S', vec4: v4 })}
      workgroupBarrier();
    }

    // dS = P ∘ (dP − D), with P = exp(S − lse) recomputed, dropout's mask on dP, and softcap's chain rule.
    let full = kt >= ft0 && kt < ft1;
    for (var u = 0u; u < RM; u = u + 1u) {
      let r = rg + RG * u;
      let i = i32(row0 + r);
      let live = (row_live & (1u << u)) != 0u;
      for (var g = 0u; g < NS / 4u; g = g + 1u) {
        ${f.dropout ? dropoutWords('(col0 >> 2u) + lane + TPR * g') : ''}
        for (var w = 0u; w < 4u; w = w + 1u) {
          let x = g * 4u + w;
          let j = i32(col0 + col_of(lane, x));
          var ds = 0.0;
          if (live && j < i32(lk) && (full || visible(i, j, i32(lq), i32(lk)))) {
            let pr = exp(score(s[u * NS + x], i, j, i32(lq), i32(lk), h) - row_lse[u]);
            var dpv = dp[u * NS + x];
            ${f.dropout ? 'dpv = select(0.0, dpv * p.keep_scale, words[w] >= p.threshold);' : ''}
            ds = pr * (dpv - row_delta[u]);
            ${f.softcap ? `let th = cap_tanh(s[u * NS + x]);\n            ds = ds * (1.0 - th * th);` : ''}
          }
          dsc[r * DSC_S + col_of(lane, x)] = ds * p.scale;
        }
      }
    }
    workgroupBarrier();

    // dQ += dS K${reuseK ? ' (the K tile is still staged from S)' : ''}.
    for (var dc = 0u; dc < DP; dc = dc + DC) {${reuseK ? '' : `${loadK}\n      workgroupBarrier();`}
${weightedKeySum({ acc: 'acc_dq', perRow: 'NQ', weights: 'dsc', weightsStride: 'DSC_S', chunk: 'dc', width: 'DC', vec4: v4, swizzled: v4 })}
      workgroupBarrier();
    }
  }

  for (var u = 0u; u < RM; u = u + 1u) {
    let r = rg + RG * u;
    if (r < rows) {
      let token = q_start + row0 + r;
      for (var c = 0u; c < NQ; c = c + 1u) {
        let d = lane + TPR * c;
        if (d < head_dim) {
          store_dq((token * p.num_heads + h) * head_dim + d, acc_dq[u * NQ + c]);
        }
      }
    }
  }
}
`;
}
