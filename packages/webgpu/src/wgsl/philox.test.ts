import { philox4x32 } from '@fa/core';
import { Random } from '@fa/testkit';
import { describe, expect, it } from 'vitest';
import { runWordKernel } from '../../test/run-kernel.js';
import { PHILOX_WGSL } from './philox.js';

// Input per item: counter (4 words) and key (2 words); output: the 4 Philox words.
const KERNEL = /* wgsl */ `
${PHILOX_WGSL}
@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let n = arrayLength(&output) / 4u;
  if (id.x >= n) { return; }
  let base = id.x * 6u;
  let words = philox4x32(
    vec4<u32>(input[base], input[base + 1u], input[base + 2u], input[base + 3u]),
    vec2<u32>(input[base + 4u], input[base + 5u]),
  );
  for (var w = 0u; w < 4u; w = w + 1u) { output[id.x * 4u + w] = words[w]; }
}`;

describe('Philox4x32-10 in WGSL', () => {
  it('matches @fa/core bit for bit on many counters and keys', async () => {
    const count = 4096;
    const input = new Uint32Array(count * 6);
    const random = new Random(0x12345678);
    const next = () => random.uint32();
    for (let n = 0; n < count; n++) {
      // Small counters like the kernels use, then arbitrary words, then the extremes.
      const kind = n % 3;
      const words =
        kind === 0
          ? [n >>> 2, n % 97, n % 5, n % 3, 0x9abcdef0, 0x1234]
          : kind === 1
            ? Array.from({ length: 6 }, next)
            : [0xffffffff, 0xffffffff - n, 0, 0xffffffff, 0xffffffff, n];
      input.set(words, n * 6);
    }
    const output = await runWordKernel(KERNEL, input, count * 4, count);
    const expected = new Uint32Array(count * 4);
    const words = new Uint32Array(4);
    for (let n = 0; n < count; n++) {
      const c = input.subarray(n * 6, n * 6 + 6);
      philox4x32(c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, words);
      expected.set(words, n * 4);
    }
    expect(output).toEqual(expected);
  });
});
