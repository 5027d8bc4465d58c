import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FloatDType } from '@fa/core';
import { isFaError, listBackends, resetBackends } from '@fa/flash-attn';
import { describeFlags, type FlagSpec, type ParsedArgs, parseArgs, UsageError } from './args.js';
import { availableBackends } from './backend.js';
import { renderBench, renderBenchMarkdown } from './bench/render.js';
import { type BenchOptions, type BenchReport, runBench, writeBenchReport } from './bench/runner.js';
import { benchWorkloads } from './bench/workloads.js';
import { type DemoOptions, renderDemo, runDemo } from './demo.js';
import { Progress, type ProgressStream, progressModeFor } from './progress.js';

/**
 * The `fa` command: parses arguments, runs a subcommand, and maps the outcome to an exit code:
 * 0 success, 1 a failed accuracy check or a run that could not complete, 2 a usage mistake.
 */

export interface Io {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: ProgressStream;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The monorepo root (where pnpm-workspace.yaml is), found from this file so that it works from src and dist. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

const COMMON: FlagSpec[] = [
  { name: 'json', type: 'boolean', description: 'print the report as JSON on stdout instead of text' },
  { name: 'quiet', type: 'boolean', description: 'no progress on stderr' },
  { name: 'help', type: 'boolean', description: 'show this help' },
];

const DEMO_FLAGS: FlagSpec[] = [
  {
    name: 'backend',
    type: 'string',
    placeholder: 'NAME',
    description: 'backend to run on (default: the best that starts here)',
  },
  {
    name: 'tokens',
    type: 'int',
    min: 64,
    max: 1 << 20,
    default: 4096,
    placeholder: 'N',
    description: 'token budget of the packed batch',
  },
  { name: 'heads', type: 'int', min: 1, max: 128, default: 8, placeholder: 'H', description: 'attention heads' },
  { name: 'head-dim', type: 'int', min: 1, max: 256, default: 64, placeholder: 'D', description: 'head dimension' },
  { name: 'causal', type: 'boolean', default: true, description: 'causal mask (--no-causal for bidirectional)' },
  {
    name: 'dtype',
    type: 'enum',
    values: ['f32', 'f16', 'bf16'],
    default: 'f32',
    description: 'storage dtype of q, k, v',
  },
  {
    name: 'seed',
    type: 'int',
    min: 0,
    max: 2 ** 32 - 1,
    default: 1,
    placeholder: 'N',
    description: 'seed of the corpus and the inputs',
  },
  {
    name: 'median-length',
    type: 'int',
    min: 1,
    default: 128,
    placeholder: 'N',
    description: 'median document length (lognormal)',
  },
  {
    name: 'sigma',
    type: 'number',
    min: 0,
    max: 4,
    default: 1.0,
    placeholder: 'S',
    description: 'lognormal shape: 0 = equal lengths, larger = more skew',
  },
  { name: 'min-length', type: 'int', min: 1, default: 16, placeholder: 'N', description: 'shortest document kept' },
  {
    name: 'repeats',
    type: 'int',
    min: 1,
    max: 100,
    default: 3,
    placeholder: 'N',
    description: 'timed runs per pass after one warm-up (fewer if a pass is slow)',
  },
  {
    name: 'check-seqs',
    type: 'int',
    min: 1,
    max: 1000,
    default: 3,
    placeholder: 'N',
    description: 'sequences checked against the float64 reference',
  },
  {
    name: 'check-heads',
    type: 'int',
    min: 1,
    max: 128,
    default: 2,
    placeholder: 'N',
    description: 'heads checked against the reference',
  },
  {
    name: 'check-budget',
    type: 'int',
    min: 1000,
    default: 1_000_000,
    placeholder: 'N',
    description: 'reference budget in query-key pairs × heads',
  },
  ...COMMON,
];

const BENCH_FLAGS: FlagSpec[] = [
  { name: 'quick', type: 'boolean', description: 'fast smoke run: 1,024 tokens, 2 runs per row, 1 per baseline' },
  {
    name: 'out',
    type: 'string',
    placeholder: 'DIR',
    description: 'directory for the JSON results (default: <repo>/benchmarks)',
  },
  { name: 'write', type: 'boolean', default: true, description: 'write the JSON results file (--no-write to skip)' },
  {
    name: 'tag',
    type: 'string',
    placeholder: 'TAG',
    description: 'machine tag in the file name (default: from the CPU model and cores)',
  },
  {
    name: 'backend',
    type: 'string',
    placeholder: 'A,B',
    description: 'backends to run (default: every one that starts here)',
  },
  {
    name: 'only',
    type: 'string',
    placeholder: 'TEXT',
    description: 'only workloads whose id contains TEXT, e.g. lognormal or d128',
  },
  {
    name: 'tokens',
    type: 'int',
    min: 64,
    max: 1 << 20,
    placeholder: 'N',
    description: 'tokens per workload (default: 4096; --quick: 1024)',
  },
  { name: 'heads', type: 'int', min: 1, max: 128, default: 8, placeholder: 'H', description: 'attention heads' },
  {
    name: 'seed',
    type: 'int',
    min: 0,
    max: 2 ** 32 - 1,
    default: 1,
    placeholder: 'N',
    description: 'seed of the skewed lengths and the inputs',
  },
  {
    name: 'warmup',
    type: 'int',
    min: 0,
    max: 100,
    default: 1,
    placeholder: 'N',
    description: 'untimed runs before timing each row',
  },
  {
    name: 'repeats',
    type: 'int',
    min: 1,
    max: 1000,
    placeholder: 'N',
    description: 'timed runs per varlen row at least (default: 5; --quick: 2)',
  },
  {
    name: 'baseline-repeats',
    type: 'int',
    min: 1,
    max: 1000,
    placeholder: 'N',
    description: 'timed runs of the padded and naive rows (default: 3; --quick: 1)',
  },
  {
    name: 'budget',
    type: 'number',
    min: 0,
    placeholder: 'SECONDS',
    description: 'past the minimum, add varlen runs (up to 3×) while under this time (default: 2; --quick: 0)',
  },
  {
    name: 'naive',
    type: 'boolean',
    default: true,
    description: 'run the naive JavaScript baseline (--no-naive to skip)',
  },
  {
    name: 'padded',
    type: 'boolean',
    default: true,
    description: 'run the padded layout through flashAttn (--no-padded to skip)',
  },
  {
    name: 'onnxruntime',
    type: 'boolean',
    default: true,
    description:
      "run onnxruntime-node's MultiHeadAttention on the padded, masked batch if it loads (--no-onnxruntime to skip)",
  },
  {
    name: 'check-budget',
    type: 'int',
    min: 1000,
    default: 300_000,
    placeholder: 'N',
    description: 'reference budget per workload in query-key pairs × heads',
  },
  ...COMMON,
];

const REPORT_FLAGS: FlagSpec[] = [
  { name: 'markdown', type: 'boolean', description: 'print Markdown tables (for docs/benchmarks.md) instead of text' },
  { name: 'help', type: 'boolean', description: 'show this help' },
];

const COMMANDS = ['demo', 'bench', 'report', 'backends', 'help'] as const;

function mainHelp(): string {
  return [
    `fa ${version()}: FlashAttention for packed variable-length batches, from the command line.`,
    '',
    'Usage: fa <command> [options]',
    '',
    'Commands:',
    '  demo       pack a realistic batch of documents, run attention forward and backward on it,',
    '             time it, and check a sample against the float64 reference',
    '  bench      benchmark varlen attention on every backend against the padded layout and a naive',
    '             JavaScript loop; prints a table and writes JSON to <repo>/benchmarks',
    '  report     print a saved bench JSON file again, as text or --markdown',
    '  backends   list the registered backends and whether each starts here',
    '  help [cmd] show help for a command',
    '',
    "Options: --help, --version. Run `fa <command> --help` for a command's options.",
    '',
    'Exit codes: 0 success; 1 an accuracy check failed or the run could not complete; 2 a usage mistake.',
    'From the repository root: pnpm demo [options] and pnpm bench [options].',
    '',
  ].join('\n');
}

function demoHelp(): string {
  return [
    'Usage: fa demo [options]',
    '',
    'Draws a corpus of documents with lognormal lengths, packs it with first-fit decreasing under a token',
    'budget, takes the first (fullest, most skewed) batch and runs flashAttnVarlen forward and backward on it.',
    'Reports the padding that packing avoids, the median time and GFLOP/s of each pass (FLOPs = 4·ΣL²·H·D,',
    'halved when causal; backward = 2.5× forward), and the maximum error of out, lse, dq, dk and dv on a',
    'sample of sequences and heads against the float64 reference. Exits 1 when a check fails.',
    '',
    'Options:',
    ...describeFlags(DEMO_FLAGS),
    '',
  ].join('\n');
}

function benchHelp(): string {
  return [
    'Usage: fa bench [options]',
    '',
    'Workloads of T tokens (default 4096), H = 8: uniform lengths (T/512 × 512) and a skewed lognormal batch of',
    'the same total, causal and not, at D = 64, and both causal at D = 128. Each runs on every usable backend',
    '(flashAttnVarlen forward and backward), padded to its longest sequence through flashAttn, and through a',
    'naive per-sequence JavaScript loop (forward), and, when onnxruntime-node loads, through its native CPU',
    'MultiHeadAttention on the padded batch with a key padding mask (forward; what an ORT user runs today).',
    'Rows report the median time, useful GFLOP/s (FLOPs of the packed batch, also for the padded and ORT',
    'rows), speed-ups, and the error against the float64 reference on a',
    'sample. Writes <out>/cpu-<date>-<machine>.json with the workloads, the device, the command and all rows.',
    '',
    'Options:',
    ...describeFlags(BENCH_FLAGS),
    '',
  ].join('\n');
}

function reportHelp(): string {
  return [
    'Usage: fa report FILE [--markdown]',
    '',
    'Prints the results of a saved `fa bench` run (benchmarks/cpu-*.json) again: the text table, or with',
    '--markdown the workload and result tables as GitHub Markdown, as docs/benchmarks.md shows them.',
    '',
    'Options:',
    ...describeFlags(REPORT_FLAGS),
    '',
  ].join('\n');
}

function backendsHelp(): string {
  return [
    'Usage: fa backends [--json]',
    '',
    'Lists the registered backends, best first, and whether each starts here.',
    '',
  ].join('\n');
}

const HELP: Record<string, () => string> = {
  demo: demoHelp,
  bench: benchHelp,
  report: reportHelp,
  backends: backendsHelp,
};

function checkBackendName(name: string | undefined): void {
  if (name === undefined) return;
  const registered = listBackends().map((b) => b.name);
  if (!registered.includes(name)) {
    throw new UsageError(`--backend: no backend named "${name}" (registered: ${registered.join(', ') || 'none'}).`);
  }
}

function noPositionals(parsed: ParsedArgs, command: string): void {
  if (parsed.positionals.length > 0) {
    throw new UsageError(`fa ${command} takes no arguments, received "${parsed.positionals.join(' ')}".`);
  }
}

async function demoCommand(argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseArgs(argv, DEMO_FLAGS);
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(demoHelp());
    return EXIT_OK;
  }
  noPositionals(parsed, 'demo');
  checkBackendName(v.backend as string | undefined);
  const options: DemoOptions = {
    backend: v.backend as string | undefined,
    tokens: v.tokens as number,
    heads: v.heads as number,
    headDim: v['head-dim'] as number,
    causal: v.causal as boolean,
    dtype: v.dtype as FloatDType,
    seed: v.seed as number,
    medianLength: v['median-length'] as number,
    sigma: v.sigma as number,
    minLength: v['min-length'] as number,
    repeats: v.repeats as number,
    checkSeqs: v['check-seqs'] as number,
    checkHeads: v['check-heads'] as number,
    checkBudget: v['check-budget'] as number,
  };
  if (options.minLength > options.tokens) {
    throw new UsageError(`--min-length (${options.minLength}) must not exceed --tokens (${options.tokens}).`);
  }
  const progress = new Progress(io.stderr, progressModeFor(io.stderr, v.quiet as boolean));
  const report = await runDemo(options, progress);
  io.stdout.write(v.json ? `${JSON.stringify(report, null, 2)}\n` : renderDemo(report));
  return report.pass ? EXIT_OK : EXIT_FAILURE;
}

