import type { FloatDType } from '@fa/core';
import type { BindingSpec } from '../wgsl/bindings.js';
import { bindingsWgsl } from '../wgsl/bindings.js';
import { NUMBERS_WGSL } from '../wgsl/numbers.js';
import { PARAMS_WGSL } from '../wgsl/params.js';

export const PREPROCESS_WORKGROUP = 64;

export function preprocessBindings(dtype: FloatDType): BindingSpec[] {
  return [
    { name: 'p', kind: { type: 'uniform' } },
    { name: 'info', kind: { type: 'words-in' } },
    { name: 'dout', kind: { type: 'tensor-in', dtype } },
    { name: 'out', kind: { type: 'tensor-in', dtype } },
    { name: 'lse', kind: { type: 'words-in' } },
    { name: 'stats', kind: { type: 'words-out' } },
  ];
}

/**
 * Backward preprocessing, one invocation per (head, token): `D = rowsum(dO ∘ O)`, written next to a copy of
 * the row's lse in one `stats` buffer (lse bits for `H × total_q`, then D), so that the gradient kernels read
 * both through one binding and stay within 8 storage buffers.
 */
export function preprocessWgsl(dtype: FloatDType): string {
  return /* wgsl */ `
${NUMBERS_WGSL}
${PARAMS_WGSL}
${bindingsWgsl(preprocessBindings(dtype))}

@compute @workgroup_size(${PREPROCESS_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let rows = p.total_q * p.num_heads;
  let linear = (wid.x + wid.y * p.grid_x) * ${PREPROCESS_WORKGROUP}u + t;
  if (linear >= rows) {
    return;
  }
  // linear = h * total_q + token: the layout of lse.
  let h = linear / p.total_q;
  let token = linear % p.total_q;
  let bits = lse[linear];
  var delta = 0.0;
  if (bits != F32_INF_BITS) {
    let base = (token * p.num_heads + h) * p.head_dim_v;
    for (var d = 0u; d < p.head_dim_v; d = d + 1u) {
      delta = delta + load_dout(base + d) * load_out(base + d);
    }
  }
  stats[linear] = bits;
  stats[rows + linear] = bitcast<u32>(delta);
}
`;
}
