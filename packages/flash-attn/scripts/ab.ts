// A/B harness: runs forward and backward jobs directly on wasm files, interleaved, best-of-N.
import { readFileSync } from 'node:fs';
import { resolveAttnProblem, type AttnProblem } from '@fa/core';
import { backwardWork, forwardWork } from '../src/cpu/plan.js';
import { ArenaLayout } from '../src/cpu/wasm/arena.js';
import { JOB_HEADER_BYTES, writeJob, KIND_FORWARD, KIND_BACKWARD } from '../src/cpu/wasm/job.js';

const files = process.argv.slice(2);
const T = 4096, H = 8, D = 64; const BQ = Number(process.env.BQ ?? 64), BK = Number(process.env.BK ?? 64);
const cu = Int32Array.from({ length: 9 }, (_, i) => i * 512);
function setup(file: string, problem: AttnProblem, kind: number) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const kernel = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), { env: { memory } }).exports as any;
  const work = kind === KIND_FORWARD ? forwardWork(problem, BQ) : backwardWork(problem, BQ);
  const L = new ArenaLayout(kernel.heapBase());
  const header = L.reserve(JOB_HEADER_BYTES), items = L.reserve(work.items.byteLength), cq = L.reserve(40), ck = L.reserve(40);
  const n = T * H * D * 4;
  const q = L.reserve(n, 16), k = L.reserve(n, 16), v = L.reserve(n, 16), out = L.reserve(n, 16), lse = L.reserve(H * T * 4), dout = L.reserve(n, 16), dq = L.reserve(n), dk = L.reserve(n), dv = L.reserve(n);
  const stride = Math.ceil(kernel.scratchBytes(kind, D, D, BQ, BK, 512) / 64) * 64;
  const scratch = L.reserve(stride);
  memory.grow(Math.ceil(L.bytes / 65536));
  const buf = memory.buffer;
  new Int32Array(buf, items, work.items.length).set(work.items);
  new Int32Array(buf, cq, 9).set(cu); new Int32Array(buf, ck, 9).set(cu);
  const f = new Float32Array(buf, q, (dv + n - q) / 4); for (let i = 0; i < f.length; i++) f[i] = Math.random() - 0.5;
  new Float32Array(buf, lse, H * T).fill(5);
  const job = { kind, counter: 0, numItems: work.count, items, batch: 8, totalQ: T, totalK: T, numHeads: H, numHeadsK: H, headDim: D, headDimV: D, cuSeqlensQ: cq, cuSeqlensK: ck, scale: 0.125, windowLeft: -1, windowRight: problem.causal ? 0 : -1, softcap: 0, alibiSlopes: 0, dropout: 0, dropoutThreshold: 0, seedLo: 0, seedHi: 0, keepScale: 1, q, k, v, out, lse, dout, dq, dk, dv, gradHeadsK: H, scratch, scratchStride: stride, blockQ: BQ, blockK: BK, maxSeqlenQ: 512 };
  return () => { writeJob(memory.buffer, header, job); kernel.run(header, 0); };
}
for (const causal of [false, true]) {
  const p = resolveAttnProblem({ shape: [T, H, D], dtype: 'f32' }, { shape: [T, H, D], dtype: 'f32' }, { shape: [T, H, D], dtype: 'f32' }, { cuSeqlensQ: cu, cuSeqlensK: cu, causal });
  const flops = 4 * 8 * 512 * 512 * H * D / (causal ? 2 : 1);
  for (const [kind, name, mult] of [[KIND_FORWARD, 'fwd', 1], [KIND_BACKWARD, 'bwd', 2.5]] as const) {
    const runs = files.map((f) => setup(f, p, kind));
    const best = files.map(() => Infinity);
    for (let r = 0; r < 7; r++) runs.forEach((run, i) => { const t = performance.now(); run(); best[i] = Math.min(best[i]!, performance.now() - t); });
    console.log(causal ? 'causal' : 'full  ', name, best.map((b, i) => `${files[i]!.split('/').pop()}: ${(mult * flops / b / 1e6).toFixed(1)}`).join('   '));
  }
}
