/**
 * The one uniform block every kernel reads. Sizes, offsets and option values are data here, never code, so a
 * batch with other lengths, another scale or another seed reuses the compiled pipeline. One field list generates
 * both the WGSL struct and the host packing so that they cannot drift apart.
 */
const FIELDS = [
  ['total_q', 'u32'],
  ['total_k', 'u32'],
  ['num_heads', 'u32'],
  ['num_heads_k', 'u32'],
  ['group_size', 'u32'],
  ['head_dim', 'u32'],
  ['head_dim_v', 'u32'],
  ['batch', 'u32'],
  // Work items of this dispatch; workgroup (x, y) is item-and-head number x + y * grid_x.
  ['num_items', 'u32'],
  ['grid_x', 'u32'],
  // Word offsets into the `info` buffer: cu_seqlens_q starts at 0.
  ['cu_k_offset', 'u32'],
  ['items_offset', 'u32'],
  ['slopes_offset', 'u32'],
  ['scale', 'f32'],
  ['softcap', 'f32'],
  ['window_left', 'i32'],
  ['window_right', 'i32'],
  ['seed_lo', 'u32'],
  ['seed_hi', 'u32'],
  ['threshold', 'u32'],
  ['keep_scale', 'f32'],
  // Where q, k and v sit in their bindings, in elements (core's TensorLayout): element (t, h, d) of q is at
  // q_offset + t * q_token_stride + h * q_head_stride + d. Views of one packed buffer differ only here.
  ['q_offset', 'u32'],
  ['q_token_stride', 'u32'],
  ['q_head_stride', 'u32'],
  ['k_offset', 'u32'],
  ['k_token_stride', 'u32'],
  ['k_head_stride', 'u32'],
  ['v_offset', 'u32'],
  ['v_token_stride', 'u32'],
  ['v_head_stride', 'u32'],
  ['pad0', 'u32'],
  ['pad1', 'u32'],
] as const;

type FieldName = (typeof FIELDS)[number][0];
export type ParamValues = Readonly<Record<Exclude<FieldName, `pad${number}`>, number>>;

/** Bytes of the uniform block: 4 per field, a multiple of 16 as uniform buffers require. */
export const PARAMS_BYTES = FIELDS.length * 4;

export const PARAMS_WGSL = `struct Params {\n${FIELDS.map(([name, type]) => `  ${name}: ${type},`).join('\n')}\n}`;

export function packParams(values: ParamValues): ArrayBuffer {
  const buffer = new ArrayBuffer(PARAMS_BYTES);
  const view = new DataView(buffer);
  FIELDS.forEach(([name, type], index) => {
    const value = name.startsWith('pad') ? 0 : values[name as keyof ParamValues];
    const offset = index * 4;
    if (type === 'f32') view.setFloat32(offset, value, true);
    else if (type === 'i32') view.setInt32(offset, value, true);
    else view.setUint32(offset, value >>> 0, true);
  });
  return buffer;
}
