import { type FloatDType, f16BitsToF32, isContiguousLayout, type TensorLayout } from '@fa/core';

/**
 * Conversions at the edges of the CPU backend: f16/bf16 inputs become float32 once on entry, outputs are encoded
 * back once on exit; kernels only ever see float32. The encoders work on float32 bit patterns through an integer
 * view and round exactly as @fa/core's f32ToF16Bits / f32ToBf16Bits do (tests hold them to that).
 */

export type FloatStorage = Float32Array | Uint16Array;

let f16Table: Float32Array | undefined;

/** All 65536 half-precision values, decoded once; a lookup beats bit surgery per element. */
function f16Values(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) f16Table[bits] = f16BitsToF32(bits);
  }
  return f16Table;
}

/** Decodes `src`, stored as `dtype`, into the float32 array `dst` of the same length. */
export function decodeInto(src: FloatStorage, dtype: FloatDType, dst: Float32Array): void {
  if (dtype === 'f32') {
    dst.set(src as Float32Array);
  } else if (dtype === 'f16') {
    const table = f16Values();
    const bits = src as Uint16Array;
    for (let i = 0; i < bits.length; i++) dst[i] = table[bits[i] as number] as number;
  } else {
    // A bfloat16 is the top half of a float32.
    const bits = src as Uint16Array;
    const words = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
    for (let i = 0; i < bits.length; i++) words[i] = (bits[i] as number) << 16;
  }
}

/**
 * Decodes the `(tokens, heads, dim)` elements of a view of `src` (see core's `TensorLayout`) densely into `dst`: a
 * packed `qkv`'s parts go straight from the caller's buffer to the kernels' memory, one row of `dim` at a time.
 */
export function decodeViewInto(
  src: FloatStorage,
  dtype: FloatDType,
  layout: TensorLayout,
  [tokens, heads, dim]: readonly [number, number, number],
  dst: Float32Array,
): void {
  if (isContiguousLayout(layout, heads, dim)) {
    decodeInto(src.subarray(0, tokens * heads * dim) as FloatStorage, dtype, dst);
    return;
  }
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const from = layout.offset + t * layout.tokenStride + h * layout.headStride;
      const to = (t * heads + h) * dim;
      decodeInto(src.subarray(from, from + dim) as FloatStorage, dtype, dst.subarray(to, to + dim));
    }
  }
}

/** A view's elements as dense float32, copying only when the dtype needs decoding or the view is strided. */
export function viewAsFloat32(
  src: FloatStorage,
  dtype: FloatDType,
  layout: TensorLayout,
  shape: readonly [number, number, number],
): Float32Array {
  const [tokens, heads, dim] = shape;
  if (isContiguousLayout(layout, heads, dim))
    return asFloat32(src.subarray(0, tokens * heads * dim) as FloatStorage, dtype);
  const out = new Float32Array(tokens * heads * dim);
  decodeViewInto(src, dtype, layout, shape, out);
  return out;
}

/** float32 input as float32, copying only when the dtype needs decoding. */
export function asFloat32(src: FloatStorage, dtype: FloatDType): Float32Array {
  if (dtype === 'f32') return src as Float32Array;
  const out = new Float32Array(src.length);
  decodeInto(src, dtype, out);
  return out;
}

function f16FromBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x007fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x0200 | (mantissa >>> 13) : 0);
  const halfExponent = exponent - 112;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    const full = mantissa | 0x00800000;
    const shift = 14 - halfExponent;
    const half = full >>> shift;
    const remainder = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (half + (remainder > halfway || (remainder === halfway && (half & 1) === 1) ? 1 : 0));
  }
  const half = mantissa >>> 13;
  const remainder = mantissa & 0x1fff;
  const rounded = remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1) ? 1 : 0;
  return (sign | (halfExponent << 10) | half) + rounded;
}

function bf16FromBits(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return ((bits >>> 16) | 0x0040) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Encodes float32 values into a new array of `dtype` storage; f32 is copied so the caller owns the result. */
export function encodeFrom(src: Float32Array, dtype: FloatDType): FloatStorage {
  if (dtype === 'f32') return src.slice();
  const words = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  if (dtype === 'f16') for (let i = 0; i < out.length; i++) out[i] = f16FromBits(words[i] as number);
  else for (let i = 0; i < out.length; i++) out[i] = bf16FromBits(words[i] as number);
  return out;
}

/**
 * Sums per-query-head gradients (rows, numHeads, width) over each group of heads that share a key/value head,
 * in head order, into (rows, numHeadsK, width).
 */
export function sumHeadGroups(
  partial: Float32Array,
  rows: number,
  numHeads: number,
  numHeadsK: number,
  width: number,
): Float32Array {
  const group = numHeads / numHeadsK;
  const out = new Float32Array(rows * numHeadsK * width);
  for (let r = 0; r < rows; r++) {
    for (let hk = 0; hk < numHeadsK; hk++) {
      const dst = (r * numHeadsK + hk) * width;
      for (let g = 0; g < group; g++) {
        const src = (r * numHeads + hk * group + g) * width;
        for (let d = 0; d < width; d++) out[dst + d] = (out[dst + d] as number) + (partial[src + d] as number);
      }
    }
  }
  return out;
}
