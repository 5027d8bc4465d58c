import { f16BitsToF32, f32Bits, f32FromBits, f32ToBf16Bits, f32ToF16Bits } from '@fa/core';
import { Random } from '@fa/testkit';
import { describe, expect, it } from 'vitest';
import { runWordKernel } from '../../test/run-kernel.js';
import { NUMBERS_WGSL } from './numbers.js';

// For each input word x: f32 bits of f16_bits_to_f32(x & 0xffff), f32_to_f16_bits(bitcast<f32>(x)),
// f32_to_bf16_bits(bitcast<f32>(x)).
const KERNEL = /* wgsl */ `
${NUMBERS_WGSL}
@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x >= arrayLength(&input)) { return; }
  let x = input[id.x];
  output[id.x * 3u] = bitcast<u32>(f16_bits_to_f32(x & 0xffffu));
  output[id.x * 3u + 1u] = f32_to_f16_bits(bitcast<f32>(x));
  output[id.x * 3u + 2u] = f32_to_bf16_bits(bitcast<f32>(x));
}`;

function sameFloatBits(a: number, b: number): boolean {
  const fa = f32FromBits(a);
  const fb = f32FromBits(b);
  return Number.isNaN(fa) ? Number.isNaN(fb) : a === b;
}

describe('16-bit conversions in WGSL', () => {
  it('decode every f16 and encode f16/bf16 exactly as @fa/core does', async () => {
    const inputs: number[] = [];
    // Every half pattern (decode), which as f32 bits are also tiny subnormals and zeros.
    for (let h = 0; h < 0x10000; h++) inputs.push(h);
    // Values around every f16 rounding boundary: subnormals, ties, overflow, inf and NaN.
    for (let h = 0; h < 0x7c00; h += 7) {
      const mid = f32Bits((f16BitsToF32(h) + f16BitsToF32(h + 1)) / 2);
      inputs.push(mid, mid - 1, mid + 1, f32Bits(-f32FromBits(mid)));
    }
    inputs.push(f32Bits(65504), f32Bits(65520), f32Bits(65519.99), f32Bits(1e10), f32Bits(Number.POSITIVE_INFINITY));
    inputs.push(
      f32Bits(Number.NEGATIVE_INFINITY),
      0x7fc00000,
      0x7f800001,
      0xffc00001,
      f32Bits(2 ** -25),
      f32Bits(2 ** -24),
    );
    // Arbitrary f32 patterns for bf16 ties and NaN payloads.
    const random = new Random(7);
    for (let n = 0; n < 20000; n++) {
      const word = random.uint32();
      inputs.push(word, (word & 0xffff0000) | 0x8000, (word & 0xffff0000) | 0x7fff);
    }
    const input = Uint32Array.from(inputs);
    const output = await runWordKernel(KERNEL, input, input.length * 3, input.length);
    const failures: string[] = [];
    for (let n = 0; n < input.length && failures.length < 5; n++) {
      const x = input[n]!;
      if (n < 0x10000 && !sameFloatBits(output[n * 3]!, f32Bits(f16BitsToF32(x)))) failures.push(`decode ${x}`);
      if (output[n * 3 + 1] !== f32ToF16Bits(f32FromBits(x))) failures.push(`f16 ${x.toString(16)}`);
      if (output[n * 3 + 2] !== f32ToBf16Bits(f32FromBits(x))) failures.push(`bf16 ${x.toString(16)}`);
    }
    expect(failures).toEqual([]);
  });
});
