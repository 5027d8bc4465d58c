import os from 'node:os';
import type * as OrtModule from 'onnxruntime-node';
import type { Batch } from '../workload.js';

/**
 * The baseline a user has today: onnxruntime-node's native CPU `com.microsoft.MultiHeadAttention`. ONNX Runtime has
 * no varlen attention on CPU, so a packed batch has to be padded to its longest sequence, `(B, S_max, H·D)`, with a
 * `key_padding_mask (B, S_max)` that hides the padding from every query. The model, a single MultiHeadAttention
 * node, is built in memory by the small protobuf writer below; no .onnx file and no protobuf library are needed.
 *
 * onnxruntime-node is an optional dev dependency: it is loaded with a dynamic import, and a machine where it is
 * missing or its native binary does not load gets a row that says why instead of a crash.
 *
 * Semantics (checked by `onnxruntime.test.ts` against the float64 reference): ORT's CPU kernel adds
 * `mask_filter_value` (default -10000) to the scaled scores of masked keys, which underflows to exactly 0 after the
 * softmax in f32, and `unidirectional = 1` adds the same value above the diagonal (top-left aligned, which equals
 * flash-attention's bottom-right alignment here since queries and keys have the same length). With a mask or
 * `unidirectional` the CPU kernel takes its unfused path (the full S×S scores of every batch entry and head, as two
 * GEMMs and a softmax), not its MLAS flash-attention path, which only runs without either.
 */

export type Ort = typeof OrtModule;

export const ONNXRUNTIME_PACKAGE = 'onnxruntime-node';
export const IR_VERSION = 10;
export const AI_ONNX_OPSET = 21;
export const MICROSOFT_OPSET = 1;

export type OnnxruntimeLoad =
  | { readonly ok: true; readonly ort: Ort; readonly version: string }
  | { readonly ok: false; readonly reason: string };

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() || 'unknown error';
}

/** Imports onnxruntime-node, or says why it cannot be used here. `specifier` is for tests. */
export async function loadOnnxruntime(specifier: string = ONNXRUNTIME_PACKAGE): Promise<OnnxruntimeLoad> {
  try {
    const module = (await import(specifier)) as Ort & { default?: Ort };
    const ort = (module.InferenceSession ? module : module.default) as Ort | undefined;
    if (!ort?.InferenceSession || !ort.Tensor) return { ok: false, reason: `${specifier} has no InferenceSession` };
    const versions = ort.env?.versions as Record<string, string | undefined> | undefined;
    return { ok: true, ort, version: versions?.node ?? versions?.common ?? 'unknown' };
  } catch (error) {
    return { ok: false, reason: firstLine(error) };
  }
}

// --- A minimal protobuf writer: just what ModelProto needs (varints, length-delimited fields, fixed32 floats).

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

export class ProtoWriter {
  private readonly bytes: number[] = [];

