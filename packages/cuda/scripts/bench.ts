/**
 * CUDA backend throughput, for a session with a GPU, on the workloads of @fa/testkit (src/workloads.ts; the same
 * cu_seqlens as the WebGPU bench and packages/cuda/scripts/torch_varlen_bench.py). Forward, backward and
 * forward + backward; TFLOP/s of useful work: forward = 4 · Σ Lq·Lk · H · D (halved when causal), backward
 * = 2.5 ×, forward + backward = 3.5 × (flash-attention's convention).
 *
 * Timing. The addon has no CUDA events, so this measures wall time on the host, two ways, both written to the JSON:
 *   awaited  one call at a time, awaited (what an application sees: the per-call upload of cu_seqlens and work
 *            lists, stream-ordered allocations, the worker-thread hop and the completion wait included); median of
 *            --iters after --warmup;
 *   queued   --queued calls issued back to back and awaited together, total / count; median of --repeats batches.
 *            Calls run on libuv worker threads (UV_THREADPOOL_SIZE, default 4), each on its own per-thread stream,
 *            so host overheads overlap other calls' kernels, and kernels of different calls may overlap at their
 *            tails: the closest this script gets to kernel time. For kernel time alone, run it under ncu.
 * Each configuration's out, lse and dQ are checked against a float64 reference on sampled rows in the same run.
 *
 *   node --conditions=@fa/source --import tsx scripts/bench.ts [options]
 *
 *   --tokens N      tokens per batch (default 32768)      --heads N        query and key/value heads (default 16)
 *   --dims a,b      head dims (default 128,64)            --dtypes a,b     f16, bf16, f32 (default bf16)
 *   --layouts a,b   uniform, skewed, fixed (default uniform,skewed); --seqlen N: the fixed layout's length (2048)
 *   --causal a,b    false,true (default both)             --no-backward    forward only
 *   --warmup N      untimed calls first (default 3)       --iters N        awaited calls timed (default 20)
 *   --queued N      calls per queued batch (default 8; 0: skip)   --repeats N  queued batches (default 5)
 *   --deterministic the dQ-kernel backward instead of the default atomic-dQ one
 *   --smoke         512 tokens, 2 heads, 1 warm-up, 2 runs, queued 2 × 2 (for the CPU emulator)
 *   --addon PATH    another build, e.g. build/emu/Release/fa_cuda_emu.node (its timings mean nothing)
 *   --kernels a,b   kernel designs to time in this run, one backend each (default fa2): fa2, baseline,
 *                   fa2-mask-every-tile, fa2-generic, fa2-always-rescale (see KERNEL_VARIANTS)
 *   --json FILE     also write everything as JSON
 */
import { writeFileSync } from 'node:fs';
import { decodeToFloat32, encodeFromFloat, type FloatDType, type HostTensor, resolveAttnProblem } from '@fa/core';
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
  type Workload,
  workload,
} from '@fa/testkit';
import type { DeviceBuffer } from '../src/addon.js';
import { type CudaKernelOptions, createCudaBackend, cudaAvailability } from '../src/index.js';

const argv = process.argv.slice(2);
const has = (name: string) => argv.includes(name);
const option = (name: string, fallback: string) => {
  const at = argv.indexOf(name);
  return at >= 0 && argv[at + 1] !== undefined ? (argv[at + 1] as string) : fallback;
};
const smoke = has('--smoke');
const TOKENS = Number(option('--tokens', smoke ? '512' : '32768'));
const HEADS = Number(option('--heads', smoke ? '2' : '16'));
const SEQLEN = Number(option('--seqlen', smoke ? '128' : '2048'));
const DIMS = option('--dims', '128,64').split(',').map(Number);
const DTYPES = option('--dtypes', 'bf16').split(',') as FloatDType[];
const LAYOUTS = option('--layouts', 'uniform,skewed').split(',') as Layout[];
const CAUSAL = option('--causal', 'false,true')
  .split(',')
  .map((s) => s === 'true');
const BACKWARD = !has('--no-backward');
const DETERMINISTIC = has('--deterministic');
const WARMUP = Number(option('--warmup', smoke ? '1' : '3'));
const ITERS = Number(option('--iters', smoke ? '2' : '20'));
const QUEUED = Number(option('--queued', smoke ? '2' : '8'));
const REPEATS = Number(option('--repeats', smoke ? '2' : '5'));
const SAMPLE_ROWS = Number(option('--sample-rows', '24'));
const JSON_OUT = option('--json', '');
const ADDON = option('--addon', '');

