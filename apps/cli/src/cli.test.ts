import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AttentionBackend } from '@fa/core';
import { getBackend, registerBackend, unregisterBackend } from '@fa/flash-attn';
import { describe, expect, it } from 'vitest';
import type { BenchReport } from './bench/runner.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main } from './cli.js';
import type { DemoReport } from './demo.js';
import { packedDemoBatch, seededRandom } from './workload.js';

/** Runs the CLI in-process with captured output; stderr is not a terminal, so progress comes as plain lines. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
  });
  return { code, stdout, stderr };
}

// Small enough to take a second or two on any machine, big enough for several sequences of different lengths.
const SMALL = ['--tokens', '256', '--median-length', '24', '--heads', '2', '--head-dim', '16', '--repeats', '1'];

describe('fa demo', () => {
  it('prints a report whose batch is the one the flags build, and passes the check', async () => {
    const { code, stdout, stderr } = await run('demo', ...SMALL);
    expect(stderr).toContain('fa demo (');
    expect(stderr).toMatch(/\[\s*1\/\d+] building the packed batch/);
    expect(code).toBe(EXIT_OK);
    const built = packedDemoBatch(seededRandom(1), 256, { median: 24, sigma: 1, minLength: 16 }).batch;
    const tokens = built.tokens.toLocaleString('en-US');
    expect(stdout).toContain(`${tokens} tokens in ${built.lengths.length} sequences`);
    expect(stdout).toContain(`longest ${built.maxSeqlen}`);
    expect(stdout).toMatch(/^ {2}backend +\S+/m);
    expect(stdout).toMatch(/^ {2}padding avoided +this batch: /m);
    expect(stdout).toMatch(/^ {2}forward +[\d.]+ [µm]?s +1 /m);
    expect(stdout).toMatch(/^ {2}backward +[\d.]+ [µm]?s +1 /m);
    for (const q of ['out', 'lse', 'dq', 'dk', 'dv'])
      expect(stdout).toMatch(new RegExp(`^ {2}${q} +\\S+ +\\S+ +PASS$`, 'm'));
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('PASS: every checked quantity is within tolerance.');
  });

  it('--json prints the report as JSON with errors under tolerance', async () => {
    const { code, stdout } = await run('demo', ...SMALL, '--no-causal', '--seed', '3', '--json', '--quiet');
    expect(code).toBe(EXIT_OK);
    const report = JSON.parse(stdout) as DemoReport;
    const built = packedDemoBatch(seededRandom(3), 256, { median: 24, sigma: 1, minLength: 16 }).batch;
    expect(report.batch.tokens).toBe(built.tokens);
    expect(report.batch.lengths).toEqual(built.lengths);
    expect(report.batch.cuSeqlens.at(-1)).toBe(report.batch.tokens);
    expect(report.batch.sequences).toBe(built.lengths.length);
    expect(report.config).toMatchObject({ heads: 2, headDim: 16, causal: false, dtype: 'f32', seed: 3 });
    expect(report.check.quantities.map((q) => q.quantity)).toEqual(['out', 'lse', 'dq', 'dk', 'dv']);
    for (const q of report.check.quantities) {
      expect(q.maxError).toBeLessThanOrEqual(q.tolerance);
      expect(q.pass).toBe(true);
    }
    expect(report.pass).toBe(true);
    expect(report.timing.forward.gflops).toBeGreaterThan(0);
    expect(report.timing.backward.flops).toBeCloseTo(2.5 * report.timing.forward.flops);
    expect(report.padding.paddedSlots).toBe(report.batch.sequences * report.batch.longest);
  });
});

/** The cpu backend with one wrong value in dv: the demo's check must catch it. */
async function wrongBackend(): Promise<AttentionBackend> {
  const cpu = await getBackend('cpu');
  return {
    ...cpu,
    name: 'wrong',
    async backward(...args) {
      const grads = await cpu.backward(...args);
      const problem = args[6];
      const shape = [problem.totalK, problem.numHeadsK, problem.headDimV];
      const host = await cpu.download(grads.dv, shape, problem.dtype);
      (host.data as Float32Array).fill(0.5, 0, problem.headDimV * problem.numHeadsK * problem.totalK);
      cpu.dispose(grads.dv);
      return { ...grads, dv: await cpu.upload(host) };
    },
  };
}

describe('fa demo against a wrong backend', () => {
  it('reports FAIL and exits 1', async () => {
    registerBackend('wrong', wrongBackend, { priority: -100 });
    try {
      const { code, stdout } = await run('demo', ...SMALL, '--backend', 'wrong', '--quiet');
      expect(code).toBe(EXIT_FAILURE);
      expect(stdout).toMatch(/^ {2}backend +wrong/m);
      expect(stdout).toMatch(/^ {2}dv +\S+ +\S+ +FAIL$/m);
      expect(stdout).toMatch(/^ {2}out +\S+ +\S+ +PASS$/m);
      expect(stdout.trimEnd().split('\n').at(-1)).toBe('FAIL: dv out of tolerance.');
    } finally {
      unregisterBackend('wrong');
    }
  });
});

