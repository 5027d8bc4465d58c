import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fixedCases } from './cases.js';
import { attnInputs } from './inputs.js';

function digest(inputs: ReturnType<typeof attnInputs>): string {
  const hash = createHash('sha256');
  for (const t of [inputs.q, inputs.k, inputs.v, inputs.dout]) {
    hash.update(`${t.shape.join(',')} ${t.dtype}`);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  hash.update(JSON.stringify(inputs.options, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Int32Array) : v)));
  return hash.digest('hex').slice(0, 16);
}

describe('attnInputs', () => {
  const everything = fixedCases().find((c) => c.name === 'everything at once')!;

  it('draws q, k, v, dout, the ALiBi slopes and the dropout seed from one seed, in a fixed order', () => {
    const inputs = attnInputs(everything, 7);
    expect(inputs.q.shape).toEqual([44, 4, 40]);
    expect(inputs.k.shape).toEqual([51, 2, 40]);
    expect(inputs.v.shape).toEqual([51, 2, 24]);
    expect(inputs.dout.shape).toEqual([44, 4, 24]);
    expect(Array.from(inputs.options.cuSeqlensQ as Int32Array)).toEqual([0, 13, 13, 39, 44]);
    expect(Array.from(inputs.options.cuSeqlensK as Int32Array)).toEqual([0, 20, 23, 49, 51]);
    expect(inputs.options.alibiSlopes?.length).toBe(4);
    expect(Number.isSafeInteger(inputs.options.seed)).toBe(true);
    // The conformance suite's draws for a printed seed: any change here changes what every backend is given.
    expect(digest(inputs)).toBe('190f27ff6de2a187');
    expect(digest(attnInputs(everything, 7))).toBe(digest(inputs));
    expect(digest(attnInputs(everything, 8))).not.toBe(digest(inputs));
  });

  it('fills in the defaults of a short case and stores the dtype asked for', () => {
    const inputs = attnInputs({ name: 'short', lengthsQ: [5, 0, 3], dtype: 'bf16' }, 1);
    expect(inputs.q.shape).toEqual([8, 2, 32]);
    expect(inputs.q.dtype).toBe('bf16');
    expect(inputs.q.data).toBeInstanceOf(Uint16Array);
    expect(inputs.options.alibiSlopes).toBeUndefined();
    expect(inputs.options.seed).toBeUndefined();
    expect(Array.from(inputs.q.data).some((x) => x === 0)).toBe(false);
  });
});
