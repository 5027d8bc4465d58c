/**
 * CUDA backend throughput, for a session with a GPU. Tensors stay on the device; each timed call is one awaited
 * forward (or backward), so the time includes the per-call upload of cu_seqlens and the work list and the
 * completion wait, as an application sees it. TFLOP/s of useful work: forward = 4 · Σ Lq·Lk · H · D (halved when
 * causal), backward = 2.5 × forward (FlashAttention's convention). Median of the timed runs after warm-up.
 *
 *   node --conditions=@fa/source --import tsx scripts/bench.ts [--tokens 32768] [--seqlen 2048] [--heads 16]
 *     [--dims 64,128,256] [--dtypes f16,bf16] [--causal true,false] [--no-backward] [--iters 10] [--json FILE]
 *     [--addon PATH]
 *
 * No number from this script has been recorded yet: it has not run on a GPU.
 */
import { writeFileSync } from 'node:fs';
import { encodeFromFloat, type FloatDType, type HostTensor, resolveAttnProblem } from '@fa/core';
import { createCudaBackend } from '../src/index.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = argv.indexOf(name);
  return at >= 0 && argv[at + 1] !== undefined ? (argv[at + 1] as string) : fallback;
};
const TOKENS = Number(option('--tokens', '32768'));
const SEQLEN = Number(option('--seqlen', '2048'));
const HEADS = Number(option('--heads', '16'));
const DIMS = option('--dims', '64,128').split(',').map(Number);
const DTYPES = option('--dtypes', 'f16,bf16').split(',') as FloatDType[];
const CAUSAL = option('--causal', 'false,true')
  .split(',')
  .map((s) => s === 'true');
const BACKWARD = !argv.includes('--no-backward');
const ITERS = Number(option('--iters', '10'));
const JSON_OUT = option('--json', '');
// --addon PATH: another build, e.g. the CPU emulator, to check this script itself (its timings mean nothing).
const ADDON = option('--addon', '');

const backend = createCudaBackend(ADDON ? { addonPath: ADDON } : {});
console.log(`${backend.device.name}, ${TOKENS} tokens in sequences of ${SEQLEN}, ${HEADS} heads`);

function host(n: number, shape: number[], dtype: FloatDType, salt: number): HostTensor {
  return {
    data: encodeFromFloat(
      Float64Array.from({ length: n }, (_, i) => Math.sin(i + salt)),
      dtype,
    ),
    shape,
    dtype,
  } as HostTensor;
}

async function median(run: () => Promise<void>): Promise<number> {
  await run();
  await run();
  const times: number[] = [];
  for (let i = 0; i < ITERS; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)] as number;
}

const results: unknown[] = [];
const batch = Math.max(1, Math.floor(TOKENS / SEQLEN));
const cu = Int32Array.from({ length: batch + 1 }, (_, b) => b * SEQLEN);
const total = batch * SEQLEN;
for (const dtype of DTYPES) {
  for (const d of DIMS) {
    const q = host(total * HEADS * d, [total, HEADS, d], dtype, 1);
    const [qh, kh, vh, doh] = await Promise.all(
      [1, 2, 3, 4].map((salt) => backend.upload(host(q.data.length, [total, HEADS, d], dtype, salt))),
    );
    for (const causal of CAUSAL) {
      const problem = resolveAttnProblem(q, q, q, { cuSeqlensQ: cu, cuSeqlensK: cu, causal });
      const flops = 4 * batch * SEQLEN * SEQLEN * HEADS * d * (causal ? 0.5 : 1);
      const fwdMs = await median(async () => {
        const { out, lse } = await backend.forward(qh!, kh!, vh!, problem);
        backend.dispose(out);
        backend.dispose(lse);
      });
      let bwdMs = Number.NaN;
      if (BACKWARD) {
        const { out, lse } = await backend.forward(qh!, kh!, vh!, problem);
        bwdMs = await median(async () => {
          const g = await backend.backward(doh!, qh!, kh!, vh!, out, lse, problem);
          for (const x of [g.dq, g.dk, g.dv]) backend.dispose(x);
        });
        backend.dispose(out);
        backend.dispose(lse);
      }
      const row = {
        dtype,
        headDim: d,
        causal,
        fwdMs,
        fwdTflops: flops / fwdMs / 1e9,
        bwdMs,
        bwdTflops: (2.5 * flops) / bwdMs / 1e9,
      };
      results.push(row);
      console.log(
        `${dtype} D=${d} causal=${causal}: forward ${fwdMs.toFixed(2)} ms (${row.fwdTflops.toFixed(1)} TFLOP/s)` +
          (BACKWARD ? `, backward ${bwdMs.toFixed(2)} ms (${row.bwdTflops.toFixed(1)} TFLOP/s)` : ''),
      );
    }
    for (const x of [qh, kh, vh, doh]) backend.dispose(x!);
  }
}
if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify({ device: backend.device.name, results }, null, 2)}\n`);
backend.destroy();