describe('usage errors', () => {
  const cases: Array<[string[], string]> = [
    [['demo', '--heads', 'abc'], 'fa: --heads expects an integer, received "abc".'],
    [['demo', '--head-dim', '512'], 'fa: --head-dim expects a value of at most 256, received 512.'],
    [['demo', '--dtype', 'f64'], 'fa: --dtype expects one of f32, f16, bf16, received "f64".'],
    [['demo', '--tokenz', '5'], 'fa: Unknown option --tokenz. Did you mean --tokens?'],
    [['demo', '--backend', 'nope'], 'fa: --backend: no backend named "nope"'],
    [['demo', 'extra'], 'fa: fa demo takes no arguments, received "extra".'],
    [['bench', '--tag', 'a b'], 'fa: --tag expects letters'],
    [['report'], 'fa: fa report expects the path of a bench JSON file.'],
    [['report', '/no/such/file.json'], 'fa: Cannot read /no/such/file.json: '],
    [['frobnicate'], 'fa: Unknown command "frobnicate": commands are demo, bench, report, backends, help.'],
  ];
  for (const [argv, message] of cases) {
    it(`fa ${argv.join(' ')} exits 2`, async () => {
      const { code, stdout, stderr } = await run(...argv);
      expect(code).toBe(EXIT_USAGE);
      expect(stdout).toBe('');
      expect(stderr.startsWith(message)).toBe(true);
      expect(stderr).toContain('Run `fa --help` for usage.');
      expect(stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('exits 2 without a stack trace from the real binary', async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--conditions=@fa/source', '--import', 'tsx', 'src/main.ts', 'demo', '--repeats', '0'],
        { cwd: root },
        (error, _stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }),
      );
    });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toBe(
      'fa: --repeats expects a value of at least 1, received 0.\nRun `fa --help` for usage.\n',
    );
  });
});

describe('help', () => {
  it('documents every command and flag', async () => {
    const top = await run('--help');
    expect(top.code).toBe(EXIT_OK);
    for (const command of ['demo', 'bench', 'report', 'backends']) expect(top.stdout).toContain(`  ${command} `);
    const demo = await run('demo', '--help');
    for (const flag of [
      '--backend',
      '--tokens',
      '--heads',
      '--head-dim',
      '--[no-]causal',
      '--dtype',
      '--seed',
      '--json',
      '--repeats',
    ]) {
      expect(demo.stdout).toContain(flag);
    }
    const bench = await run('help', 'bench');
    for (const flag of [
      '--quick',
      '--out',
      '--backend',
      '--only',
      '--repeats',
      '--[no-]naive',
      '--[no-]padded',
      '--json',
    ]) {
      expect(bench.stdout).toContain(flag);
    }
    expect((await run()).code).toBe(EXIT_USAGE);
  });
});

