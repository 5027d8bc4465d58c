import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..', '..', '..');

describe('worker threads', () => {
  it('let a Node process exit on its own after threaded work, without destroy()', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fa-pool-'));
    try {
      const script = join(dir, 'exit.mts');
      await writeFile(
        script,
        `import { resolveAttnProblem } from ${JSON.stringify(pathToFileURL(join(packageRoot, '..', 'core', 'src', 'index.ts')).href)};
import { createCpuBackendTuned } from ${JSON.stringify(pathToFileURL(join(here, '..', 'backend.ts')).href)};
let threads = 0;
const cpu = createCpuBackendTuned({ threads: 2 }, { parallelMinCost: 0, onJob: (job) => { threads = job.threads; } });
const n = 300 * 2 * 16;
const q = { data: Float32Array.from({ length: n }, () => Math.random() - 0.5), shape: [300, 2, 16], dtype: 'f32' as const };
const cu = Int32Array.from([0, 100, 300]);
const problem = resolveAttnProblem(q, q, q, { cuSeqlensQ: cu, cuSeqlensK: cu });
const { out } = await cpu.forward(q, q, q, problem);
console.log('done', threads, out.data.length);
`,
      );
      const started = Date.now();
      const child = spawnSync(process.execPath, ['--conditions=@fa/source', '--import', 'tsx', script], {
        cwd: packageRoot,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(child.error, child.stderr).toBeUndefined();
      expect(child.status, child.stderr).toBe(0);
      expect(child.stdout.trim()).toBe(`done 2 ${300 * 2 * 16}`);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
