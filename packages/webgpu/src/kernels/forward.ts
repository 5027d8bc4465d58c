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

export function forwardBindings(dtype: FloatDType): BindingSpec[] {
  return [
    { name: 'p', kind: { type: 'uniform' } },
    { name: 'info', kind: { type: 'words-in' } },
    { name: 'q', kind: { type: 'tensor-in', dtype } },
    { name: 'k', kind: { type: 'tensor-in', dtype } },
    { name: 'v', kind: { type: 'tensor-in', dtype } },
    { name: 'out', kind: { type: 'tensor-out', dtype } },
    // +inf must be written as bits, so lse is raw words.
    { name: 'lse', kind: { type: 'words-out' } },
  ];
}

/**
 * O += P V reading four probabilities per load. Keys past `cols` in the last group add nothing: their
 * probabilities are 0 and their V rows were staged as zeros.
 */
function valueProductVec4(): string {
  return /* wgsl */ `
      for (var j4 = 0u; j4 < (cols + 3u) / 4u; j4 = j4 + 1u) {
        var p4: array<vec4<f32>, RM>;
        for (var u = 0u; u < RM; u = u + 1u) {
          p4[u] = probs[(rg + RG * u) * PROBS_S + j4];
        }
        for (var w = 0u; w < 4u; w = w + 1u) {
          let jj = 4u * j4 + w;
          var vj: array<f32, VC / TPR>;
          for (var c = 0u; c < VC / TPR; c = c + 1u) {
            let col = lane + TPR * c;
            vj[c] = kv_tile[jj * KV_TILE_S + col / 4u][col % 4u];
          }
          for (var u = 0u; u < RM; u = u + 1u) {
            let pr = p4[u][w];
            for (var c = 0u; c < VC / TPR; c = c + 1u) {
              o[u * NO + vc / TPR + c] = o[u * NO + vc / TPR + c] + pr * vj[c];
            }
          }
        }
      }`;
}

/**
 * Row maximum and row sum over the TPR lanes of a row group by a butterfly of shuffles. Every lane ends with the
 * same bits: each step adds its half to the other half, and IEEE addition commutes.
 */
function subgroupRowReductions(tpr: number): string {
  const steps = (op: (mask: number) => string) => {
    const lines: string[] = [];
    for (let mask = 1; mask < tpr; mask *= 2) lines.push(`  r = ${op(mask)};`);
    return lines.join('\n');
  };
  return /* wgsl */ `
fn row_max(x: f32) -> f32 {
  var r = x;
${steps((mask) => `max(r, subgroupShuffleXor(r, ${mask}u))`)}
  return r;
}
fn row_sum(x: f32) -> f32 {
  var r = x;
${steps((mask) => `r + subgroupShuffleXor(r, ${mask}u)`)}
  return r;
}`;
}

/**
 * The same reductions over the lanes' partials in workgroup memory. The sum is the same pairwise tree as the
 * butterfly's, so both paths give the same bits.
 */
function sharedRowReductions(): string {
  return /* wgsl */ `
fn part_max(r: u32) -> f32 {
  var m = part[r * PART_S];
  for (var e = 1u; e < TPR; e = e + 1u) {
    m = max(m, part[r * PART_S + e]);
  }
  return m;
}
fn part_sum(r: u32) -> f32 {
  var v: array<f32, TPR>;
  for (var e = 0u; e < TPR; e = e + 1u) {
    v[e] = part[r * PART_S + e];
  }
  for (var w = 1u; w < TPR; w = w * 2u) {
    for (var e = 0u; e < TPR; e = e + 2u * w) {
      v[e] = v[e] + v[e + w];
    }
  }
  return v[0];
}`;
}

/**
 * FlashAttention-2 forward. One workgroup per (query tile, head) of the item list built on the host (only real
 * tiles, longest first). The query tile stays in workgroup memory (or is re-staged per chunk when it does not
 * fit); key and value tiles stream through it; the softmax is online in f32, and `out` and `lse` are written once.
 * Item words: (sequence, first row, first key tile, end key tile, first fully visible key tile, end of those).
 *
 * Invocation layout (see plan/config.ts): row group `rg = t / TPR` owns rows `rg + RG * u` (u < RM), lane
 * `t % TPR` owns key columns `col_of(lane, x)` (x < NS) and output columns `lane + TPR * c` (c < NO).
 */
