/**
 * WebGPU backend throughput, on the workloads of @fa/testkit (src/workloads.ts) (the same cu_seqlens as the CUDA bench and
 * the PyTorch script). TFLOP/s of useful work: forward = 2 · Σ Lq·Lk · H · (D + Dv) (= 4·Σ Lq·Lk·H·D,
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
 *   --layouts a,b     uniform (lengths drawn from 128..4096), skewed (half the tokens in a few sequences of
 *                     4096..8192, half in many of 16..512), fixed (every sequence --seqlen long, default 2048);
 *                     default uniform,skewed; see packages/testkit/src/workloads.ts
 *   --causal a,b      true,false (default both)
 *   --no-backward     forward only
 *   --warmup N        untimed runs (default 2); --iters N timed runs (default 10)
 *   --wall            force wall-clock timing even when timestamp queries exist
 *   --smoke           tiny sizes for a CPU adapter (SwiftShader): 512 tokens, 2 heads, 1 warm-up, 2 runs
 *   --dawn-toggles a,b  extra Dawn toggles for the Node `webgpu` package (e.g. vulkan_enable_f16_on_nvidia,
 *                     allow_unsafe_apis), added to the backend's own disable_workgroup_init
 *   --no-subgroups    reduce rows through workgroup memory even where subgroups qualify
 *   --vec4            vec4 tiles in every kernel (tilingLimits.vec4)
 *   --shapes SPEC     candidate tile shapes in place of the built-in ones, e.g.
 *                     'forward=128x64x32x4,256x64x64x4;dq=256x64x64x4;dkdv=256x32x64x2x4' (wg x bm x bn x rm [x km])
 *   --json FILE       also write the results as JSON
 *
 * The last three are for tuning: run the same workload once per variant and compare. Each row records the tile
 * configuration the kernels compiled with.
 *
 * Speed numbers are only meaningful on a real GPU; on SwiftShader this is a smoke test of the script.
 */
import { writeFileSync } from 'node:fs';
import { decodeToFloat32, encodeFromFloat, type FloatDType, resolveAttnProblem } from '@fa/core';
import {
  BACKWARD_FLOP_FACTOR,
  FORWARD_BACKWARD_FLOP_FACTOR,
  forwardFlops,
  GENERATOR,
  GENERATOR_VERSION,
  type Layout,
  median,
  normals,
  sampledReference,
  workload,
} from '@fa/testkit';
import { createWebGpuBackend, type TileShape, type TilingLimits, type WebGpuBackend } from '../src/index.js';
import { chooseTileConfig, configKey, type KernelKind } from '../src/plan/config.js';

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
const LAYOUTS = option('--layouts', 'uniform,skewed').split(',') as Layout[];
const SEQLEN = Number(option('--seqlen', smoke ? '128' : '2048'));
const CAUSAL = option('--causal', 'true,false')
  .split(',')
  .map((s) => s === 'true');
const BACKWARD = !has('--no-backward');
const WARMUP = Number(option('--warmup', smoke ? '1' : '2'));
const ITERS = Number(option('--iters', smoke ? '2' : '10'));
const WALL = has('--wall');
const JSON_OUT = option('--json', '');
const DAWN_TOGGLES = option('--dawn-toggles', '')
  .split(',')
  .filter((t) => t);
const SAMPLE_ROWS = 24;

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
  digest: string;
  causal: boolean;
  sequences: number;
  tokens: number;
  forwardMs: number;
  forwardTflops: number;
  backwardMs: number | null;
  backwardTflops: number | null;
  /** 3.5 × the forward FLOPs over forward + backward time. */
  forwardBackwardTflops: number | null;
  timing: string;
  maxErrorOut: number;
  maxErrorLse: number;
  maxErrorDq: number | null;
  /** What the forward, dQ and dK/dV kernels compiled with (plan/config.ts configKey). */
  tiles: string[];
}

/** Host data in the storage dtype; `values` is what the kernels read, decoded, for the reference. */
interface HostData {
  data: Float32Array | Uint16Array;
  values: Float32Array;
}

