/**
 * GPU smoke run for a session with a GPU: the conformance cases one by one with their errors printed (so a
 * failure shows every quantity, not the first), bit-identical repeats with `deterministic: true`, and
 * whether a long call leaves the event loop free. Small enough to run under compute-sanitizer:
 *
 *   node --conditions=@fa/source --import tsx scripts/smoke.ts [--case SUBSTRING] [--no-extras] [--addon PATH]
 *     [--big-tokens N]
 *   compute-sanitizer --tool memcheck node --conditions=@fa/source --import tsx scripts/smoke.ts --case zero-length --no-extras
 *
 * Exits 1 when a case fails or the backend is unavailable.
 */
import { checkCase } from '@fa/conformance';
import { type FloatDType, type HostTensor, resolveAttnProblem } from '@fa/core';
import * as fa from '@fa/flash-attn';
import { fixedCases, Random, randomHostTensor } from '@fa/testkit';
import { createCudaBackend, cudaAvailability, registerCudaBackend } from '../src/index.js';

const argv = process.argv.slice(2);
const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const filter = option('--case') ?? '';
// --addon PATH: another build of the addon, e.g. build/emu/Release/fa_cuda_emu.node (the CPU emulator).
const addonPath = option('--addon');
// --big-tokens N: length of the event-loop check's sequence (default 16384; small for the emulator).
const bigTokens = Number(option('--big-tokens') ?? 16384);
const backendOptions = addonPath ? { addonPath } : {};

const availability = cudaAvailability(backendOptions);
if (!availability.available) {
  console.error(`cuda unavailable (${availability.reason}): ${availability.message}`);
  process.exit(1);
}
console.log(
  `${availability.device.name} (sm_${availability.device.computeCapability.replace('.', '')}), addon ${availability.addonPath}`,
);
registerCudaBackend(backendOptions);

let failures = 0;
for (const testCase of fixedCases().filter((c) => c.name.includes(filter))) {
  const seed = 1234;
  try {
    const comparisons = await checkCase({ facade: fa, backend: 'cuda' }, testCase, seed, true);
    const bad = comparisons.filter((c) => !c.pass);
    failures += bad.length > 0 ? 1 : 0;
    const errors = comparisons.map(
      (c) => `${c.quantity} ${c.maxError.toExponential(2)}${c.pass ? '' : ` > ${c.tolerance.toExponential(2)} FAIL`}`,
    );
    console.log(`${bad.length ? 'FAIL' : 'ok  '} ${testCase.name}: ${errors.join(', ')}`);
  } catch (error) {
    failures++;
    console.log(
      `FAIL ${testCase.name}: threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
  }
}

function randomHost(shape: number[], dtype: FloatDType, seed: number): HostTensor {
  return randomHostTensor(new Random(seed), shape, dtype);
}

if (!argv.includes('--no-extras')) {
  const backend = createCudaBackend(backendOptions);
  // Determinism: with `deterministic: true` the same backward twice gives the same bits (dQ by the dQ kernel, no
  // float atomics). The default backward adds dQ with atomics, whose order may differ: reported, not required.
  const lengths = [300, 0, 77, 1, 129];
  const cu = Int32Array.from([0, ...lengths.map((_, b) => lengths.slice(0, b + 1).reduce((a, x) => a + x, 0))]);
  const total = cu[cu.length - 1] as number;
  const [h, hk, d] = [8, 2, 128];
  const q = randomHost([total, h, d], 'bf16', 1);
  const k = randomHost([total, hk, d], 'bf16', 2);
  const v = randomHost([total, hk, d], 'bf16', 3);
  const dout = randomHost([total, h, d], 'bf16', 4);
  const [qh, kh, vh, doh] = await Promise.all([q, k, v, dout].map((t) => backend.upload(t)));
  for (const deterministic of [true, false]) {
    const problem = resolveAttnProblem(q, k, v, {
      cuSeqlensQ: cu,
      cuSeqlensK: cu,
      causal: true,
      dropoutP: 0.1,
      seed: 7,
      deterministic,
    });
    const digests: string[] = [];
    for (let run = 0; run < 2; run++) {
      const { out, lse } = await backend.forward(qh!, kh!, vh!, problem);
      const { dq, dk, dv } = await backend.backward(doh!, qh!, kh!, vh!, out, lse, problem);
      const parts = await Promise.all([
        backend.download(out, [total, h, d], 'bf16'),
        backend.download(dq, [total, h, d], 'bf16'),
        backend.download(dk, [total, hk, d], 'bf16'),
        backend.download(dv, [total, hk, d], 'bf16'),
      ]);
      digests.push(parts.map((p) => Buffer.from(p.data.buffer).toString('base64')).join('|'));
      for (const x of [out, lse, dq, dk, dv]) backend.dispose(x);
    }
    const same = digests[0] === digests[1];
    if (deterministic) failures += same ? 0 : 1;
    const label = deterministic ? (same ? 'ok  ' : 'FAIL') : 'info';
    console.log(
      `${label} deterministic: ${deterministic}: two forward+backward runs ${same ? 'bit-identical' : 'differ'}`,
    );
  }

  // The event loop keeps turning while a large call runs on the thread pool.
  const big = bigTokens;
  const bq = randomHost([big, 16, 128], 'f16', 5);
  const bigProblem = resolveAttnProblem(bq, bq, bq, {
    cuSeqlensQ: Int32Array.of(0, big),
    cuSeqlensK: Int32Array.of(0, big),
  });
  const bh = await backend.upload(bq);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const started = performance.now();
  const { out, lse } = await backend.forward(bh, bh, bh, bigProblem);
  const ms = performance.now() - started;
  clearInterval(timer);
  console.log(
    `info event loop: ${ticks} timer ticks during a ${ms.toFixed(1)} ms forward (T = ${big}, H = 16, D = 128, f16)`,
  );
  for (const x of [bh, out, lse, qh!, kh!, vh!, doh!]) backend.dispose(x);
  console.log(`info live buffers after disposing everything: ${backend.stats().liveBuffers}`);
  backend.destroy();
}

console.log(failures === 0 ? 'smoke: all passed' : `smoke: ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
