import { describeValue, expectationError } from './errors.js';

/** Storage dtypes of attention tensors; `i32` is for indices such as cu_seqlens. */
export type FloatDType = 'f32' | 'f16' | 'bf16';
export type DType = FloatDType | 'i32';

export const FLOAT_DTYPES: readonly FloatDType[] = ['f32', 'f16', 'bf16'];

/** f16 and bf16 are stored as raw bit patterns in a `Uint16Array`, since JavaScript has no such number types. */
export type StorageFor<D extends DType> = D extends 'f32' ? Float32Array : D extends 'i32' ? Int32Array : Uint16Array;

export function isFloatDType(value: unknown): value is FloatDType {
  return value === 'f32' || value === 'f16' || value === 'bf16';
}

export function isDType(value: unknown): value is DType {
  return isFloatDType(value) || value === 'i32';
}

/** Throws the typed error for a value that is not one of the library's dtypes. */
export function checkDType(value: unknown, argument: string): asserts value is DType {
  if (!isDType(value)) {
    throw expectationError('E_DTYPE', argument, "one of 'f32', 'f16', 'bf16', 'i32'", describeValue(value));
  }
}

export function checkFloatDType(value: unknown, argument: string): asserts value is FloatDType {
  if (!isFloatDType(value)) {
    throw expectationError('E_DTYPE', argument, "one of 'f32', 'f16', 'bf16'", describeValue(value));
  }
}

export function bytesPerElement(dtype: DType): number {
  checkDType(dtype, 'dtype');
  return dtype === 'f16' || dtype === 'bf16' ? 2 : 4;
}

// One shared scratch word reinterprets float bits without allocating.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

export function f32Bits(value: number): number {
  scratchF32[0] = value;
  return scratchU32[0] as number;
}

export function f32FromBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0] as number;
}

/**
 * float32 → bfloat16 bits, round to nearest, ties to even. NaN stays NaN (quiet), ±inf and ±0 keep their sign.
 * The input is first rounded to float32, so a float64 argument rounds twice, exactly as a float32 tensor would.
 */
export function f32ToBf16Bits(value: number): number {
  const bits = f32Bits(value);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    return ((bits >>> 16) | 0x0040) & 0xffff;
  }
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bf16BitsToF32(bits: number): number {
  return f32FromBits((bits & 0xffff) << 16);
}

/**
 * float32 → IEEE half bits, round to nearest even, with subnormals, overflow to ±inf and NaN preserved.
 * Works on the float32 bit pattern so that it matches a GPU's `f32 → f16` conversion bit for bit.
 */
export function f32ToF16Bits(value: number): number {
  const bits = f32Bits(value);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x007fffff;

  if (exponent === 0xff) {
    return sign | 0x7c00 | (mantissa !== 0 ? 0x0200 | (mantissa >>> 13) : 0);
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half (or zero): shift the implicit leading one into the mantissa, then round.
    if (halfExponent < -10) return sign;
    mantissa |= 0x00800000;
    const shift = 14 - halfExponent;
    const halfMantissa = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const roundUp = remainder > halfway || (remainder === halfway && (halfMantissa & 1) === 1);
    return sign | (halfMantissa + (roundUp ? 1 : 0));
  }
  const halfMantissa = mantissa >>> 13;
  const remainder = mantissa & 0x1fff;
  let result = sign | (halfExponent << 10) | halfMantissa;
  if (remainder > 0x1000 || (remainder === 0x1000 && (halfMantissa & 1) === 1)) {
    // A carry out of the mantissa correctly bumps the exponent, up to infinity.
    result += 1;
  }
  return result;
}

export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Rounds a number to the nearest value representable in `dtype` (f32 included), as a JavaScript number. */
export function roundToDType(value: number, dtype: FloatDType): number {
  switch (dtype) {
    case 'f32':
      return Math.fround(value);
    // Through float32 first, on purpose: kernels hold float32 accumulators and round those to 16 bits, and
    // rounding twice can differ from rounding a float64 once.
    case 'f16':
      return f16BitsToF32(f32ToF16Bits(value));
    case 'bf16':
      return bf16BitsToF32(f32ToBf16Bits(value));
    default:
      // Reached only by untyped callers; the switch above stays the hot path.
      throw expectationError('E_DTYPE', 'dtype', "one of 'f32', 'f16', 'bf16'", describeValue(dtype));
  }
}

/** Decodes storage of any float dtype to float32 values. */
export function decodeToFloat32(data: Float32Array | Uint16Array, dtype: FloatDType): Float32Array {
  checkFloatDType(dtype, 'dtype');
  const storage = dtype === 'f32' ? Float32Array : Uint16Array;
  if (!(data instanceof storage)) {
    throw expectationError('E_DTYPE', 'data', `a ${storage.name} for dtype '${dtype}'`, describeValue(data));
  }
  if (dtype === 'f32') return data as Float32Array;
  const out = new Float32Array(data.length);
  const decode = dtype === 'f16' ? f16BitsToF32 : bf16BitsToF32;
  for (let i = 0; i < data.length; i++) out[i] = decode(data[i] as number);
  return out;
}

/** Encodes float values (f32 or f64) into the storage of `dtype`, rounding to nearest even. */
export function encodeFromFloat(values: ArrayLike<number>, dtype: 'f32'): Float32Array;
export function encodeFromFloat(values: ArrayLike<number>, dtype: 'f16' | 'bf16'): Uint16Array;
export function encodeFromFloat(values: ArrayLike<number>, dtype: FloatDType): Float32Array | Uint16Array;
export function encodeFromFloat(values: ArrayLike<number>, dtype: FloatDType): Float32Array | Uint16Array {
  checkFloatDType(dtype, 'dtype');
  checkNumbers(values, 'values');
  if (dtype === 'f32') return Float32Array.from(values);
  const out = new Uint16Array(values.length);
  const encode = dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < values.length; i++) out[i] = encode(values[i] as number);
  return out;
}

/**
 * An array or typed array of numbers. Plain arrays are checked element by element (a string inside would
 * otherwise become NaN without a word); typed arrays hold numbers by construction.
 */
function checkNumbers(values: unknown, argument: string): asserts values is ArrayLike<number> {
  const typed = ArrayBuffer.isView(values) && !(values instanceof DataView) && !(values instanceof BigInt64Array);
  if (typed && !(values instanceof BigUint64Array)) return;
  if (!Array.isArray(values)) {
    throw expectationError('E_VALUE', argument, 'an array or typed array of numbers', describeValue(values));
  }
  const bad = values.findIndex((v) => typeof v !== 'number');
  if (bad >= 0) {
    throw expectationError('E_VALUE', argument, 'numbers only', `${argument}[${bad}] = ${describeValue(values[bad])}`);
  }
}