function hostData(n: number, dtype: FloatDType, seed: number): HostData {
  const data = encodeFromFloat(normals(n, seed), dtype);
  return { data, values: decodeToFloat32(data, dtype) };
}

async function benchOne(
  backend: WebGpuBackend,
  dtype: FloatDType,
  headDim: number,
  layout: Layout,
  causal: boolean,
  inputs: { q: HostData; k: HostData; v: HostData; dout: HostData },
): Promise<Result> {
  const w = workload(layout, { tokens: TOKENS, seqlen: SEQLEN, heads: HEADS, sampleCount: SAMPLE_ROWS });
  const { lengths, cuSeqlens: cu } = w;
  const T = w.tokens;
  const qMeta = { shape: [T, HEADS, headDim], dtype };
  const kMeta = { shape: [T, KV_HEADS, headDim], dtype };
  const problem = resolveAttnProblem(qMeta, kMeta, kMeta, { cuSeqlensQ: cu, cuSeqlensK: cu, causal });
  // Each layout uses a prefix of the (dtype, head dim)'s random tensors, sized for `TOKENS`.
  const prefix = (h: HostData, heads: number) => {
    const n = T * heads * headDim;
    return { data: h.data.subarray(0, n), values: h.values.subarray(0, n) };
  };
  const q = prefix(inputs.q, HEADS);
  const k = prefix(inputs.k, KV_HEADS);
  const v = prefix(inputs.v, KV_HEADS);
  const dout = prefix(inputs.dout, HEADS);
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

  // Error on the workload's sampled rows (the longest sequence's first and last rows, then rows drawn over tokens).
  const outValues = await decode(out, qMeta.shape);
  const lseValues = new Float32Array((await backend.download(lse, [HEADS, T], 'f32')).data as Float32Array);
  const sample = sampledReference(problem, q.values, k.values, v.values, BACKWARD ? dout.values : null, w.sampleRows);
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

  const flops = forwardFlops(w.sumSquares, problem.numHeads, (problem.headDim + problem.headDimV) / 2, causal);
  return {
    dtype,
    headDim,
    layout,
    digest: w.digest,
    causal,
    sequences: lengths.length,
    tokens: T,
    forwardMs: forward.seconds * 1e3,
    forwardTflops: flops / forward.seconds / 1e12,
    backwardMs: backward ? backward.seconds * 1e3 : null,
    backwardTflops: backward ? (BACKWARD_FLOP_FACTOR * flops) / backward.seconds / 1e12 : null,
    forwardBackwardTflops: backward
      ? (FORWARD_BACKWARD_FLOP_FACTOR * flops) / (forward.seconds + backward.seconds) / 1e12
      : null,
    timing: forward.method,
    maxErrorOut: errOut,
    maxErrorLse: errLse,
    maxErrorDq: BACKWARD ? errDq : null,
    tiles: (['forward', 'dq', 'dkdv'] as const).map((kind) =>
      configKey(chooseTileConfig(kind, problem.headDim, problem.headDimV, backend.tiling)),
    ),
  };
}

