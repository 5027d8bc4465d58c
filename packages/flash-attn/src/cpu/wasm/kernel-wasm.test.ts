import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { philox4x32 } from '@fa/core';
import { describe, expect, it } from 'vitest';
import { buildKernels, ENTRY, GENERATED_MODULE } from '../../../scripts/build-wasm.js';
import { JOB_FIELDS, JOB_HEADER_BYTES } from './job.js';
import { instantiateKernel, KERNEL_EXPORT_NAMES, kernelModule, wasmKernelsSupported } from './load.js';

const ASM_DIR = join(ENTRY, '..');

describe('the generated kernel module', () => {
  it('is up to date with the AssemblyScript sources (asc output is byte-stable)', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'fa-wasm-test-'));
    try {
      const { module } = await buildKernels(outDir);
      const committed = await readFile(GENERATED_MODULE, 'utf8');
      expect(
        committed === module,
        'kernel-wasm.generated.ts is stale: run `pnpm --filter @fa/flash-attn build:wasm`',
      ).toBe(true);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });

  it('instantiates both variants and exports what asm/index.ts exports', async () => {
    expect(wasmKernelsSupported()).toBe(true);
    const source = await readFile(ENTRY, 'utf8');
    const declared = [
      ...[...source.matchAll(/^export function (\w+)/gm)].map((m) => m[1]),
      ...[...source.matchAll(/^export \{ ([\w, ]+) \} from/gm)].flatMap((m) => (m[1] as string).split(/,\s*/)),
    ].sort();
    expect(declared).toEqual([...KERNEL_EXPORT_NAMES].sort());
    for (const shared of [true, false]) {
      const memory = new WebAssembly.Memory(shared ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 });
      const instance = new WebAssembly.Instance(await kernelModule(shared), { env: { memory } });
      expect(Object.keys(instance.exports).sort()).toEqual([...KERNEL_EXPORT_NAMES].sort());
    }
  });

  it('reads the job header the host writes, field for field', async () => {
    const source = await readFile(join(ASM_DIR, 'job.ts'), 'utf8');
    const body = source.slice(source.indexOf('export class Job {'));
    const fields = [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {2}(\w+): (?:i32|u32|f32|usize);/gm)].map(
      (m) => m[1],
    );
    expect(fields).toEqual([...JOB_FIELDS]);
    const kernel = instantiateKernel(await kernelModule(false), new WebAssembly.Memory({ initial: 1 }));
    expect(kernel.jobHeaderBytes()).toBe(JOB_HEADER_BYTES);
    // Static data would live below heapBase; the kernels have none beyond the stack-free minimum.
    expect(kernel.heapBase()).toBeLessThanOrEqual(65536);
  });

  it('computes Philox words bit-identical with @fa/core', async () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const kernel = instantiateKernel(await kernelModule(false), memory);
    const out = kernel.heapBase();
    const expected = new Uint32Array(4);
    const random = () => Math.floor(Math.random() * 2 ** 32);
    const counters = [
      [0, 0, 0, 0, 0, 0],
      [0xffffffff, 0xfffffffe, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      ...Array.from({ length: 50 }, () => [random(), random(), random(), random(), random(), random()]),
    ] as [number, number, number, number, number, number][];
    for (const [c0, c1, c2, c3, k0, k1] of counters) {
      kernel.philoxWords(out, c0, c1, c2, c3, k0, k1);
      const words = new Uint32Array(memory.buffer, out, 16);
      for (let lane = 0; lane < 4; lane++) {
        philox4x32(c0, (c1 + lane) >>> 0, c2, c3, k0, k1, expected);
        for (let w = 0; w < 4; w++) expect(words[w * 4 + lane], `word ${w} lane ${lane}`).toBe(expected[w]);
      }
    }
  });
});