async function benchCommand(argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseArgs(argv, BENCH_FLAGS);
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(benchHelp());
    return EXIT_OK;
  }
  noPositionals(parsed, 'bench');
  const quick = v.quick as boolean;
  const backends = (v.backend as string | undefined)
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (backends?.length === 0) throw new UsageError('--backend expects at least one backend name.');
  for (const name of backends ?? []) checkBackendName(name);
  const options: BenchOptions = {
    quick,
    outDir: path.resolve((v.out as string | undefined) ?? path.join(repoRoot(), 'benchmarks')),
    write: v.write as boolean,
    backends,
    tokens: (v.tokens as number | undefined) ?? (quick ? 1024 : 4096),
    heads: v.heads as number,
    seed: v.seed as number,
    warmup: v.warmup as number,
    repeats: (v.repeats as number | undefined) ?? (quick ? 2 : 5),
    baselineRepeats: (v['baseline-repeats'] as number | undefined) ?? (quick ? 1 : 3),
    budgetSeconds: (v.budget as number | undefined) ?? (quick ? 0 : 2),
    naive: v.naive as boolean,
    padded: v.padded as boolean,
    onnxruntime: v.onnxruntime as boolean,
    filter: v.only as string | undefined,
    tag: v.tag as string | undefined,
    checkBudget: v['check-budget'] as number,
  };
  if (options.tag !== undefined && !/^[\w.-]+$/.test(options.tag)) {
    throw new UsageError(`--tag expects letters, digits, '.', '_' or '-', received "${options.tag}".`);
  }
  if (options.filter !== undefined) {
    const ids = benchWorkloads(options).map((w) => w.id);
    if (!ids.some((id) => id.includes(options.filter as string))) {
      throw new UsageError(`--only: no workload id contains "${options.filter}" (ids: ${ids.join(', ')}).`);
    }
  }
  const progress = new Progress(io.stderr, progressModeFor(io.stderr, v.quiet as boolean));
  const report = await runBench(options, progress, argv);
  const file = options.write ? await writeBenchReport(report, options.outDir, options.tag) : null;
  io.stdout.write(v.json ? `${JSON.stringify(report, null, 2)}\n` : renderBench(report, file));
  return report.pass ? EXIT_OK : EXIT_FAILURE;
}