describe('fa bench --quick', () => {
  it('writes a JSON report with the workload, device, command and rows', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fa-bench-'));
    try {
      const argv = ['bench', '--quick', '--tokens', '128', '--heads', '2', '--out', dir, '--quiet', '--tag', 'test'];
      const { code, stdout } = await run(...argv);
      expect(code).toBe(EXIT_OK);
      const files = await readdir(dir);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^cpu-\d{4}-\d{2}-\d{2}-test-quick\.json$/);
      expect(stdout).toContain(`Written: ${path.join(dir, files[0] as string)}`);
      const report = JSON.parse(await readFile(path.join(dir, files[0] as string), 'utf8')) as BenchReport;

      expect(report.schema).toBe('fa-bench/1');
      expect(report.quick).toBe(true);
      expect(report.command).toBe(`pnpm bench ${argv.slice(1).join(' ')}`);
      expect(report.device.cpu).toBe(os.cpus()[0]?.model.trim());
      expect(report.device.cores).toBe(os.cpus().length);
      expect(report.device.node).toBe(process.version);
      expect(report.backends.benchmarked.length).toBeGreaterThan(0);

      expect(report.workloads.map((w) => [w.distribution, w.causal, w.headDim])).toEqual([
        ['uniform', true, 64],
        ['uniform', false, 64],
        ['lognormal', true, 64],
        ['lognormal', false, 64],
        ['uniform', true, 128],
        ['lognormal', true, 128],
      ]);
      for (const w of report.workloads) {
        expect(w.tokens).toBe(128);
        expect(w.sequenceLengths.reduce((a, b) => a + b, 0)).toBe(128);
        expect(w.heads).toBe(2);
        expect(w.generator).toEqual(
          w.distribution === 'uniform' ? { sequences: 8 } : expect.objectContaining({ seed: 1 }),
        );
        expect(w.paddedForwardFlops).toBeGreaterThanOrEqual(w.forwardFlops);
      }

      const kinds = new Set(report.rows.map((r) => `${r.implementation}/${r.pass}`));
      expect(kinds).toEqual(
        new Set([
          'varlen/forward',
          'varlen/backward',
          'padded/forward',
          'padded/backward',
          'naive-js/forward',
          'onnxruntime/forward',
        ]),
      );
      const perWorkload = 2 * report.backends.benchmarked.length + 4;
      expect(report.rows).toHaveLength(report.workloads.length * perWorkload);

      // The onnxruntime baseline: one forward row per workload, timed and checked when onnxruntime-node loads,
      // otherwise a row that says why.
      const ort = report.onnxruntime;
      expect(ort?.package).toBe('onnxruntime-node');
      expect(ort?.intraOpNumThreads).toBe(os.cpus().length);
      const ortRows = report.rows.filter((r) => r.implementation === 'onnxruntime');
      expect(ortRows).toHaveLength(report.workloads.length);
      for (const row of ortRows) {
        if (ort?.status === 'loaded') {
          expect(row.backend).toBe(`onnxruntime-node@${ort.version}`);
          expect(row.check?.pass).toBe(true);
          expect(row.note).toBeNull();
        } else {
          expect(row.medianSeconds).toBeNull();
          expect(row.note).toBe(`unavailable: ${ort?.reason}`);
        }
      }
      const timed = report.rows.filter((r) => !r.note?.startsWith('unavailable'));
      for (const row of timed) {
        if (ort?.status === 'loaded' && row.implementation === 'varlen' && row.pass === 'forward') {
          expect(row.speedupVsOnnxruntime).toBeGreaterThan(0);
        }
      }
      for (const row of timed) {
        expect(row.medianSeconds).toBeGreaterThan(0);
        expect(row.runs).toBeGreaterThanOrEqual(1);
        expect(row.usefulGflops).toBeGreaterThan(0);
        expect(row.executedFlops).toBeGreaterThanOrEqual(row.usefulFlops);
        if (row.implementation === 'varlen') expect(row.check?.pass).toBe(true);
        if (row.pass === 'forward' && row.implementation !== 'naive-js') expect(row.speedupVsNaive).toBeGreaterThan(0);
      }
      // Padded rows are checked where the layouts compute the same function: causal attention.
      for (const row of report.rows.filter((r) => r.implementation === 'padded')) {
        const causal = report.workloads.find((w) => w.id === row.workload)?.causal;
        if (causal) expect(row.check?.pass).toBe(true);
        else expect(row.check).toBeNull();
      }
      expect(report.pass).toBe(true);

      // `fa report` prints the saved file again, as text and as Markdown.
      const again = await run('report', path.join(dir, files[0] as string));
      expect(again.code).toBe(EXIT_OK);
      expect(again.stdout).toContain('fa varlen');
      expect(again.stdout).toMatch(ort?.status === 'loaded' ? /^onnxruntime: onnxruntime-node \d/m : /unavailable/);
      const markdown = await run('report', path.join(dir, files[0] as string), '--markdown');
      expect(markdown.stdout).toMatch(/^\| workload +\| implementation +\| pass \| +median \|/m);
      expect(markdown.stdout.match(/^\| .* \| (fwd|bwd) +\|/gm)).toHaveLength(report.rows.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips the onnxruntime rows with --no-onnxruntime', async () => {
    const argv = ['bench', '--quick', '--tokens', '64', '--heads', '1', '--only', '8x8-causal-d64'];
    const { code, stdout } = await run(...argv, '--no-naive', '--no-onnxruntime', '--no-write', '--json', '--quiet');
    expect(code).toBe(EXIT_OK);
    const report = JSON.parse(stdout) as BenchReport;
    expect(report.options.onnxruntime).toBe(false);
    expect(report.onnxruntime).toBeNull();
    expect(report.rows.some((r) => r.implementation === 'onnxruntime')).toBe(false);
  });

  it('rejects an --only that matches no workload as a usage error', async () => {
    const { code, stderr } = await run('bench', '--quick', '--only', 'no-such-workload', '--no-write', '--quiet');
    expect(code).toBe(EXIT_USAGE);
    expect(stderr).toMatch(/^fa: --only: no workload id contains "no-such-workload" \(ids: 8x128-causal-d64, /);
  });
});