/** The `webgpu` package's GPU with extra Dawn toggles (--dawn-toggles), its classes installed as globals. */
async function gpuWithToggles(toggles: string[]): Promise<GPU> {
  const specifier = 'webgpu';
  const mod = (await import(/* @vite-ignore */ specifier)) as { create: (flags: string[]) => GPU; globals: object };
  for (const [name, value] of Object.entries(mod.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  return mod.create([`enable-dawn-features=${['disable_workgroup_init', ...toggles].join(',')}`]);
}

/** `--shapes` as `tilingLimits.shapes`; the backend checks each shape and names a bad one. */
function parseShapes(spec: string): TilingLimits['shapes'] {
  if (!spec) return undefined;
  const shapes: Partial<Record<KernelKind, TileShape[]>> = {};
  for (const part of spec.split(';')) {
    const [kind, list] = part.split('=') as [KernelKind, string | undefined];
    shapes[kind] = (list ?? '').split(',').map((text) => {
      const [wg, bm, bn, rm, km = 1] = text.split('x').map(Number);
      return { wg, bm, bn, rm, km } as TileShape;
    });
  }
  return shapes;
}

const SHAPES = parseShapes(option('--shapes', ''));
const VEC4 = has('--vec4');
const command = `node ${process.execArgv.join(' ')} ${process.argv.slice(1).join(' ')}`;
const backend = await createWebGpuBackend({
  checkErrors: false,
  subgroups: !has('--no-subgroups'),
  tilingLimits: { ...(SHAPES ? { shapes: SHAPES } : {}), ...(VEC4 ? { vec4: true } : {}) },
  ...(DAWN_TOGGLES.length ? { gpu: await gpuWithToggles(DAWN_TOGGLES) } : {}),
});
console.log(`# fa webgpu benchmark — ${backend.adapterInfo}`);
console.log(
  `tokens ${TOKENS}, heads ${HEADS}/${KV_HEADS}, timing: ${backend.features.timestampQuery && !WALL ? 'timestamp queries' : 'wall clock'}, ${WARMUP} warm-up + ${ITERS} runs, median`,
);
console.log(
  `features: ${JSON.stringify(backend.features)}${DAWN_TOGGLES.length ? `, Dawn toggles ${DAWN_TOGGLES}` : ''}\n`,
);
console.log(
  '| dtype | D | layout | causal | seqs | fwd ms | fwd TFLOP/s | bwd ms | bwd TFLOP/s | fwd+bwd TFLOP/s | err out | err lse | err dq |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const results: Result[] = [];
/** Writes everything so far: after every configuration, so a run stopped by a time limit keeps what it measured. */
function writeJson(complete: boolean) {
  if (!JSON_OUT) return;
  const document = {
    complete,
    tool: 'packages/webgpu/scripts/bench.ts',
    command,
    date: new Date().toISOString(),
    node: process.version,
    adapter: backend.adapterInfo,
    features: backend.features,
    dawnToggles: ['disable_workgroup_init', ...DAWN_TOGGLES],
    workloads: { generator: GENERATOR, version: GENERATOR_VERSION },
    config: { tokens: TOKENS, heads: HEADS, kvHeads: KV_HEADS, warmup: WARMUP, iters: ITERS, wall: WALL },
    results,
  };
  writeFileSync(JSON_OUT, `${JSON.stringify(document, null, 2)}\n`);
}

for (const dtype of DTYPES) {
  for (const headDim of DIMS) {
    // One set of random tensors per (dtype, head dim): generating them dominates the run time at 32k tokens.
    const inputs = {
      q: hostData(TOKENS * HEADS * headDim, dtype, 1),
      k: hostData(TOKENS * KV_HEADS * headDim, dtype, 2),
      v: hostData(TOKENS * KV_HEADS * headDim, dtype, 3),
      dout: hostData(TOKENS * HEADS * headDim, dtype, 4),
    };
    for (const layout of LAYOUTS) {
      for (const causal of CAUSAL) {
        const r = await benchOne(backend, dtype, headDim, layout, causal, inputs);
        results.push(r);
        writeJson(false);
        const f = (x: number | null, digits = 3) =>
          x === null ? '—' : x < 1e-3 ? x.toPrecision(2) : x.toFixed(digits);
        const e = (x: number | null) => (x === null ? '—' : x.toExponential(1));
        console.log(
          `| ${dtype} | ${headDim} | ${layout} | ${causal} | ${r.sequences} | ${f(r.forwardMs, 2)} | ${f(r.forwardTflops)} | ${f(r.backwardMs, 2)} | ${f(r.backwardTflops)} | ${f(r.forwardBackwardTflops)} | ${e(r.maxErrorOut)} | ${e(r.maxErrorLse)} | ${e(r.maxErrorDq)} |`,
        );
      }
    }
  }
}
writeJson(true);
backend.destroy();
