import { resolveAttnProblem } from '@fa/core';
import { createCpuBackend } from '../src/cpu/index.js';
const T = 4096, H = 8, D = 64;
const rnd = () => Math.random() * 2 - 1;
const mk = () => ({ data: Float32Array.from({ length: T * H * D }, rnd), shape: [T, H, D], dtype: 'f32' as const });
const q = mk(), k = mk(), v = mk(), dout = mk();
const cu = Int32Array.from({ length: 9 }, (_, i) => i * 512);
const be = createCpuBackend({ threads: Number(process.argv[2] ?? 1) });
for (const causal of [false, true]) {
  const p = resolveAttnProblem(q, k, v, { cuSeqlensQ: cu, cuSeqlensK: cu, causal });
  const flops = 4 * 8 * 512 * 512 * H * D / (causal ? 2 : 1);
  let r = await be.forward(q, k, v, p);
  const tf: number[] = [], tb: number[] = [];
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  for (let i = 0; i < 7; i++) { let t = cpu(); r = await be.forward(q, k, v, p); tf.push(cpu() - t); }
  for (let i = 0; i < 5; i++) { let t = cpu(); await be.backward(dout, q, k, v, r.out, r.lse, p); tb.push(cpu() - t); }
  tf.sort((a, b) => a - b); tb.sort((a, b) => a - b);
  console.log(causal ? 'causal' : 'full  ', 'fwd', (flops / tf[0]! / 1e6).toFixed(1), (flops / tf[3]! / 1e6).toFixed(1), ' bwd', (2.5 * flops / tb[0]! / 1e6).toFixed(1), (2.5 * flops / tb[2]! / 1e6).toFixed(1));
}
await be.destroy?.();
