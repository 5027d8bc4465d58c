import { referenceAttnBackward, referenceAttnForward, resolveAttnProblem } from '@fa/core';
import { createCpuBackendTuned } from '../src/cpu/backend.js';

function randn(n: number) { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random()); return a; }
function cu(l: number[]) { const o = new Int32Array(l.length + 1); l.forEach((x, i) => (o[i + 1] = o[i]! + x)); return o; }
function maxErr(a: ArrayLike<number>, b: ArrayLike<number>) { let e = 0; for (let i = 0; i < a.length; i++) { const x = a[i]!, y = b[i]!; if (x === y) continue; const d = Math.abs(x - y); if (!(d <= e)) e = Number.isNaN(d) ? Infinity : d; } return e; }

const cases: any[] = [
  { lq: [17, 0, 33, 5, 1], lk: [17, 0, 33, 5, 1], H: 3, Hk: 3, D: 64, Dv: 64 },
  { lq: [150, 3], lk: [150, 3], H: 2, Hk: 2, D: 59, Dv: 59, causal: true },
  { lq: [19, 8, 30], lk: [7, 3, 12], H: 4, Hk: 2, D: 40, Dv: 24, causal: true, windowSize: [7, 0], softcap: 3, alibi: true, dropoutP: 0.1, softmaxScale: 0.5 },
  { lq: [4, 1, 90], lk: [21, 16, 130], H: 4, Hk: 1, D: 111, Dv: 8, windowSize: [5, 3], dropoutP: 0.3 },
  { lq: [6, 4, 3], lk: [0, 7, 0], H: 3, Hk: 3, D: 1, Dv: 1 },
];
for (const simd of [true, false]) for (const threads of [1, 2]) {
  const be = createCpuBackendTuned({ simd, threads }, { parallelMinCost: 0 });
  for (const c of cases) {
    const TQ = c.lq.reduce((a: number, b: number) => a + b, 0), TK = c.lk.reduce((a: number, b: number) => a + b, 0);
    const q = { data: randn(TQ * c.H * c.D), shape: [TQ, c.H, c.D], dtype: 'f32' as const };
    const k = { data: randn(TK * c.Hk * c.D), shape: [TK, c.Hk, c.D], dtype: 'f32' as const };
    const v = { data: randn(TK * c.Hk * c.Dv), shape: [TK, c.Hk, c.Dv], dtype: 'f32' as const };
    const dout = { data: randn(TQ * c.H * c.Dv), shape: [TQ, c.H, c.Dv], dtype: 'f32' as const };
    const opts: any = { cuSeqlensQ: cu(c.lq), cuSeqlensK: cu(c.lk), causal: c.causal, windowSize: c.windowSize, softcap: c.softcap, softmaxScale: c.softmaxScale, dropoutP: c.dropoutP, seed: c.dropoutP ? 12345678901 : undefined, alibiSlopes: c.alibi ? Float32Array.from({ length: c.H }, (_, h) => 0.3 / (h + 1)) : undefined };
    const problem = resolveAttnProblem(q, k, v, opts);
    const ref = referenceAttnBackward(dout, q, k, v, opts);
    const f = await be.forward(q, k, v, problem);
    const g = await be.backward(dout, q, k, v, f.out, f.lse, problem);
    console.log(be.kernels, threads, JSON.stringify(c.lq), 'out', maxErr(f.out.data as Float32Array, ref.out).toExponential(2), 'lse', maxErr(f.lse.data, ref.lse).toExponential(2),
      'dq', maxErr(g.dq.data as Float32Array, ref.dq).toExponential(2), 'dk', maxErr(g.dk.data as Float32Array, ref.dk).toExponential(2), 'dv', maxErr(g.dv.data as Float32Array, ref.dv).toExponential(2));
  }
  await be.destroy?.();
}
