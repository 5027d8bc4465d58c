/**
 * WebGPU backend throughput. TFLOP/s of useful work: forward = 2 · Σ Lq·Lk · H · (D + Dv) (= 4·Σ Lq·Lk·H·D,
 * halved when causal), backward = 2.5 × forward (FlashAttention's convention). Kernel time comes from timestamp
 * queries when the device has them, else from wall time of many calls per submit batch; the median of the
 * timed runs after warm-up is reported. Each configuration is checked against a float64 reference on a sample
 * of rows (out, lse, and dq when the backward runs) in the same run.
 *
 *   node --conditions=@fa/source --import tsx scripts/bench.ts [options]
 *
 *   --tokens N        total tokens per batch (default 32768)
 *   --heads N         query heads (default 16); --kv-heads N (default = heads)
 *   --dims a,b        head dims (default 128,64)
 *   --dtypes a,b      f32, f16, bf16 (default f32,f16)
 *   --layouts a,b     uniform, skewed (default both); --seqlen N for uniform (default 2048)
 *   --causal a,b      true,false (default both)
 *   --no-backward     forward only
 *   --warmup N        untimed runs (default 2); --iters N timed runs (default 10)
 *   --wall            force wall-clock timing even when timestamp queries exist
 *   --smoke           tiny sizes for a CPU adapter (SwiftShader): 512 tokens, 2 heads, 1 warm-up, 2 runs
 *   --json FILE       also write the results as JSON
 *
 * Speed numbers are only meaningful on a real GPU; on SwiftShader this is a smoke test of the script.
 */
import { writeFileSync } from 'node:fs';
import { type AttnProblem, decodeToFloat32, encodeFromFloat, type FloatDType, resolveAttnProblem } from '@fa/core';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';
import { sampledReference } from './sampled-reference.js';

const argv = process.argv.slice(2);
const has = (name: string) => argv.includes(name);
function option(name: string, fallback: string): string {
  const at = argv.indexOf(name);
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback;
}
const smoke = has('--smoke');
const TOKENS = Number(option('--tokens', smoke ? '512' : '32768'));
const HEADS = Number(option('--heads', smoke ? '2' : '16'));
const KV_HEADS = Number(option('--kv-heads', String(HEADS)));
const DIMS = option('--dims', '128,64').split(',').map(Number);
const DTYPES = option('--dtypes', 'f32,f16').split(',') as FloatDType[];
const LAYOUTS = option('--layouts', 'uniform,skewed').split(',');
const SEQLEN = Number(option('--seqlen', smoke ? '128' : '2048'));
const CAUSAL = option('--causal', 'true,false')
  .split(',')
  .map((s) => s === 'true');
const BACKWARD = !has('--no-backward');
const WARMUP = Number(option('--warmup', smoke ? '1' : '2'));
const ITERS = Number(option('--iters', smoke ? '2' : '10'));
const WALL = has('--wall');
const JSON_OUT = option('--json', '');
const SAMPLE_ROWS = 24;

