/**
 * Philox4x32-10 in WGSL, bit-identical to `@fa/core`'s `philox4x32`. WGSL has no 64-bit integers, so the
 * 32×32→64 multiply is assembled from 16-bit halves (the same decomposition as core's `mulhi32`); the low word
 * is plain wrapping u32 multiplication.
 */
export const PHILOX_WGSL = /* wgsl */ `
// (high, low) words of the 64-bit product a * b.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let low_low = al * bl;
  let low_high = al * bh;
  let high_low = ah * bl;
  let carry = (low_low >> 16u) + (low_high & 0xffffu) + (high_low & 0xffffu);
  let high = ah * bh + (low_high >> 16u) + (high_low >> 16u) + (carry >> 16u);
  return vec2<u32>(high, a * b);
}

// Counter c = (c0, c1, c2, c3), key k = (k0, k1); ten rounds with Weyl-sequence key bumps.
fn philox4x32(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
  var x = c;
  var key = k;
  for (var round = 0u; round < 10u; round = round + 1u) {
    let p0 = mul_wide(0xd2511f53u, x.x);
    let p1 = mul_wide(0xcd9e8d57u, x.z);
    x = vec4<u32>(p1.x ^ x.y ^ key.x, p1.y, p0.x ^ x.w ^ key.y, p0.y);
    key = key + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
  }
  return x;
}
`;