async function reportCommand(argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseArgs(argv, REPORT_FLAGS);
  if (parsed.values.help) {
    io.stdout.write(reportHelp());
    return EXIT_OK;
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined) throw new UsageError('fa report expects the path of a bench JSON file.');
  if (extra.length > 0) throw new UsageError(`fa report takes one file, received also "${extra.join(' ')}".`);
  let report: BenchReport;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  } catch (error) {
    throw new UsageError(`Cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (report?.schema !== 'fa-bench/1')
    throw new UsageError(`${file} is not a result file of fa bench (schema fa-bench/1).`);
  io.stdout.write(parsed.values.markdown ? renderBenchMarkdown(report) : renderBench(report, null));
  return EXIT_OK;
}

async function backendsCommand(argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseArgs(argv, COMMON);
  if (parsed.values.help) {
    io.stdout.write(backendsHelp());
    return EXIT_OK;
  }
  noPositionals(parsed, 'backends');
  const registered = listBackends();
  const { usable, unavailable } = await availableBackends();
  if (parsed.values.json) {
    io.stdout.write(`${JSON.stringify({ registered, usable, unavailable }, null, 2)}\n`);
    return EXIT_OK;
  }
  for (const { name, priority } of registered) {
    const failure = unavailable.find((u) => u.name === name);
    io.stdout.write(
      `${name.padEnd(12)} priority ${String(priority).padStart(3)}  ${failure ? `unavailable: ${failure.reason}` : 'ready'}\n`,
    );
  }
  return usable.length > 0 ? EXIT_OK : EXIT_FAILURE;
}

async function dispatch(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(mainHelp());
    return EXIT_USAGE;
  }
  if (first === '--help' || first === '-h') {
    io.stdout.write(mainHelp());
    return EXIT_OK;
  }
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  switch (first) {
    case 'demo':
      return demoCommand(rest, io);
    case 'bench':
      return benchCommand(rest, io);
    case 'report':
      return reportCommand(rest, io);
    case 'backends':
      return backendsCommand(rest, io);
    case 'help': {
      const topic = rest[0];
      if (topic === undefined) io.stdout.write(mainHelp());
      else if (HELP[topic]) io.stdout.write((HELP[topic] as () => string)());
      else throw new UsageError(`No help for "${topic}": commands are ${COMMANDS.join(', ')}.`);
      return EXIT_OK;
    }
    default:
      throw new UsageError(
        first.startsWith('-')
          ? `Unknown option "${first}" before the command.`
          : `Unknown command "${first}": commands are ${COMMANDS.join(', ')}.`,
      );
  }
}

/**
 * Runs the CLI and returns its exit code; never throws. Errors are one clear line on stderr (a stack trace only
 * with FA_DEBUG=1), since a trace helps whoever debugs the CLI but not whoever mistyped a flag.
 */
export async function main(
  argv: readonly string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`fa: ${error.message}\nRun \`fa --help\` for usage.\n`);
      return EXIT_USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    const code = isFaError(error) ? ` [${error.code}]` : '';
    io.stderr.write(`fa: error${code}: ${message}\n`);
    if (process.env.FA_DEBUG && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return EXIT_FAILURE;
  } finally {
    // Backends may hold workers or devices that would keep the process alive after the report.
    await resetBackends().catch(() => undefined);
  }
}
