import type { TileConfig } from '../plan/config.js';
import { rowThreads } from '../plan/config.js';

/** Options that change a kernel's code. Everything else (scale, window, cap value, seed) is uniform data. */
export interface ScoreFeatures {
  readonly softcap: boolean;
  readonly alibi: boolean;
  readonly dropout: boolean;
}

export function featuresKey(f: ScoreFeatures): string {
  return `${f.softcap ? 'cap' : ''}${f.alibi ? 'alibi' : ''}${f.dropout ? 'drop' : ''}` || 'plain';
}

/**
 * WGSL shared by every attention kernel: the score-phase layout, visibility (docs/semantics.md, "Visibility"),
 * and reading sequence bounds from `info`. `p` is the uniform block, `info` the word buffer holding
 * cu_seqlens_q, cu_seqlens_k, the item list and the ALiBi slopes.
 */
export function scoreCommonWgsl(c: TileConfig): string {
  const tpr = rowThreads(c);
  return /* wgsl */ `
const WG: u32 = ${c.wg}u;
const BM: u32 = ${c.bm}u;
const BN: u32 = ${c.bn}u;
const RM: u32 = ${c.rm}u;          // query rows per invocation: rg, rg + RG, ...
const RG: u32 = ${c.bm / c.rm}u;   // row groups
const TPR: u32 = ${tpr}u;          // lanes per row group in the score phase
const NS: u32 = ${c.bn / tpr}u;    // key columns per invocation: NS / 4 groups of 4 consecutive keys
const DP: u32 = ${c.dp}u;
const DVP: u32 = ${c.dvp}u;
const DC: u32 = ${c.dc}u;
const VC: u32 = ${c.vc}u;

// Key column (within the tile) of an invocation's x-th score: groups of four consecutive keys, so that the four
// words of one Philox call decide four neighbouring scores.
fn col_of(lane: u32, x: u32) -> u32 {
  return 4u * (lane + TPR * (x >> 2u)) + (x & 3u);
}

// Key j is visible to query i iff i + Lk - Lq - left <= j <= i + Lk - Lq + right; -1 is unbounded.
fn visible(i: i32, j: i32, lq: i32, lk: i32) -> bool {
  let diagonal = i + lk - lq;
  let left_ok = p.window_left < 0 || j >= diagonal - p.window_left;
  let right_ok = p.window_right < 0 || j <= diagonal + p.window_right;
  return left_ok && right_ok;
}

// Whether every score of rows [r0, r1) x columns [c0, c1) is visible (core's blockFullyVisible).
fn block_full(r0: i32, r1: i32, c0: i32, c1: i32, lq: i32, lk: i32) -> bool {
  if (r1 <= r0 || c1 <= c0) {
    return false;
  }
  let top_last = select(min(lk - 1, r0 + lk - lq + p.window_right), lk - 1, p.window_right < 0);
  let bottom_first = select(max(0, r1 - 1 + lk - lq - p.window_left), 0, p.window_left < 0);
  return c0 >= bottom_first && c1 - 1 <= top_last;
}

fn seq_start_q(b: u32) -> u32 { return info[b]; }
fn seq_len_q(b: u32) -> u32 { return info[b + 1u] - info[b]; }
fn seq_start_k(b: u32) -> u32 { return info[p.cu_k_offset + b]; }
fn seq_len_k(b: u32) -> u32 { return info[p.cu_k_offset + b + 1u] - info[p.cu_k_offset + b]; }
fn item_word(item: u32, w: u32) -> u32 { return info[p.items_offset + item * 8u + w]; }
fn alibi_slope(h: u32) -> f32 { return bitcast<f32>(info[p.slopes_offset + h]); }
`;
}

/**
 * WGSL of a function `score(raw, i, j, lq, lk, h) -> f32` that turns a raw dot product into the score the
 * softmax sees: scale, softcap, then ALiBi (the order of docs/semantics.md). With softcap, `cap_tanh(raw)` gives
 * the tanh the gradient needs.
 */
export function scoreFunctionWgsl(f: ScoreFeatures): string {
  const lines = ['  var s = raw * p.scale;'];
  if (f.softcap) lines.push('  s = p.softcap * safe_tanh(s / p.softcap);');
  if (f.alibi) lines.push('  s = s - alibi_slope(h) * abs(f32(i + lk - lq - j));');
  lines.push('  return s;');
  return /* wgsl */ `
fn score(raw: f32, i: i32, j: i32, lq: i32, lk: i32, h: u32) -> f32 {
${lines.join('\n')}
}
fn cap_tanh(raw: f32) -> f32 {
  return safe_tanh(raw * p.scale / p.softcap);
}
`;
}
