/**
 * CPU backend throughput, in GFLOP/s of useful work: forward = 4 · Σ Lq·Lk · H · D (halved when causal),
 * backward = 2.5 × forward (FlashAttention's convention: five matrix products to the forward's two).
 * Median of several runs after a warm-up.
 *
 *   npx tsx --conditions=@fa/source scripts/bench-cpu.ts [--runs N] [--threads N] [--skip-slow]
 */
import { type AttnOptions, type AttnProblem, type HostTensor, resolveAttnProblem } from '@fa/core';
import { cuSeqlensFromLengths } from '@fa/seqpack';
import { Random } from '@fa/testkit';
import { type CpuBackend, createCpuBackend } from '../src/cpu/index.js';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}
const RUNS = flag('--runs', 5);
const THREADS = flag('--threads', 0) || 'auto';
const SKIP_SLOW = args.includes('--skip-slow');
const TOTAL = 4096;
const HEADS = 8;
const HEAD_DIM = 64;

/**
 * Sequence lengths drawn from a lognormal (median 256, sigma 1), cut to add up to `total`; seeded, so the skewed
 * batch is the same every run.
 */
function lognormalLengths(total: number, seed: number): number[] {
  const random = new Random(seed);
  const lengths: number[] = [];
  let sum = 0;
  while (sum < total) {
    const length = Math.min(total - sum, Math.max(1, Math.round(random.lognormal(256, 1))));
    lengths.push(length);
    sum += length;
  }
  return lengths;
}

function randomTensor(random: Random, shape: number[]): HostTensor<'f32'> {
  return { data: random.normalsF32(shape.reduce((a, b) => a * b, 1)), shape, dtype: 'f32' };
}

function forwardFlops(lengths: number[], causal: boolean): number {
  const pairs = lengths.reduce((a, l) => a + l * l, 0);
  return (4 * pairs * HEADS * HEAD_DIM) / (causal ? 2 : 1);
}

/** The baseline: per sequence and head, materialise the score matrix, softmax it, multiply by V. */
function naiveAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  lengths: number[],
  causal: boolean,
): Float32Array {
  const out = new Float32Array(q.length);
  const scale = 1 / Math.sqrt(HEAD_DIM);
  let start = 0;
  for (const length of lengths) {
    const scores = new Float32Array(length * length);
    for (let h = 0; h < HEADS; h++) {
      for (let i = 0; i < length; i++) {
        const qOff = ((start + i) * HEADS + h) * HEAD_DIM;
        let max = Number.NEGATIVE_INFINITY;
        const last = causal ? i : length - 1;
        for (let j = 0; j <= last; j++) {
          const kOff = ((start + j) * HEADS + h) * HEAD_DIM;
          let dot = 0;
          for (let d = 0; d < HEAD_DIM; d++) dot += (q[qOff + d] as number) * (k[kOff + d] as number);
          scores[i * length + j] = dot * scale;
          max = Math.max(max, dot * scale);
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) {
          const p = Math.exp((scores[i * length + j] as number) - max);
          scores[i * length + j] = p;
          sum += p;
        }
        for (let j = 0; j <= last; j++) {
          const p = (scores[i * length + j] as number) / sum;
          const vOff = ((start + j) * HEADS + h) * HEAD_DIM;
          for (let d = 0; d < HEAD_DIM; d++) out[qOff + d] = (out[qOff + d] as number) + p * (v[vOff + d] as number);
        }
      }
    }
    start += length;
  }
  return out;
}

async function median(runs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

interface Case {
  readonly name: string;
  readonly lengths: number[];
  readonly causal: boolean;
}

const skewed = lognormalLengths(TOTAL, 2024);
const cases: Case[] = [
  { name: 'uniform 8x512', lengths: Array(8).fill(512), causal: false },
  { name: 'uniform 8x512 causal', lengths: Array(8).fill(512), causal: true },
  { name: `lognormal (${skewed.length} seqs)`, lengths: skewed, causal: false },
  { name: `lognormal (${skewed.length} seqs) causal`, lengths: skewed, causal: true },
];

const backends: { label: string; backend: CpuBackend; slow: boolean }[] = [
  { label: 'pure JS, 1 thread', backend: createCpuBackend({ simd: false, threads: 1 }), slow: true },
  { label: 'SIMD, 1 thread', backend: createCpuBackend({ threads: 1 }), slow: false },
  { label: `SIMD, ${THREADS} threads`, backend: createCpuBackend({ threads: THREADS }), slow: false },
];

console.log(`T = ${TOTAL}, H = ${HEADS}, D = ${HEAD_DIM}, f32; median of ${RUNS} runs; GFLOP/s of useful work`);
console.log(`lognormal lengths: ${skewed.join(' ')}`);
const random = new Random(7);
for (const c of cases) {
  const q = randomTensor(random, [TOTAL, HEADS, HEAD_DIM]);
  const k = randomTensor(random, [TOTAL, HEADS, HEAD_DIM]);
  const v = randomTensor(random, [TOTAL, HEADS, HEAD_DIM]);
  const dout = randomTensor(random, [TOTAL, HEADS, HEAD_DIM]);
  const options: AttnOptions = {
    cuSeqlensQ: cuSeqlensFromLengths(c.lengths),
    cuSeqlensK: cuSeqlensFromLengths(c.lengths),
    causal: c.causal,
  };
  const problem: AttnProblem = resolveAttnProblem(q, k, v, options);
  const flops = forwardFlops(c.lengths, c.causal);
  console.log(`\n${c.name}: ${(flops / 1e9).toFixed(2)} GFLOP forward`);
  let naive = Number.NaN;
  if (!SKIP_SLOW) {
    const ms = await median(Math.min(RUNS, 3), () => naiveAttention(q.data, k.data, v.data, c.lengths, c.causal));
    naive = flops / ms / 1e6;
    console.log(`  ${'naive JS, per sequence'.padEnd(22)} forward ${naive.toFixed(2).padStart(6)}`);
  }
  for (const { label, backend, slow } of backends) {
    if (slow && SKIP_SLOW) continue;
    const runs = slow ? Math.min(RUNS, 3) : RUNS;
    let result = await backend.forward(q, k, v, problem);
    const fwd = await median(runs, async () => {
      result = await backend.forward(q, k, v, problem);
    });
    const bwd = await median(runs, () => backend.backward(dout, q, k, v, result.out, result.lse, problem));
    const forwardRate = flops / fwd / 1e6;
    const versusNaive = Number.isNaN(naive) ? '' : `, ${(forwardRate / naive).toFixed(1)}x naive`;
    console.log(
      `  ${label.padEnd(22)} forward ${forwardRate.toFixed(2).padStart(6)}   backward ${((2.5 * flops) / bwd / 1e6).toFixed(2).padStart(6)}   (${fwd.toFixed(1)} ms, ${bwd.toFixed(1)} ms${versusNaive})`,
    );
  }
}
for (const { backend } of backends) await backend.destroy?.();