/** mulberry32, so the skewed layout and the data are the same every run. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function lengthsFor(layout: string): number[] {
  if (layout === 'uniform') {
    const count = Math.max(1, Math.round(TOKENS / SEQLEN));
    return Array.from({ length: count }, (_, b) => (b < count - 1 ? SEQLEN : TOKENS - SEQLEN * (count - 1)));
  }
  // Skewed: lognormal lengths (median SEQLEN / 8, sigma 1.2) with one sequence of a quarter of the tokens.
  const random = generator(7);
  const lengths = [Math.floor(TOKENS / 4)];
  let sum = lengths[0]!;
  while (sum < TOKENS) {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const length = Math.min(TOKENS - sum, Math.max(1, Math.round((SEQLEN / 8) * Math.exp(1.2 * normal))));
    lengths.push(length);
    sum += length;
  }
  return lengths;
}

function cuSeqlens(lengths: number[]): Int32Array {
  const cu = new Int32Array(lengths.length + 1);
  lengths.forEach((l, b) => {
    cu[b + 1] = cu[b]! + l;
  });
  return cu;
}

function normals(n: number, seed: number): Float32Array {
  const random = generator(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return out;
}

/** Useful forward FLOPs: visible (query, key) pairs × 2 (D + Dv) × H, causal counted as half the square. */
function forwardFlops(lengths: number[], problem: AttnProblem): number {
  const pairs = lengths.reduce((a, l) => a + l * l, 0);
  return (2 * pairs * problem.numHeads * (problem.headDim + problem.headDimV)) / (problem.causal ? 2 : 1);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Timestamp queries around every compute pass; one call's time is the sum of its passes. */
class PassTimer {
  readonly #querySet: GPUQuerySet;
  readonly #capacity: number;
  #next = 0;

  constructor(
    readonly device: GPUDevice,
    passes: number,
  ) {
    this.#capacity = passes * 2;
    this.#querySet = device.createQuerySet({ type: 'timestamp', count: this.#capacity });
  }

  hook = (): GPUComputePassTimestampWrites | undefined => {
    if (this.#next + 2 > this.#capacity) return undefined;
    const at = this.#next;
    this.#next += 2;
    return { querySet: this.#querySet, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 };
  };

  /** Nanoseconds of each pass, in order. */
  async read(): Promise<number[]> {
    const bytes = this.#next * 8;
    const resolve = this.device.createBuffer({ size: Math.max(8, bytes), usage: 0x200 | 0x4 });
    const read = this.device.createBuffer({ size: Math.max(8, bytes), usage: 0x1 | 0x8 });
    const encoder = this.device.createCommandEncoder();
    encoder.resolveQuerySet(this.#querySet, 0, this.#next, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, read, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await read.mapAsync(1);
    const stamps = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    resolve.destroy();
    read.destroy();
    this.#querySet.destroy();
    const durations: number[] = [];
    for (let n = 0; n + 1 < this.#next; n += 2) durations.push(Number(stamps[n + 1]! - stamps[n]!));
    return durations;
  }
}

/** Median seconds of one call of `run`, by timestamp queries (kernel time) or wall time (everything). */
async function time(
  backend: WebGpuBackend,
  passesPerCall: number,
  run: () => Promise<() => void>,
): Promise<{ seconds: number; method: string }> {
  for (let n = 0; n < WARMUP; n++) (await run())();
  await backend.device.queue.onSubmittedWorkDone();
  if (backend.features.timestampQuery && !WALL) {
    const timer = new PassTimer(backend.device, ITERS * passesPerCall);
    backend.setTimestampWrites(timer.hook);
    const cleanups: (() => void)[] = [];
    for (let n = 0; n < ITERS; n++) cleanups.push(await run());
    backend.setTimestampWrites(undefined);
    const passes = await timer.read();
    for (const cleanup of cleanups) cleanup();
    const perCall = Array.from({ length: ITERS }, (_, n) =>
      passes.slice(n * passesPerCall, (n + 1) * passesPerCall).reduce((a, b) => a + b, 0),
    );
    return { seconds: median(perCall) / 1e9, method: 'timestamps' };
  }
  // Wall time of batches of calls submitted back to back, waiting once per batch.
  const samples: number[] = [];
  const batch = Math.max(1, Math.min(8, ITERS));
  for (let s = 0; s < Math.max(1, Math.round(ITERS / batch)); s++) {
    const cleanups: (() => void)[] = [];
    const start = performance.now();
    for (let n = 0; n < batch; n++) cleanups.push(await run());
    await backend.device.queue.onSubmittedWorkDone();
    samples.push((performance.now() - start) / batch / 1e3);
    for (const cleanup of cleanups) cleanup();
  }
  return { seconds: median(samples), method: 'wall' };
}

interface Result {
  dtype: FloatDType;
  headDim: number;
  layout: string;
  causal: boolean;
  sequences: number;
  tokens: number;
  forwardMs: number;
  forwardTflops: number;
  backwardMs: number | null;
  backwardTflops: number | null;
  timing: string;
  maxErrorOut: number;
  maxErrorLse: number;
  maxErrorDq: number | null;
}

async function benchOne(
  backend: WebGpuBackend,
  dtype: FloatDType,
  headDim: number,
  layout: string,
  causal: boolean,
): Promise<Result> {
  const lengths = lengthsFor(layout);
  const cu = cuSeqlens(lengths);
  const T = TOKENS;
  const qMeta = { shape: [T, HEADS, headDim], dtype };
  const kMeta = { shape: [T, KV_HEADS, headDim], dtype };
  const problem = resolveAttnProblem(qMeta, kMeta, kMeta, { cuSeqlensQ: cu, cuSeqlensK: cu, causal });
  // Host data rounded to the storage dtype; `values` is what the kernels read, decoded, for the reference.
  const host = (n: number, seed: number) => {
    const data = encodeFromFloat(normals(n, seed), dtype);
    return { data, values: decodeToFloat32(data, dtype) };
  };
  const q = host(T * HEADS * headDim, 1);
  const k = host(T * KV_HEADS * headDim, 2);
  const v = host(T * KV_HEADS * headDim, 3);
  const dout = host(T * HEADS * headDim, 4);
  const decode = async (buffer: GPUBuffer, shape: number[]) => {
    const t = await backend.download(buffer, shape, dtype);
    return decodeToFloat32(t.data as Float32Array | Uint16Array, dtype);
  };
  const upload = (data: Float32Array | Uint16Array, shape: number[]) =>
    backend.upload({ data, shape, dtype } as Parameters<WebGpuBackend['upload']>[0]);
  const hq = await upload(q.data, qMeta.shape);
  const hk = await upload(k.data, kMeta.shape);
  const hv = await upload(v.data, kMeta.shape);
  const hd = await upload(dout.data, qMeta.shape);

  const forward = await time(backend, 1, async () => {
    const { out, lse } = await backend.forward(hq, hk, hv, problem);
    return () => {
      backend.dispose(out);
      backend.dispose(lse);
    };
  });
  const { out, lse } = await backend.forward(hq, hk, hv, problem);
  let backward: { seconds: number; method: string } | null = null;
  let dqValues: Float32Array | null = null;
  if (BACKWARD) {
    backward = await time(backend, 3, async () => {
      const g = await backend.backward(hd, hq, hk, hv, out, lse, problem);
      return () => {
        for (const b of [g.dq, g.dk, g.dv]) backend.dispose(b);
      };
    });
    const g = await backend.backward(hd, hq, hk, hv, out, lse, problem);
    dqValues = await decode(g.dq, qMeta.shape);
    for (const b of [g.dq, g.dk, g.dv]) backend.dispose(b);
  }

  // Error on a sample of rows: the longest sequence's first and last rows and random rows elsewhere.
  const outValues = await decode(out, qMeta.shape);
  const lseValues = new Float32Array((await backend.download(lse, [HEADS, T], 'f32')).data as Float32Array);
  const random = generator(11);
  const longest = lengths.indexOf(Math.max(...lengths));
  const rows = [
    { b: longest, h: 0, i: 0 },
    { b: longest, h: HEADS - 1, i: lengths[longest]! - 1 },
    ...Array.from({ length: SAMPLE_ROWS }, () => {
      const b = Math.floor(random() * lengths.length);
      return { b, h: Math.floor(random() * HEADS), i: Math.floor(random() * lengths[b]!) };
    }),
  ];
  const sample = sampledReference(problem, q.values, k.values, v.values, BACKWARD ? dout.values : null, rows);
  let errOut = 0;
  let errLse = 0;
  let errDq = 0;
  for (const row of sample) {
    const token = cu[row.b]! + row.i;
    for (let d = 0; d < headDim; d++) {
      errOut = Math.max(errOut, Math.abs(outValues[(token * HEADS + row.h) * headDim + d]! - row.out[d]!));
      if (dqValues && row.dq)
        errDq = Math.max(errDq, Math.abs(dqValues[(token * HEADS + row.h) * headDim + d]! - row.dq[d]!));
    }
    const got = lseValues[row.h * T + token]!;
    errLse = Math.max(errLse, got === row.lse ? 0 : Math.abs(got - row.lse));
  }
  for (const b of [hq, hk, hv, hd, out, lse]) backend.dispose(b);

  const flops = forwardFlops(lengths, problem);
  return {
    dtype,
    headDim,
    layout,
    causal,
    sequences: lengths.length,
    tokens: T,
    forwardMs: forward.seconds * 1e3,
    forwardTflops: flops / forward.seconds / 1e12,
    backwardMs: backward ? backward.seconds * 1e3 : null,
    backwardTflops: backward ? (2.5 * flops) / backward.seconds / 1e12 : null,
    timing: forward.method,
    maxErrorOut: errOut,
    maxErrorLse: errLse,
    maxErrorDq: BACKWARD ? errDq : null,
  };
}

const backend = await createWebGpuBackend({ checkErrors: false });
console.log(`# fa webgpu benchmark — ${backend.adapterInfo}`);
console.log(
  `tokens ${TOKENS}, heads ${HEADS}/${KV_HEADS}, timing: ${backend.features.timestampQuery && !WALL ? 'timestamp queries' : 'wall clock'}, ${WARMUP} warm-up + ${ITERS} runs, median\n`,
);
console.log(
  '| dtype | D | layout | causal | seqs | fwd ms | fwd TFLOP/s | bwd ms | bwd TFLOP/s | err out | err lse | err dq |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
const results: Result[] = [];
for (const dtype of DTYPES) {
  for (const headDim of DIMS) {
    for (const layout of LAYOUTS) {
      for (const causal of CAUSAL) {
        const r = await benchOne(backend, dtype, headDim, layout, causal);
        results.push(r);
        const f = (x: number | null, digits = 3) =>
          x === null ? '—' : x < 1e-3 ? x.toPrecision(2) : x.toFixed(digits);
        const e = (x: number | null) => (x === null ? '—' : x.toExponential(1));
        console.log(
          `| ${dtype} | ${headDim} | ${layout} | ${causal} | ${r.sequences} | ${f(r.forwardMs, 2)} | ${f(r.forwardTflops)} | ${f(r.backwardMs, 2)} | ${f(r.backwardTflops)} | ${e(r.maxErrorOut)} | ${e(r.maxErrorLse)} | ${e(r.maxErrorDq)} |`,
        );
      }
    }
  }
}
if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify({ adapter: backend.adapterInfo, results }, null, 2)}\n`);
backend.destroy();