/** The designs `--kernels` names: `options.kernels` of createCudaBackend (src/kernels.ts). */
const KERNEL_VARIANTS: Readonly<Record<string, CudaKernelOptions>> = {
  fa2: {},
  baseline: { forward: 'baseline', backward: 'baseline' },
  'fa2-mask-every-tile': { maskEveryTile: true },
  'fa2-generic': { specialise: false },
  'fa2-always-rescale': { conditionalRescale: false },
};
const KERNELS = option('--kernels', 'fa2').split(',');
for (const name of KERNELS) {
  if (!Object.hasOwn(KERNEL_VARIANTS, name)) {
    console.error(`--kernels: unknown design ${name}; known: ${Object.keys(KERNEL_VARIANTS).join(', ')}`);
    process.exit(2);
  }
}

const backendOptions = ADDON ? { addonPath: ADDON } : {};
const availability = cudaAvailability(backendOptions);
if (!availability.available) {
  console.error(`cuda unavailable (${availability.reason}): ${availability.message}`);
  process.exit(2);
}
const cuda = availability; // narrowed: available
const backends = new Map(
  KERNELS.map((name) => [name, createCudaBackend({ ...backendOptions, kernels: KERNEL_VARIANTS[name] })] as const),
);
let backend = backends.get(KERNELS[0] as string) as ReturnType<typeof createCudaBackend>;
const command = `node ${process.execArgv.join(' ')} ${process.argv.slice(1).join(' ')}`;
console.log(`# fa cuda benchmark — ${backend.device.name} (sm_${backend.device.computeCapability.replace('.', '')})`);
console.log(`addon ${backend.addonPath} (archs ${availability.archs})`);
console.log(
  `tokens ${TOKENS}, heads ${HEADS}, ${WARMUP} warm-up + ${ITERS} awaited calls (median), queued ${QUEUED} × ${REPEATS} (median of batches)\n`,
);

type Run = () => Promise<() => void>;

/** Milliseconds of each awaited call after the warm-up; cleanup (dispose) stays outside the timed region. */
async function timeAwaited(run: Run): Promise<number[]> {
  for (let n = 0; n < WARMUP; n++) (await run())();
  const samples: number[] = [];
  for (let n = 0; n < ITERS; n++) {
    const start = performance.now();
    const cleanup = await run();
    samples.push(performance.now() - start);
    cleanup();
  }
  return samples;
}

/** Milliseconds per call of batches of QUEUED calls issued at once. */
async function timeQueued(run: Run): Promise<number[]> {
  const samples: number[] = [];
  if (QUEUED <= 0) return samples;
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    const cleanups = await Promise.all(Array.from({ length: QUEUED }, () => run()));
    samples.push((performance.now() - start) / QUEUED);
    for (const cleanup of cleanups) cleanup();
  }
  return samples;
}

interface Timing {
  awaitedMs: number;
  queuedMs: number | null;
  awaitedTflops: number;
  queuedTflops: number | null;
  awaitedSamplesMs: number[];
  queuedSamplesMs: number[];
}

async function measure(run: Run, flops: number): Promise<Timing> {
  const awaitedSamplesMs = await timeAwaited(run);
  const queuedSamplesMs = await timeQueued(run);
  const awaitedMs = median(awaitedSamplesMs);
  const queuedMs = queuedSamplesMs.length ? median(queuedSamplesMs) : null;
  return {
    awaitedMs,
    queuedMs,
    awaitedTflops: flops / awaitedMs / 1e9,
    queuedTflops: queuedMs === null ? null : flops / queuedMs / 1e9,
    awaitedSamplesMs,
    queuedSamplesMs,
  };
}

interface ErrorStats {
  maxAbs: number;
  relL2: number;
}

function compareRows(got: Float32Array, refs: { token: number; h: number; values: Float64Array }[], D: number) {
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  for (const { token, h, values } of refs) {
    for (let d = 0; d < D; d++) {
      const diff = got[(token * HEADS + h) * D + d]! - values[d]!;
      maxAbs = Math.max(maxAbs, Number.isNaN(diff) ? Number.POSITIVE_INFINITY : Math.abs(diff));
      num += diff * diff;
      den += values[d]! * values[d]!;
    }
  }
  return { maxAbs, relL2: Math.sqrt(num / Math.max(den, 1e-300)) } satisfies ErrorStats;
}

