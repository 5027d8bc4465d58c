import type { FloatDType } from '@fa/core';

/**
 * One description of a kernel's bindings generates both its WGSL declarations and its bind group layout, so the
 * two can never disagree. Everything lives in bind group 0.
 *
 * Tensors of 16-bit dtypes are bound as `array<u32>`, each word holding two elements (element `e` in the low half
 * of word `e >> 1` when `e` is even): WGSL only has 16-bit storage with `shader-f16`, and this works on every
 * device. Outputs of 16-bit dtypes are `array<atomic<u32>>`, because two neighbouring elements may be written by
 * different invocations: each ORs its half into a word the buffer's zero initialisation left empty.
 */
export type BindingKind =
  /** The kernel's `Params` uniform. */
  | { readonly type: 'uniform' }
  /** A read-only tensor of a float dtype, read through `load_<name>(index) -> f32`. */
  | { readonly type: 'tensor-in'; readonly dtype: FloatDType }
  /** A written tensor of a float dtype, written once per element through `store_<name>(index, value)`. */
  | { readonly type: 'tensor-out'; readonly dtype: FloatDType }
  /** Raw read-only words. */
  | { readonly type: 'words-in' }
  /** Raw read-write words. */
  | { readonly type: 'words-out' };

export interface BindingSpec {
  readonly name: string;
  readonly kind: BindingKind;
}

function elementType(kind: BindingKind): string {
  switch (kind.type) {
    case 'tensor-in':
      return kind.dtype === 'f32' ? 'f32' : 'u32';
    case 'tensor-out':
      return kind.dtype === 'f32' ? 'f32' : 'atomic<u32>';
    default:
      return 'u32';
  }
}

function accessors(name: string, kind: BindingKind): string {
  if (kind.type === 'tensor-in') {
    if (kind.dtype === 'f32') return `fn load_${name}(i: u32) -> f32 { return ${name}[i]; }`;
    const decode = kind.dtype === 'f16' ? 'f16_bits_to_f32' : 'bf16_bits_to_f32';
    return `fn load_${name}(i: u32) -> f32 { return ${decode}((${name}[i >> 1u] >> ((i & 1u) << 4u)) & 0xffffu); }`;
  }
  if (kind.type === 'tensor-out') {
    if (kind.dtype === 'f32') return `fn store_${name}(i: u32, x: f32) { ${name}[i] = x; }`;
    const encode = kind.dtype === 'f16' ? 'f32_to_f16_bits' : 'f32_to_bf16_bits';
    return `fn store_${name}(i: u32, x: f32) { atomicOr(&${name}[i >> 1u], ${encode}(x) << ((i & 1u) << 4u)); }`;
  }
  return '';
}

/** WGSL declarations (and load/store helpers) of `specs`, bound in order at bindings 0, 1, … of group 0. */
export function bindingsWgsl(specs: readonly BindingSpec[], paramsStruct = 'Params'): string {
  return specs
    .map(({ name, kind }, binding) => {
      const at = `@group(0) @binding(${binding})`;
      if (kind.type === 'uniform') return `${at} var<uniform> ${name}: ${paramsStruct};`;
      const access = kind.type === 'tensor-in' || kind.type === 'words-in' ? 'read' : 'read_write';
      const decl = `${at} var<storage, ${access}> ${name}: array<${elementType(kind)}>;`;
      const helpers = accessors(name, kind);
      return helpers ? `${decl}\n${helpers}` : decl;
    })
    .join('\n');
}

/** The bind group layout entries matching `bindingsWgsl(specs)`. */
export function layoutEntries(specs: readonly BindingSpec[]): GPUBindGroupLayoutEntry[] {
  return specs.map(({ kind }, binding) => {
    const type: GPUBufferBindingType =
      kind.type === 'uniform'
        ? 'uniform'
        : kind.type === 'tensor-in' || kind.type === 'words-in'
          ? 'read-only-storage'
          : 'storage';
    // GPUShaderStage.COMPUTE is 4; the literal avoids needing WebGPU's globals at module load.
    return { binding, visibility: 4, buffer: { type } };
  });
}

/** How many storage buffers a kernel binds, to check against `maxStorageBuffersPerShaderStage`. */
export function storageBindingCount(specs: readonly BindingSpec[]): number {
  return specs.filter((s) => s.kind.type !== 'uniform').length;
}
