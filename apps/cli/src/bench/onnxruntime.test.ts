import { describe, expect, it } from 'vitest';
import { compareResults, computeReference, packedLayout, planCheck } from '../check.js';
import { batchFromLengths, randomInputs, seededRandom } from '../workload.js';
import {
  keyPaddingMask,
  loadOnnxruntime,
  multiHeadAttentionModel,
  onnxruntimeForward,
  ProtoWriter,
  padRows,
  unpadRows,
} from './onnxruntime.js';

/** Reads one level of protobuf fields: [field number, wire type, value or bytes]. */
function fields(bytes: Uint8Array): [number, number, number | Uint8Array][] {
  const out: [number, number, number | Uint8Array][] = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[at++] as number;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) out.push([key >>> 3, wire, varint()]);
    else if (wire === 2) {
      const length = varint();
      out.push([key >>> 3, wire, bytes.subarray(at, at + length)]);
      at += length;
    } else if (wire === 5) {
      out.push([key >>> 3, wire, new DataView(bytes.buffer, bytes.byteOffset + at, 4).getFloat32(0, true)]);
      at += 4;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

const text = (value: number | Uint8Array) => new TextDecoder().decode(value as Uint8Array);
const field = (list: ReturnType<typeof fields>, n: number) => list.filter(([f]) => f === n).map(([, , v]) => v);

describe('the ONNX model writer', () => {
  it('encodes varints as protobuf does', () => {
    expect([...new ProtoWriter().varint(0).finish()]).toEqual([0]);
    expect([...new ProtoWriter().varint(300).finish()]).toEqual([0xac, 0x02]);
    expect([...new ProtoWriter().varint(2 ** 35).finish()]).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(() => new ProtoWriter().varint(-1)).toThrow(RangeError);
  });

  it('builds a ModelProto with one com.microsoft.MultiHeadAttention node', () => {
    const model = fields(multiHeadAttentionModel({ heads: 4, headDim: 16, causal: true }));
    expect(field(model, 1)).toEqual([10]); // ir_version
    const opsets = field(model, 8).map((o) => fields(o as Uint8Array));
    expect(opsets.map((o) => [text(field(o, 1)[0] ?? new Uint8Array()), field(o, 2)[0]])).toEqual([
      ['', 21],
      ['com.microsoft', 1],
    ]);
    const graph = fields(field(model, 7)[0] as Uint8Array);
    expect(field(graph, 11).map((i) => text(field(fields(i as Uint8Array), 1)[0] as Uint8Array))).toEqual([
      'query',
      'key',
      'value',
      'key_padding_mask',
    ]);
    const [node, ...others] = field(graph, 1).map((n) => fields(n as Uint8Array));
    expect(others).toHaveLength(0);
    const nodeFields = node as ReturnType<typeof fields>;
    expect(field(nodeFields, 1).map(text)).toEqual(['query', 'key', 'value', '', 'key_padding_mask']);
    expect(text(field(nodeFields, 4)[0] as Uint8Array)).toBe('MultiHeadAttention');
    expect(text(field(nodeFields, 7)[0] as Uint8Array)).toBe('com.microsoft');
    const attributes = field(nodeFields, 5).map((a) => fields(a as Uint8Array));
    const byName = Object.fromEntries(attributes.map((a) => [text(field(a, 1)[0] as Uint8Array), a]));
    expect(field(byName.num_heads ?? [], 3)).toEqual([4]);
    expect(field(byName.num_heads ?? [], 20)).toEqual([2]); // AttributeProto.INT
    expect(field(byName.scale ?? [], 2)[0]).toBeCloseTo(0.25, 7);
    expect(field(byName.scale ?? [], 20)).toEqual([1]); // AttributeProto.FLOAT
    expect(field(byName.unidirectional ?? [], 3)).toEqual([1]);
    const nonCausal = fields(multiHeadAttentionModel({ heads: 4, headDim: 16, causal: false }));
    expect(text(field(nonCausal, 7)[0] as Uint8Array)).not.toContain('unidirectional');
  });

  it('pads, masks and unpads a packed batch', () => {
    const batch = batchFromLengths([2, 3]);
    const packed = Float32Array.from({ length: 5 * 2 }, (_, i) => i + 1);
    const padded = padRows(packed, batch, 2);
    expect([...padded]).toEqual([1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 9, 10]);
    expect([...keyPaddingMask(batch)]).toEqual([1, 1, 0, 1, 1, 1]);
    expect([...unpadRows(padded, batch, 2)]).toEqual([...packed]);
  });
});

describe('loadOnnxruntime', () => {
  it('says why when the package cannot be loaded', async () => {
    const load = await loadOnnxruntime('onnxruntime-node-that-does-not-exist');
    expect(load.ok).toBe(false);
    if (!load.ok) expect(load.reason).toMatch(/onnxruntime-node-that-does-not-exist/);
  });
});

const loaded = await loadOnnxruntime();
const skipReason = loaded.ok ? '' : ` (skipped: onnxruntime-node does not load here: ${loaded.reason})`;

describe.skipIf(!loaded.ok)(`onnxruntime-node MultiHeadAttention on a padded batch${skipReason}`, () => {
  for (const causal of [false, true]) {
    it(`matches the float64 reference on the real tokens (${causal ? 'causal' : 'non-causal'})`, async () => {
      if (!loaded.ok) return;
      const rng = seededRandom(7);
      const heads = 3;
      const headDim = 8;
      // Very unequal lengths, so that most of the padded batch is padding that the mask must hide.
      const batch = batchFromLengths([1, 13, 4, 29]);
      const inputs = randomInputs(rng, batch.tokens, heads, headDim, 'f32');
      const plan = planCheck(batch, heads, rng, { sequences: 4, heads, budget: 1e6, causal });
      const answer = computeReference(inputs, batch, plan, false);
      const out = await onnxruntimeForward(
        loaded.ort,
        inputs.q as Float32Array,
        inputs.k as Float32Array,
        inputs.v as Float32Array,
        batch,
        { heads, headDim, causal },
      );
      expect(out.length).toBe(batch.tokens * heads * headDim);
      const check = compareResults(answer, { out }, packedLayout(batch, heads));
      expect(check.quantities.map((q) => q.quantity)).toEqual(['out']);
      expect(check.pass).toBe(true);
      expect(check.quantities[0]?.maxError).toBeLessThan(1e-5);
    });
  }
});
