import { createCpuBackendTuned } from '../src/cpu/backend.js';
import { checkAgainstReference, Random, type Case } from '../src/cpu/test-fixtures.js';
const be = [createCpuBackendTuned({ threads: 1 }, {}), createCpuBackendTuned({ simd: false }, {})];
const runSeed = Number(process.argv[2] ?? Date.now() % 1e9);
const random = new Random(runSeed);
const N = Number(process.argv[3] ?? 500);
let fails = 0;
for (let index = 0; index < N; index++) {
  const batch = random.int(1, 4);
  const lengthsQ = Array.from({ length: batch }, () => (random.next() < 0.15 ? 0 : random.int(1, 90)));
  const lengthsK = random.next() < 0.5 ? lengthsQ : lengthsQ.map(() => (random.next() < 0.1 ? 0 : random.int(1, 90)));
  const numHeadsK = random.int(1, 2);
  const headDim = random.int(1, 140);
  const pick = <T>(items: readonly T[]) => items[random.int(0, items.length - 1)] as T;
  const left = pick([-1, -1, 0, 3, 40]);
  const right = pick([-1, -1, 0, 2, 9]);
  const c: Case = { name: `r${index}`, lengthsQ, lengthsK, numHeads: numHeadsK * random.int(1, 3), numHeadsK, headDim,
    headDimV: random.next() < 0.7 ? headDim : random.int(1, 96), dtype: pick(['f32', 'f32', 'f16', 'bf16'] as const),
    causal: random.next() < 0.4, windowSize: left === -1 && right === -1 ? undefined : [left, right],
    softcap: random.next() < 0.25 ? 1 + random.next() * 4 : undefined, alibi: random.next() < 0.25,
    dropoutP: random.next() < 0.25 ? random.next() * 0.5 : undefined, softmaxScale: random.next() < 0.3 ? 0.1 + random.next() : undefined };
  const seed = random.int(0, 2 ** 32 - 1);
  for (const b of be) {
    const m = await checkAgainstReference(b, c, seed);
    if (m.length) { fails++; console.log(b.kernels, JSON.stringify(c), seed, JSON.stringify(m)); }
  }
}
console.log('runSeed', runSeed, 'fails', fails);