/** Host data in the storage dtype and its decoded values (what the kernels read, for the reference). */
function hostData(n: number, dtype: FloatDType, seed: number) {
  const data = encodeFromFloat(normals(n, seed), dtype);
  return { data, values: decodeToFloat32(data, dtype) };
}

const results: unknown[] = [];
/** Writes everything so far: after every configuration, so a run stopped by a time limit keeps what it measured. */
function writeJson(complete: boolean) {
  if (!JSON_OUT) return;
  const document = {
    complete,
    tool: 'packages/cuda/scripts/bench.ts',
    command,
    cwd: process.cwd(),
    date: new Date().toISOString(),
    node: process.version,
    device: backend.device,
    addon: { path: backend.addonPath, archs: cuda.archs },
    cuda: { runtimeVersion: cuda.runtimeVersion, driverVersion: cuda.driverVersion },
    workloads: { generator: GENERATOR, version: GENERATOR_VERSION },
    config: {
      tokens: TOKENS,
      heads: HEADS,
      dims: DIMS,
      dtypes: DTYPES,
      layouts: LAYOUTS,
      causal: CAUSAL,
      backward: BACKWARD,
      deterministic: DETERMINISTIC,
      warmup: WARMUP,
      iters: ITERS,
      queued: QUEUED,
      repeats: REPEATS,
    },
    timing: {
      clock: 'host wall clock (performance.now); the addon exposes no CUDA events',
      awaited:
        'one call at a time, awaited: per-call uploads of cu_seqlens/work lists, allocations and completion wait included',
      queued: `${QUEUED} calls issued back to back, awaited together, total / ${QUEUED}; calls run on libuv worker threads (UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 'unset: 4'}) with per-thread streams, so kernels of different calls may overlap`,
      flops: '4·Σ L²·H·D forward (halved when causal), 2.5× backward, 3.5× forward+backward',
    },
    results,
  };
  writeFileSync(JSON_OUT, `${JSON.stringify(document, null, 2)}\n`);
}

const rowsOut: string[] = [];
const f = (x: number | null, digits = 2) => (x === null ? '—' : x.toFixed(digits));
const e = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toExponential(1));