  /** A non-negative integer below 2^53 as a base-128 varint. */
  varint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint expects a safe integer ≥ 0: ${value}`);
    while (value >= 0x80) {
      this.bytes.push((value % 0x80) | 0x80);
      value = Math.floor(value / 0x80);
    }
    this.bytes.push(value);
    return this;
  }

  private key(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  int(field: number, value: number): this {
    return this.key(field, WIRE_VARINT).varint(value);
  }

  float(field: number, value: number): this {
    this.key(field, WIRE_FIXED32);
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.bytes.push(view.getUint8(i));
    return this;
  }

  raw(field: number, data: Uint8Array): this {
    this.key(field, WIRE_LENGTH_DELIMITED).varint(data.length);
    for (const byte of data) this.bytes.push(byte);
    return this;
  }

  string(field: number, value: string): this {
    return this.raw(field, new TextEncoder().encode(value));
  }

  message(field: number, message: ProtoWriter): this {
    return this.raw(field, message.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** Field numbers of onnx.proto (onnx/onnx, onnx/onnx.proto), only those used here. */
const ONNX = {
  model: { irVersion: 1, producerName: 2, producerVersion: 3, graph: 7, opsetImport: 8 },
  opset: { domain: 1, version: 2 },
  graph: { node: 1, name: 2, input: 11, output: 12 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 },
  attribute: { name: 1, f: 2, i: 3, type: 20 },
  attributeType: { FLOAT: 1, INT: 2 },
  valueInfo: { name: 1, type: 2 },
  type: { tensorType: 1 },
  tensorType: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dimension: { dimValue: 1, dimParam: 2 },
  dataType: { FLOAT: 1, INT32: 6 },
} as const;

function valueInfo(name: string, elemType: number, dims: readonly (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const dim of dims) {
    const d = new ProtoWriter();
    if (typeof dim === 'number') d.int(ONNX.dimension.dimValue, dim);
    else d.string(ONNX.dimension.dimParam, dim);
    shape.message(ONNX.shape.dim, d);
  }
  const tensorType = new ProtoWriter().int(ONNX.tensorType.elemType, elemType).message(ONNX.tensorType.shape, shape);
  return new ProtoWriter()
    .string(ONNX.valueInfo.name, name)
    .message(ONNX.valueInfo.type, new ProtoWriter().message(ONNX.type.tensorType, tensorType));
}

function intAttribute(name: string, value: number): ProtoWriter {
  return new ProtoWriter()
    .string(ONNX.attribute.name, name)
    .int(ONNX.attribute.i, value)
    .int(ONNX.attribute.type, ONNX.attributeType.INT);
}

function floatAttribute(name: string, value: number): ProtoWriter {
  return new ProtoWriter()
    .string(ONNX.attribute.name, name)
    .float(ONNX.attribute.f, value)
    .int(ONNX.attribute.type, ONNX.attributeType.FLOAT);
}

export interface MhaModelOptions {
  readonly heads: number;
  readonly headDim: number;
  readonly causal: boolean;
  /** Defaults to 1/√D, as flash-attention and the reference use. */
  readonly softmaxScale?: number;
}

/** Graph input and output names; the batch and sequence axes are symbolic, so one model serves any padded batch. */
export const MHA_INPUTS = ['query', 'key', 'value', 'key_padding_mask'] as const;
export const MHA_OUTPUT = 'output';

/**
 * ModelProto bytes of one `com.microsoft.MultiHeadAttention` node: query, key, value `(batch, sequence, H·D)` f32
 * and `key_padding_mask (batch, sequence)` int32 (1 = token, 0 = padding) → output `(batch, sequence, H·D)`.
 * The contrib op's inputs are positional (query, key, value, bias, key_padding_mask, attention_bias, past_key,
 * past_value, …): the skipped bias gets an empty name.
 */
export function multiHeadAttentionModel(options: MhaModelOptions): Uint8Array {
  const { heads, headDim, causal } = options;
  const hidden = heads * headDim;
  const node = new ProtoWriter();
  for (const input of ['query', 'key', 'value', '', 'key_padding_mask']) node.string(ONNX.node.input, input);
  node
    .string(ONNX.node.output, MHA_OUTPUT)
    .string(ONNX.node.name, 'attention')
    .string(ONNX.node.opType, 'MultiHeadAttention')
    .string(ONNX.node.domain, 'com.microsoft')
    .message(ONNX.node.attribute, intAttribute('num_heads', heads))
    .message(ONNX.node.attribute, floatAttribute('scale', options.softmaxScale ?? 1 / Math.sqrt(headDim)));
  if (causal) node.message(ONNX.node.attribute, intAttribute('unidirectional', 1));

  const graph = new ProtoWriter().message(ONNX.graph.node, node).string(ONNX.graph.name, 'fa-bench-mha');
  for (const name of ['query', 'key', 'value']) {
    graph.message(ONNX.graph.input, valueInfo(name, ONNX.dataType.FLOAT, ['batch', 'sequence', hidden]));
  }
  graph.message(ONNX.graph.input, valueInfo('key_padding_mask', ONNX.dataType.INT32, ['batch', 'sequence']));
  graph.message(ONNX.graph.output, valueInfo(MHA_OUTPUT, ONNX.dataType.FLOAT, ['batch', 'sequence', hidden]));

  return new ProtoWriter()
    .int(ONNX.model.irVersion, IR_VERSION)
    .string(ONNX.model.producerName, 'fa bench')
    .string(ONNX.model.producerVersion, '0')
    .message(ONNX.model.graph, graph)
    .message(
      ONNX.model.opsetImport,
      new ProtoWriter().string(ONNX.opset.domain, '').int(ONNX.opset.version, AI_ONNX_OPSET),
    )
    .message(
      ONNX.model.opsetImport,
      new ProtoWriter().string(ONNX.opset.domain, 'com.microsoft').int(ONNX.opset.version, MICROSOFT_OPSET),
    )
    .finish();
}

/** What the bench records about this baseline, for the JSON and the text. */
export function describeOnnxruntimeModel(threads: number): string {
  return (
    `one com.microsoft.MultiHeadAttention node (ONNX IR ${IR_VERSION}, opsets ai.onnx ${AI_ONNX_OPSET} and ` +
    `com.microsoft ${MICROSOFT_OPSET}, built in memory): num_heads = H, scale = 1/√D, unidirectional = 1 when causal; ` +
    'query/key/value (B, S_max, H·D) f32 padded with zeros to the longest sequence, key_padding_mask (B, S_max) int32 ' +
    `(1 = token, 0 = padding); CPU execution provider, intraOpNumThreads = ${threads}, interOpNumThreads = 1. With ` +
    'a mask the CPU kernel runs its unfused path (full S_max × S_max scores per sequence and head, causal included); ' +
    'its output is unpadded before the check'
  );
}

// --- Padding a packed batch the way an ORT user must.

/** `(total, H·D)` packed rows → `(B, S_max, H·D)` with zero rows for the padding. */
export function padRows(packed: Float32Array, batch: Batch, rowSize: number): Float32Array {
  const out = new Float32Array(batch.lengths.length * batch.maxSeqlen * rowSize);
  batch.lengths.forEach((length, b) => {
    const from = (batch.cuSeqlens[b] as number) * rowSize;
    out.set(packed.subarray(from, from + length * rowSize), b * batch.maxSeqlen * rowSize);
  });
  return out;
}

/** The inverse of `padRows`: drops the padding rows. */
export function unpadRows(padded: Float32Array, batch: Batch, rowSize: number): Float32Array {
  const out = new Float32Array(batch.tokens * rowSize);
  batch.lengths.forEach((length, b) => {
    const from = b * batch.maxSeqlen * rowSize;
    out.set(padded.subarray(from, from + length * rowSize), (batch.cuSeqlens[b] as number) * rowSize);
  });
  return out;
}

/** `(B, S_max)` int32: 1 for a token, 0 for padding. */
export function keyPaddingMask(batch: Batch): Int32Array {
  const mask = new Int32Array(batch.lengths.length * batch.maxSeqlen);
  batch.lengths.forEach((length, b) => {
    mask.fill(1, b * batch.maxSeqlen, b * batch.maxSeqlen + length);
  });
  return mask;
}

export interface OrtFeeds {
  readonly feeds: Record<string, OrtModule.Tensor>;
  readonly batch: Batch;
}

/** A session running one MultiHeadAttention model on padded batches. */
export class OnnxruntimeAttention {
  private constructor(
    private readonly ort: Ort,
    private readonly session: OrtModule.InferenceSession,
    readonly options: MhaModelOptions,
    readonly threads: number,
  ) {}

  static async create(ort: Ort, options: MhaModelOptions, threads = os.cpus().length): Promise<OnnxruntimeAttention> {
    const session = await ort.InferenceSession.create(multiHeadAttentionModel(options), {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    return new OnnxruntimeAttention(ort, session, options, threads);
  }

  /** Pads packed `(total, H, D)` f32 inputs and wraps them as ORT tensors (outside any timed region). */
  prepare(q: Float32Array, k: Float32Array, v: Float32Array, batch: Batch): OrtFeeds {
    const row = this.options.heads * this.options.headDim;
    const dims = [batch.lengths.length, batch.maxSeqlen, row];
    const t = (data: Float32Array) => new this.ort.Tensor('float32', padRows(data, batch, row), dims);
    return {
      batch,
      feeds: {
        query: t(q),
        key: t(k),
        value: t(v),
        key_padding_mask: new this.ort.Tensor('int32', keyPaddingMask(batch), [batch.lengths.length, batch.maxSeqlen]),
      },
    };
  }

  /** One forward call; resolves with the padded output `(B, S_max, H·D)`. */
  async run(prepared: OrtFeeds): Promise<Float32Array> {
    const results = await this.session.run(prepared.feeds);
    const output = results[MHA_OUTPUT];
    if (!output || !(output.data instanceof Float32Array)) throw new Error('MultiHeadAttention returned no f32 output');
    return output.data;
  }

  /** The padded output back in packed `(total, H, D)` order. */
  unpad(output: Float32Array, batch: Batch): Float32Array {
    return unpadRows(output, batch, this.options.heads * this.options.headDim);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Pads, runs once and unpads: packed `(total, H, D)` in, packed out. */
export async function onnxruntimeForward(
  ort: Ort,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  batch: Batch,
  options: MhaModelOptions,
): Promise<Float32Array> {
  const attention = await OnnxruntimeAttention.create(ort, options);
  try {
    return attention.unpad(await attention.run(attention.prepare(q, k, v, batch)), batch);
  } finally {
    await attention.release();
  }
}
