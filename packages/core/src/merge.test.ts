import { describe, expect, it } from 'vitest';
import { encodeFromFloat } from './dtype.js';
import { mergeAttnStates } from './merge.js';
import { referenceAttnForward } from './reference.js';
import type { HostTensor } from './tensor.js';

function randomF32(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.random() * 2 - 1 + 0.05);
}

function f32(data: Float64Array, shape: number[]): HostTensor<'f32'> {
  return { data: encodeFromFloat(data, 'f32'), shape, dtype: 'f32' };
}

describe('mergeAttnStates', () => {
  it('merges attention over two halves of the keys into attention over all of them', () => {
    const [lq, lk, heads, dim] = [7, 12, 3, 5];
    const q = { data: randomF32(lq * heads * dim), shape: [lq, heads, dim], dtype: 'f32' as const };
    const k = randomF32(lk * heads * dim);
    const v = randomF32(lk * heads * dim);
    const half = (from: number, to: number) => ({
      k: { data: k.slice(from * heads * dim, to * heads * dim), shape: [to - from, heads, dim], dtype: 'f32' as const },
      v: { data: v.slice(from * heads * dim, to * heads * dim), shape: [to - from, heads, dim], dtype: 'f32' as const },
    });
    const options = (n: number) => ({
      cuSeqlensQ: Int32Array.of(0, lq),
      cuSeqlensK: Int32Array.of(0, n),
      softmaxScale: 0.4,
    });
    const full = referenceAttnForward(q, half(0, lk).k, half(0, lk).v, options(lk));
    const a = referenceAttnForward(q, half(0, 5).k, half(0, 5).v, options(5));
    const b = referenceAttnForward(q, half(5, lk).k, half(5, lk).v, options(lk - 5));
    const merged = mergeAttnStates(
      f32(a.out, [lq, heads, dim]),
      f32(a.lse, [heads, lq]),
      f32(b.out, [lq, heads, dim]),
      f32(b.lse, [heads, lq]),
    );
    merged.out.data.forEach((x, i) => expect(x).toBeCloseTo(full.out[i]!, 5));
    merged.lse.data.forEach((x, i) => expect(x).toBeCloseTo(full.lse[i]!, 5));
  });

  it('treats an lse of +inf as a state that saw no key', () => {
    const out1 = { data: Float32Array.of(0.5, -1.5), shape: [1, 1, 2], dtype: 'f32' as const };
    const lse1 = { data: Float32Array.of(0.75), shape: [1, 1], dtype: 'f32' as const };
    const empty = { data: Float32Array.of(0, 0), shape: [1, 1, 2], dtype: 'f32' as const };
    const emptyLse = { data: Float32Array.of(Number.POSITIVE_INFINITY), shape: [1, 1], dtype: 'f32' as const };
    const merged = mergeAttnStates(out1, lse1, empty, emptyLse);
    expect([...merged.out.data]).toEqual([0.5, -1.5]);
    expect(merged.lse.data[0]).toBe(0.75);
    const both = mergeAttnStates(empty, emptyLse, empty, emptyLse);
    expect(both.lse.data[0]).toBe(Number.POSITIVE_INFINITY);
    expect([...both.out.data]).toEqual([0, 0]);
  });

  it('rejects mismatched shapes with the argument named', () => {
    const out = { data: new Float32Array(6).fill(0.5), shape: [3, 1, 2], dtype: 'f32' as const };
    const lse = { data: new Float32Array(3).fill(0.5), shape: [1, 3], dtype: 'f32' as const };
    const short = { data: new Float32Array(2).fill(0.5), shape: [1, 2], dtype: 'f32' as const };
    expect(() => mergeAttnStates(out, lse, out, short)).toThrow(/`lse2`/);
  });
});