for (const kernels of KERNELS) {
  backend = backends.get(kernels) as typeof backend;
  for (const dtype of DTYPES) {
    for (const D of DIMS) {
      // One set of random tensors per (dtype, D), sized for the largest layout; each layout uses a prefix.
      const hostQ = hostData(TOKENS * HEADS * D, dtype, 1);
      const hostK = hostData(TOKENS * HEADS * D, dtype, 2);
      const hostV = hostData(TOKENS * HEADS * D, dtype, 3);
      const hostDout = hostData(TOKENS * HEADS * D, dtype, 4);
      for (const layout of LAYOUTS) {
        const w: Workload = workload(layout, {
          tokens: TOKENS,
          seqlen: SEQLEN,
          heads: HEADS,
          sampleCount: SAMPLE_ROWS,
        });
        const T = w.tokens;
        const n = T * HEADS * D;
        const shape = [T, HEADS, D];
        const tensor = (data: Float32Array | Uint16Array) =>
          ({ data: data.subarray(0, n), shape, dtype }) as HostTensor;
        const [q, k, v, dout] = await Promise.all(
          [hostQ, hostK, hostV, hostDout].map((h) => backend.upload(tensor(h.data))),
        );
        for (const causal of CAUSAL) {
          const problem = resolveAttnProblem(tensor(hostQ.data), tensor(hostK.data), tensor(hostV.data), {
            cuSeqlensQ: w.cuSeqlens,
            cuSeqlensK: w.cuSeqlens,
            causal,
            deterministic: DETERMINISTIC,
          });
          const flops = forwardFlops(w.sumSquares, HEADS, D, causal);
          const dispose = (...buffers: DeviceBuffer[]) => {
            for (const b of buffers) backend.dispose(b);
          };
          const forward = await measure(async () => {
            const r = await backend.forward(q!, k!, v!, problem);
            return () => dispose(r.out, r.lse);
          }, flops);
          const kept = await backend.forward(q!, k!, v!, problem);
          let backward: Timing | null = null;
          let forwardBackward: Timing | null = null;
          let dqValues: Float32Array | null = null;
          if (BACKWARD) {
            backward = await measure(async () => {
              const g = await backend.backward(dout!, q!, k!, v!, kept.out, kept.lse, problem);
              return () => dispose(g.dq, g.dk, g.dv);
            }, BACKWARD_FLOP_FACTOR * flops);
            forwardBackward = await measure(async () => {
              const r = await backend.forward(q!, k!, v!, problem);
              const g = await backend.backward(dout!, q!, k!, v!, r.out, r.lse, problem);
              return () => dispose(r.out, r.lse, g.dq, g.dk, g.dv);
            }, FORWARD_BACKWARD_FLOP_FACTOR * flops);
            const g = await backend.backward(dout!, q!, k!, v!, kept.out, kept.lse, problem);
            const dq = await backend.download(g.dq, shape, dtype);
            dqValues = decodeToFloat32(dq.data as Float32Array | Uint16Array, dtype);
            dispose(g.dq, g.dk, g.dv);
          }

          // The error on sampled rows against float64, from the same inputs.
          const outHost = await backend.download(kept.out, shape, dtype);
          const outValues = decodeToFloat32(outHost.data as Float32Array | Uint16Array, dtype);
          const lseValues = (await backend.download(kept.lse, [HEADS, T], 'f32')).data as Float32Array;
          dispose(kept.out, kept.lse);
          const sub = (x: Float32Array) => x.subarray(0, n);
          const sample = sampledReference(
            problem,
            sub(hostQ.values),
            sub(hostK.values),
            sub(hostV.values),
            BACKWARD ? sub(hostDout.values) : null,
            w.sampleRows,
          );
          const at = (row: { b: number; i: number }) => w.cuSeqlens[row.b]! + row.i;
          const errOut = compareRows(
            outValues,
            sample.map((r) => ({ token: at(r), h: r.h, values: r.out })),
            D,
          );
          const errDq = dqValues
            ? compareRows(
                dqValues,
                sample.map((r) => ({ token: at(r), h: r.h, values: r.dq! })),
                D,
              )
            : null;
          let errLse = 0;
          for (const r of sample) {
            const got = lseValues[r.h * T + at(r)]!;
            errLse = Math.max(errLse, got === r.lse ? 0 : Math.abs(got - r.lse));
          }
          const result = {
            kernels,
            dtype,
            headDim: D,
            heads: HEADS,
            layout,
            digest: w.digest,
            causal,
            deterministic: DETERMINISTIC,
            tokens: T,
            sequences: w.sequences,
            maxLength: w.maxLength,
            forwardFlops: flops,
            forward,
            backward,
            forwardBackward,
            errors: { out: errOut, lse: { maxAbs: errLse }, dq: errDq, sampledRows: sample.length },
          };
          results.push(result);
          writeJson(false);
          const line = `| ${kernels} | ${dtype} | ${D} | ${layout} | ${causal} | ${w.sequences} | ${f(forward.awaitedMs)} | ${f(forward.queuedMs)} | ${f(forward.queuedTflops ?? forward.awaitedTflops, 1)} | ${f(backward?.awaitedMs ?? null)} | ${f(backward?.queuedMs ?? null)} | ${f(forwardBackward?.queuedTflops ?? forwardBackward?.awaitedTflops ?? null, 1)} | ${e(errOut.maxAbs)} | ${e(errLse)} | ${e(errDq?.maxAbs)} |`;
          rowsOut.push(line);
          console.log(line);
        }
        for (const b of [q, k, v, dout]) backend.dispose(b!);
      }
    }
  }
}
console.log(
  '\n| kernels | dtype | D | layout | causal | seqs | fwd ms (awaited) | fwd ms (queued) | fwd TFLOP/s | bwd ms (awaited) | bwd ms (queued) | fwd+bwd TFLOP/s | err out | err lse | err dq |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const line of rowsOut) console.log(line);
console.log(
  '(TFLOP/s from the queued time when measured, else the awaited one; errors: max |x − float64 ref| on sampled rows)',
);

writeJson(true);
if (JSON_OUT) console.log(`wrote ${JSON_OUT}`);
backend.destroy();