export function forwardWgsl(c: TileConfig, dtype: FloatDType, f: ScoreFeatures): string {
  const tpr = rowThreads(c);
  const sg = c.subgroupRows;
  const qIndex = 'q_row(q_start + row0 + rr, h)';
  const v4 = c.vec4;
  const { stage, keyRows } = tileStaging(c);
  const loadQ = (targetColumn: string) =>
    stage({
      target: 'q_tile',
      stride: 'Q_TILE_S',
      targetColumn,
      rows: 'BM',
      width: 'DC',
      rowLimit: 'rows',
      column: 'dc',
      columnLimit: 'head_dim',
      load: `load_q(${qIndex} + dc + d)`,
    });
  return /* wgsl */ `${sg ? 'enable subgroups;\n' : ''}
${attentionPrelude(c, forwardBindings(dtype), f, `const NO: u32 = ${c.dvp / tpr}u;   // output columns per row per invocation`)}
${sg ? subgroupRowReductions(tpr) : sharedRowReductions()}

// The running sum of an owned row after a key tile, and its output columns rescaled to the new maximum.
fn rescale_row(u: u32, tile_sum: f32, alpha: f32, l: ptr<function, array<f32, RM>>, o: ptr<function, array<f32, RM * NO>>) {
  (*l)[u] = (*l)[u] * alpha + tile_sum;
  for (var c = 0u; c < NO; c = c + 1u) {
    (*o)[u * NO + c] = (*o)[u * NO + c] * alpha;
  }
}

@compute @workgroup_size(${c.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${queryTileItem()}

  let rg = t / TPR;
  let lane = t % TPR;
${
  c.resident
    ? `  // The whole query tile, loaded once.
  for (var dc = 0u; dc < DP; dc = dc + DC) {${loadQ('dc')}
  }
  workgroupBarrier();`
    : ''
}

  // Running max and sum of each owned row, and its output columns: o[u * NO + c] is column lane + TPR * c.
  var m: array<f32, RM>;
  var l: array<f32, RM>;
  for (var u = 0u; u < RM; u = u + 1u) {
    m[u] = NEG_BIG;
    l[u] = 0.0;
  }
${zeroedArray('o', 'RM * NO')}
  for (var kt = kt0; kt < kt1; kt = kt + 1u) {
    let col0 = kt * BN;
    let cols = min(BN, lk - col0);

    // S = Q K^T for this tile, the head dim streamed in chunks of DC.
${zeroedArray('s', 'RM * NS', '    ')}
    for (var dc = 0u; dc < DP; dc = dc + DC) {${c.resident ? '' : loadQ('0u')}${stage({
      target: 'kv_tile',
      stride: 'KV_TILE_S',
      rows: 'BN',
      width: 'DC',
      rowLimit: 'cols',
      column: 'dc',
      columnLimit: 'head_dim',
      load: 'load_k(k_row(k_start + col0 + rr, kvh) + dc + d)',
      ...keyRows,
    })}
      workgroupBarrier();${scoreProduct({
        acc: 's',
        width: 'DC',
        row: v4
          ? `q_tile[(rg + RG * u) * Q_TILE_S + ${c.resident ? 'dc / 4u + ' : ''}d4]`
          : `q_tile[(rg + RG * u) * Q_TILE_S + ${c.resident ? 'dc + ' : ''}d]`,
        keys: 'kv_tile',
        keysStride: 'KV_TILE_S',
        vec4: v4,
      })}
      workgroupBarrier();
    }

    // Scores, masked only where the tile is not fully visible; a bit per visible score.
    let full = kt >= ft0 && kt < ft1;
    var vis = 0u;
    var m_new: array<f32, RM>;
    for (var u = 0u; u < RM; u = u + 1u) {
      let r = rg + RG * u;
      let i = i32(row0 + r);
      var local_max = NEG_BIG;
      for (var x = 0u; x < NS; x = x + 1u) {
        let j = i32(col0 + col_of(lane, x));
        if (r < rows && j < i32(lk) && (full || visible(i, j, i32(lq), i32(lk)))) {
          vis = vis | (1u << (u * NS + x));
          let sc = score(s[u * NS + x], i, j, i32(lq), i32(lk), h);
          s[u * NS + x] = sc;
          local_max = max(local_max, sc);
        }
      }
${
  sg
    ? `      m_new[u] = max(m[u], row_max(local_max));
    }`
    : `      part[r * PART_S + lane] = local_max;
    }
    workgroupBarrier();
    // The partial maxima are read before the same array takes the partial sums, hence the second barrier.
    for (var u = 0u; u < RM; u = u + 1u) {
      m_new[u] = max(m[u], part_max(rg + RG * u));
    }
    workgroupBarrier();`
}

    // Online softmax: probabilities relative to the new running maxima, and the rescale of what came before.
    var alpha: array<f32, RM>;
    for (var u = 0u; u < RM; u = u + 1u) {
      let r = rg + RG * u;
      let i = i32(row0 + r);
      var local_sum = 0.0;
      for (var g = 0u; g < NS / 4u; g = g + 1u) {
        ${f.dropout ? dropoutWords('(col0 >> 2u) + lane + TPR * g') : ''}${v4 ? '\n        var p4 = vec4<f32>(0.0);' : ''}
        for (var w = 0u; w < 4u; w = w + 1u) {
          let x = g * 4u + w;
          var pr = 0.0;
          if ((vis & (1u << (u * NS + x))) != 0u) {
            pr = exp(s[u * NS + x] - m_new[u]);
          }
          // The normaliser sums the undropped probabilities; only what multiplies V is dropped.
          local_sum = local_sum + pr;
          ${f.dropout ? 'pr = select(0.0, pr * p.keep_scale, words[w] >= p.threshold);' : ''}
          ${v4 ? 'p4[w] = pr;' : 'probs[r * PROBS_S + col_of(lane, x)] = pr;'}
        }${v4 ? '\n        // The four keys of group g are one vec4 of the row.\n        probs[r * PROBS_S + lane + TPR * g] = p4;' : ''}
      }
      alpha[u] = exp(m[u] - m_new[u]);
      m[u] = m_new[u];
${
  sg
    ? `      rescale_row(u, row_sum(local_sum), alpha[u], &l, &o);
    }
    // No barrier here: the one after staging V below also makes P visible.`
    : `      part[r * PART_S + lane] = local_sum;
    }
    workgroupBarrier();
    for (var u = 0u; u < RM; u = u + 1u) {
      rescale_row(u, part_sum(rg + RG * u), alpha[u], &l, &o);
    }`
}

    // O += P V, the value head dim streamed in chunks of VC.
    for (var vc = 0u; vc < DVP; vc = vc + VC) {${stage({
      target: 'kv_tile',
      stride: 'KV_TILE_S',
      rows: 'BN',
      width: 'VC',
      rowLimit: 'cols',
      column: 'vc',
      columnLimit: 'head_dim_v',
      load: 'load_v(v_row(k_start + col0 + rr, kvh) + vc + d)',
    })}
      workgroupBarrier();${
        v4
          ? valueProductVec4()
          : weightedKeySum({
              acc: 'o',
              perRow: 'NO',
              weights: 'probs',
              weightsStride: 'PROBS_S',
              chunk: 'vc',
              width: 'VC',
            })
      }
      workgroupBarrier();
    }
  }

  for (var u = 0u; u < RM; u = u + 1u) {
    let r = rg + RG * u;
    if (r < rows) {
      let token = q_start + row0 + r;
      // A row that saw no key: out stays 0 and lse is +inf (docs/semantics.md).
      let empty = l[u] == 0.0;
      let inv = select(1.0 / l[u], 0.0, empty);
      for (var c = 0u; c < NO; c = c + 1u) {
        let d = lane + TPR * c;
        if (d < head_dim_v) {
          store_out((token * p.num_heads + h) * head_dim_v + d, o[u * NO + c] * inv);
        }
      }
      if (lane == 0u) {
        lse[h * p.total_q + token] = select(bitcast<u32>(m[u] + log(max(l[u], 1e-30))), F32_INF_BITS, empty);
      }
    }
  }
}
`;
}
