import type { BindingSpec } from '../wgsl/bindings.js';
import { bindingsWgsl } from '../wgsl/bindings.js';

export const INTERLEAVE_WORKGROUP = 64;

/**
 * Source buffers one interleave dispatch binds: WebGPU's minimum of 8 storage buffers per stage, less the part
 * table and the output. Parts in more distinct buffers than this take one dispatch per group of sources.
 */
export const INTERLEAVE_SOURCES = 6;

/** The uniform block, one u32 per field (32 bytes, a multiple of 16). */
const FIELDS = ['parts', 'row_elements', 'elements', 'words', 'grid_x', 'first_source', 'pad0', 'pad1'] as const;
export type InterleaveParams = Readonly<Record<Exclude<(typeof FIELDS)[number], `pad${number}`>, number>>;

export function packInterleaveParams(values: InterleaveParams): Uint32Array {
  return Uint32Array.from(FIELDS, (name) => (name === 'pad0' || name === 'pad1' ? 0 : values[name]));
}

export function interleaveBindings(): BindingSpec[] {
  return [
    { name: 'p', kind: { type: 'uniform' } },
    { name: 'table', kind: { type: 'words-in' } },
    ...Array.from(
      { length: INTERLEAVE_SOURCES },
      (_, s): BindingSpec => ({ name: `s${s}`, kind: { type: 'words-in' } }),
    ),
    { name: 'out', kind: { type: 'words-out' } },
  ];
}

/**
 * `out[(r·P + p)·R + i] = part_p[offset_p + r·R + i]` (the backend contract's `interleave`), one invocation per
 * output word: one element for 32-bit dtypes, two 16-bit elements otherwise, so that no two invocations share a
 * word and no atomics are needed, while odd offsets and odd R still work (each element takes its half of its
 * source word from its own index). Elements are moved as bits, never converted.
 *
 * `table` holds (source, offset) per part; this dispatch binds sources `first_source …` at s0, s1, …, and leaves
 * elements of parts in other sources as the previous dispatch wrote them (the buffer starts zeroed, which is also
 * what the unused half of a 16-bit output's last word keeps).
 */
export function interleaveWgsl(elementBits: 16 | 32): string {
  const loads = Array.from({ length: INTERLEAVE_SOURCES }, (_, s) => `    case ${s}u: { return s${s}[w]; }`);
  loads[loads.length - 1] = `    default: { return s${INTERLEAVE_SOURCES - 1}[w]; }`;
  const main =
    elementBits === 32
      ? /* wgsl */ `
  let x = element(w);
  if (x.y != 0u) {
    out[w] = x.x;
  }`
      : /* wgsl */ `
  var word = out[w];
  let lo = element(2u * w);
  if (lo.y != 0u) {
    word = (word & 0xffff0000u) | lo.x;
  }
  if (2u * w + 1u < p.elements) {
    let hi = element(2u * w + 1u);
    if (hi.y != 0u) {
      word = (word & 0xffffu) | (hi.x << 16u);
    }
  }
  out[w] = word;`;
  const bits =
    elementBits === 32
      ? 'source_word(source, index)'
      : '(source_word(source, index >> 1u) >> ((index & 1u) << 4u)) & 0xffffu';
  return /* wgsl */ `
struct InterleaveParams {
${FIELDS.map((name) => `  ${name}: u32,`).join('\n')}
}
${bindingsWgsl(interleaveBindings(), 'InterleaveParams')}

fn source_word(source: u32, w: u32) -> u32 {
  switch source {
${loads.join('\n')}
  }
}

// Element e of out as (bits, 1), or (0, 0) when its part lies in a source this dispatch does not bind.
fn element(e: u32) -> vec2<u32> {
  let row = e / (p.parts * p.row_elements);
  let rest = e - row * p.parts * p.row_elements;
  let part = rest / p.row_elements;
  let i = rest - part * p.row_elements;
  // Below first_source the subtraction wraps to a large value: not bound either.
  let source = table[2u * part] - p.first_source;
  if (source >= ${INTERLEAVE_SOURCES}u) {
    return vec2<u32>(0u, 0u);
  }
  let index = table[2u * part + 1u] + row * p.row_elements + i;
  return vec2<u32>(${bits}, 1u);
}

@compute @workgroup_size(${INTERLEAVE_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let w = (wid.x + wid.y * p.grid_x) * ${INTERLEAVE_WORKGROUP}u + t;
  if (w >= p.words) {
    return;
  }${main}
}
`;
}
