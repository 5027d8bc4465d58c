import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  flashAttn,
  flashAttnBackward,
  flashAttnVarlen,
  flashAttnVarlenBackward,
  type Tensor,
  tensor,
} from '@fa/flash-attn';
import { availableBackends } from '../backend.js';
import {
  type CheckResult,
  compareResults,
  computeReference,
  describePlan,
  packedLayout,
  paddedLayout,
  planCheck,
  type ReferenceAnswer,
  type Results,
  toleranceRule,
} from '../check.js';
import { FLOP_RULE } from '../demo.js';
import { type DeviceInfo, deviceInfo, machineTag } from '../device.js';
import type { Progress } from '../progress.js';
import { measure, type Timing, type TimingOptions } from '../timing.js';
import { type AttnInputs, BACKWARD_FLOP_FACTOR, randomInputs, type Storage, seededRandom } from '../workload.js';
import { naiveAttentionForward } from './naive.js';
import {
  describeOnnxruntimeModel,
  loadOnnxruntime,
  ONNXRUNTIME_PACKAGE,
  OnnxruntimeAttention,
  type OnnxruntimeLoad,
  type OrtFeeds,
} from './onnxruntime.js';
import { type BenchWorkload, benchWorkloads } from './workloads.js';

/**
 * `fa bench`: every workload on every usable backend, forward and backward, next to the same batch padded to
 * its longest sequence (what a kernel without varlen support must run), a naive JavaScript loop, and, when
 * onnxruntime-node loads, ORT's native CPU MultiHeadAttention on the padded batch with a key padding mask (what a
 * user of ONNX Runtime runs today). Throughput is always useful work, the FLOPs of the packed batch, so the padded
 * rows show the waste as lower GFLOP/s.
 */

export interface BenchOptions {
  readonly quick: boolean;
  readonly outDir: string;
  readonly write: boolean;
  readonly backends: readonly string[] | undefined;
  readonly tokens: number;
  readonly heads: number;
  readonly seed: number;
  readonly warmup: number;
  /** Timed runs per fa row at least; the padded and naive baselines take `baselineRepeats`. */
  readonly repeats: number;
  readonly baselineRepeats: number;
  /** Past the minimum, keep adding runs (up to 3× the minimum) while a row has used less than this. */
  readonly budgetSeconds: number;
  readonly naive: boolean;
  readonly padded: boolean;
  /** Compare with onnxruntime-node's MultiHeadAttention on the padded batch, when it loads. */
  readonly onnxruntime: boolean;
  /** Only workloads whose id contains this. */
  readonly filter: string | undefined;
  readonly tag: string | undefined;
  readonly checkBudget: number;
}

export type Implementation = 'varlen' | 'padded' | 'naive-js' | 'onnxruntime';

export interface BenchRow {
  readonly workload: string;
  readonly implementation: Implementation;
  /** The fa backend; for onnxruntime rows the package and its version, e.g. `onnxruntime-node@1.30.0`. */
  readonly backend: string | null;
  readonly pass: 'forward' | 'backward';
  readonly medianSeconds: number | null;
  readonly minSeconds: number | null;
  readonly runs: number;
  readonly warmup: number;
  readonly samples: number[];
  /** FLOPs of the packed batch: the work that matters. */
  readonly usefulFlops: number;
  /** FLOPs the implementation executes (more than useful for the padded layout). */
  readonly executedFlops: number;
  readonly usefulGflops: number | null;
  /** Naive median / this median (forward rows). */
  readonly speedupVsNaive: number | null;
  /** Padded median / this median (varlen rows). */
  readonly speedupVsPadded: number | null;
  /** onnxruntime median / this median (fa forward rows; absent in reports written before the ORT rows). */
  readonly speedupVsOnnxruntime?: number | null;
  readonly check: (CheckResult & { readonly maxError: number }) | null;
  /** Why a row has no timing or no check. */
  readonly note: string | null;
}

export interface BenchReport {
  readonly schema: 'fa-bench/1';
  readonly date: string;
  readonly command: string;
  readonly argv: string[];
  readonly quick: boolean;
  readonly device: DeviceInfo;
  /** 1-minute load average before and after the run: a busy machine makes timings unreliable. */
  readonly loadAverage: { readonly before: number; readonly after: number };
  readonly backends: {
    readonly usable: string[];
    readonly benchmarked: string[];
    readonly unavailable: { name: string; reason: string }[];
  };
  readonly options: Omit<BenchOptions, 'outDir' | 'write'>;
  /** The onnxruntime baseline: null when not requested (or in reports written before it existed). */
  readonly onnxruntime?: OnnxruntimeInfo | null;
  readonly method: {
    readonly flops: string;
    readonly timing: string;
    readonly tolerance: string;
    readonly check: string;
  };
  readonly workloads: Array<
    Omit<BenchWorkload, 'batch'> & {
      readonly tokens: number;
      readonly sequenceLengths: readonly number[];
      readonly checked: string;
    }
  >;
  readonly rows: BenchRow[];
  readonly pass: boolean;
}

export interface OnnxruntimeInfo {
  readonly package: string;
  /** null when it did not load. */
  readonly version: string | null;
  readonly status: 'loaded' | 'unavailable';
  readonly reason: string | null;
  readonly intraOpNumThreads: number;
  readonly model: string;
}

interface RowInput {
  readonly workload: BenchWorkload;
  readonly implementation: Implementation;
  readonly backend: string | null;
  readonly pass: 'forward' | 'backward';
  readonly timing: Timing | null;
  readonly executedFlops: number;
  readonly check: CheckResult | null;
  readonly note?: string | null;
}

function makeRow(input: RowInput): BenchRow {
  const { workload, timing, pass } = input;
  const factor = pass === 'backward' ? BACKWARD_FLOP_FACTOR : 1;
  const usefulFlops = workload.forwardFlops * factor;
  const median = timing?.medianSeconds ?? null;
  return {
    workload: workload.id,
    implementation: input.implementation,
    backend: input.backend,
    pass,
    medianSeconds: median,
    minSeconds: timing?.minSeconds ?? null,
    runs: timing?.samples.length ?? 0,
    warmup: timing?.warmup ?? 0,
    samples: timing?.samples ?? [],
    usefulFlops,
    executedFlops: input.executedFlops * factor,
    usefulGflops: median === null ? null : usefulFlops / median / 1e9,
    speedupVsNaive: null,
    speedupVsPadded: null,
    speedupVsOnnxruntime: null,
    check: input.check
      ? { ...input.check, maxError: Math.max(0, ...input.check.quantities.map((q) => q.maxError)) }
      : null,
    note: input.note ?? null,
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** (total, H, D) packed → (B, S, H, D) padded with zeros: the input a fixed-length kernel needs. */
function padTokens(data: Storage, workload: BenchWorkload): Storage {
  const { batch, heads, headDim } = workload;
  const row = heads * headDim;
  const out = new (data.constructor as new (n: number) => Storage)(batch.lengths.length * batch.maxSeqlen * row);
  batch.lengths.forEach((length, b) => {
    const from = (batch.cuSeqlens[b] as number) * row;
    out.set(data.subarray(from, from + length * row), b * batch.maxSeqlen * row);
  });
  return out;
}

async function downloadAll(tensors: Partial<Record<keyof Results, Tensor>>): Promise<Results> {
  const results: Results = {};
  for (const [name, t] of Object.entries(tensors) as [keyof Results, Tensor][]) results[name] = await t.toArray();
  return results;
}

function disposeAll(tensors: Iterable<Tensor | undefined>): void {
  for (const t of tensors) t?.dispose();
}

interface Context {
  readonly options: BenchOptions;
  readonly progress: Progress;
  readonly fast: TimingOptions;
  readonly slow: TimingOptions;
}

/** Times forward and backward through the varlen entry points, then checks the last results. */
async function benchVarlen(
  ctx: Context,
  workload: BenchWorkload,
  inputs: AttnInputs,
  answer: ReferenceAnswer,
  backend: string,
): Promise<BenchRow[]> {
  const { batch } = workload;
  const shape = inputs.shape;
  const q = tensor(inputs.q, shape, inputs.dtype);
  const k = tensor(inputs.k, shape, inputs.dtype);
  const v = tensor(inputs.v, shape, inputs.dtype);
  const dout = tensor(inputs.dout, shape, inputs.dtype);
  const options = { cuSeqlensQ: batch.cuSeqlens, cuSeqlensK: batch.cuSeqlens, causal: workload.causal, backend };
  const layout = packedLayout(batch, workload.heads);
  let fwd: { out: Tensor; lse: Tensor } | undefined;
  let bwd: { dq: Tensor; dk: Tensor; dv: Tensor } | undefined;
  const base = { workload, implementation: 'varlen' as const, backend, executedFlops: workload.forwardFlops };
  try {
    ctx.progress.step(`${workload.id}: varlen forward on ${backend}`);
    const forward = await measure(
      () => flashAttnVarlen(q, k, v, options),
      ctx.fast,
      (r) => {
        if (fwd) disposeAll([fwd.out, fwd.lse]);
        fwd = r;
      },
    );
    const { out, lse } = fwd as { out: Tensor; lse: Tensor };
    const fwdCheck = compareResults(answer, await downloadAll({ out, lse }), layout);
    ctx.progress.tick();

    ctx.progress.step(`${workload.id}: varlen backward on ${backend}`);
    const backward = await measure(
      () => flashAttnVarlenBackward(dout, q, k, v, out, lse, options),
      ctx.fast,
      (r) => {
        if (bwd) disposeAll([bwd.dq, bwd.dk, bwd.dv]);
        bwd = r;
      },
    );
    const grads = bwd as { dq: Tensor; dk: Tensor; dv: Tensor };
    const bwdCheck = compareResults(answer, await downloadAll(grads), layout);
    ctx.progress.tick();
    return [
      makeRow({ ...base, pass: 'forward', timing: forward, check: fwdCheck }),
      makeRow({ ...base, pass: 'backward', timing: backward, check: bwdCheck }),
    ];
  } catch (error) {
    // A backend that cannot run this workload (a head dim it lacks, memory) gets a row saying so, not a crash.
    ctx.progress.tick();
    const note = `failed: ${errorMessage(error)}`;
    return [
      makeRow({ ...base, pass: 'forward', timing: null, check: null, note }),
      makeRow({ ...base, pass: 'backward', timing: null, check: null, note }),
    ];
  } finally {
    disposeAll([q, k, v, dout, fwd?.out, fwd?.lse, bwd?.dq, bwd?.dk, bwd?.dv]);
  }
}

/** The same batch padded to its longest sequence through the fixed-length entry points. */
async function benchPadded(
  ctx: Context,
  workload: BenchWorkload,
  inputs: AttnInputs,
  answer: ReferenceAnswer,
  backend: string,
): Promise<BenchRow[]> {
  const { batch, heads, headDim } = workload;
  const shape = [batch.lengths.length, batch.maxSeqlen, heads, headDim];
  const q = tensor(padTokens(inputs.q, workload), shape, inputs.dtype);
  const k = tensor(padTokens(inputs.k, workload), shape, inputs.dtype);
  const v = tensor(padTokens(inputs.v, workload), shape, inputs.dtype);
  // Zero dout on padded rows: those rows then pass no gradient, so valid-token gradients stay exact (causal).
  const dout = tensor(padTokens(inputs.dout, workload), shape, inputs.dtype);
  const options = { causal: workload.causal, backend };
  const layout = paddedLayout(batch.maxSeqlen, heads);
  // Without a key mask, padded keys are visible to every query of a non-causal sequence: the padded layout
  // computes a different function there, so only its speed is comparable. Causal rows never see them.
  const comparable = workload.causal;
  const note = comparable
    ? null
    : 'not checked: without a key mask, non-causal padded attention also attends to the padding';
  let fwd: { out: Tensor; lse: Tensor } | undefined;
  let bwd: { dq: Tensor; dk: Tensor; dv: Tensor } | undefined;
  const base = { workload, implementation: 'padded' as const, backend, executedFlops: workload.paddedForwardFlops };
  try {
    ctx.progress.step(`${workload.id}: padded forward on ${backend}`);
    const forward = await measure(
      () => flashAttn(q, k, v, options),
      ctx.slow,
      (r) => {
        if (fwd) disposeAll([fwd.out, fwd.lse]);
        fwd = r;
      },
    );
    const { out, lse } = fwd as { out: Tensor; lse: Tensor };
    const fwdCheck = comparable ? compareResults(answer, await downloadAll({ out, lse }), layout) : null;
    ctx.progress.tick();

    ctx.progress.step(`${workload.id}: padded backward on ${backend}`);
    const backward = await measure(
      () => flashAttnBackward(dout, q, k, v, out, lse, options),
      ctx.slow,
      (r) => {
        if (bwd) disposeAll([bwd.dq, bwd.dk, bwd.dv]);
        bwd = r;
      },
    );
    const bwdCheck = comparable
      ? compareResults(answer, await downloadAll(bwd as NonNullable<typeof bwd>), layout)
      : null;
    ctx.progress.tick();
    return [
      makeRow({ ...base, pass: 'forward', timing: forward, check: fwdCheck, note }),
      makeRow({ ...base, pass: 'backward', timing: backward, check: bwdCheck, note }),
    ];
  } catch (error) {
    ctx.progress.tick();
    const failed = `failed: ${errorMessage(error)}`;
    return [
      makeRow({ ...base, pass: 'forward', timing: null, check: null, note: failed }),
      makeRow({ ...base, pass: 'backward', timing: null, check: null, note: failed }),
    ];
  } finally {
    disposeAll([q, k, v, dout, fwd?.out, fwd?.lse, bwd?.dq, bwd?.dk, bwd?.dv]);
  }
}

async function benchNaive(
  ctx: Context,
  workload: BenchWorkload,
  inputs: AttnInputs,
  answer: ReferenceAnswer,
): Promise<BenchRow> {
  const { batch, heads, headDim, causal } = workload;
  ctx.progress.step(`${workload.id}: naive JavaScript forward`);
  let out: Float32Array | undefined;
  const timing = await measure(
    async () =>
      naiveAttentionForward(
        inputs.q as Float32Array,
        inputs.k as Float32Array,
        inputs.v as Float32Array,
        batch.cuSeqlens,
        heads,
        headDim,
        causal,
      ),
    ctx.slow,
    (r) => {
      out = r;
    },
  );
  const check = compareResults(answer, { out: out as Float32Array }, packedLayout(batch, heads));
  ctx.progress.tick();
  return makeRow({
    workload,
    implementation: 'naive-js',
    backend: null,
    pass: 'forward',
    timing,
    executedFlops: workload.forwardFlops,
    check,
  });
}

/**
 * onnxruntime-node's CPU MultiHeadAttention on the batch padded to its longest sequence, with a key padding mask:
 * the same function as varlen attention on the real tokens. Padding, the mask and the ORT tensors are made before
 * timing (as the fa rows time calls on uploaded inputs); the output is unpadded for the check.
 */
async function benchOnnxruntime(
  ctx: Context,
  workload: BenchWorkload,
  inputs: AttnInputs,
  answer: ReferenceAnswer,
  load: OnnxruntimeLoad,
  threads: number,
): Promise<BenchRow> {
  const { batch, heads, headDim, causal } = workload;
  // With a mask, ORT's CPU kernel computes every score of the padded batch (then masks them), causal or not.
  const executedFlops = workload.paddedForwardFlops * (causal ? 2 : 1);
  const base = { workload, implementation: 'onnxruntime' as const, pass: 'forward' as const, executedFlops };
  ctx.progress.step(`${workload.id}: onnxruntime MultiHeadAttention forward, padded and masked`);
  if (!load.ok) {
    ctx.progress.tick();
    const note = `unavailable: ${load.reason}`;
    return makeRow({ ...base, backend: ONNXRUNTIME_PACKAGE, timing: null, check: null, note });
  }
  const backend = `${ONNXRUNTIME_PACKAGE}@${load.version}`;
  let attention: OnnxruntimeAttention | undefined;
  try {
    const { q, k, v } = inputs;
    if (!(q instanceof Float32Array && k instanceof Float32Array && v instanceof Float32Array)) {
      throw new Error(`the onnxruntime row runs f32 only, not ${inputs.dtype}`);
    }
    const session = await OnnxruntimeAttention.create(load.ort, { heads, headDim, causal }, threads);
    attention = session;
    const feeds: OrtFeeds = session.prepare(q, k, v, batch);
    let out: Float32Array | undefined;
    const timing = await measure(
      () => session.run(feeds),
      ctx.fast,
      (r) => {
        out = r;
      },
    );
    const check = compareResults(
      answer,
      { out: session.unpad(out as Float32Array, batch) },
      packedLayout(batch, heads),
    );
    // A baseline that computes something else must say so in its row, not only in the check column.
    const worst = check.quantities.find((q) => !q.pass);
    const note = worst
      ? `out of tolerance: max |err| ${worst.maxError.toExponential(2)} > ${worst.tolerance.toExponential(2)} on the ` +
        "real tokens: ORT's padded, masked attention does not compute the same function here"
      : null;
    ctx.progress.tick();
    return makeRow({ ...base, backend, timing, check, note });
  } catch (error) {
    ctx.progress.tick();
    return makeRow({ ...base, backend, timing: null, check: null, note: `failed: ${errorMessage(error)}` });
  } finally {
    await attention?.release();
  }
}

/** Fills in the speed-up columns once every row of a workload is measured. */
function withSpeedups(rows: BenchRow[]): BenchRow[] {
  const naive = rows.find((r) => r.implementation === 'naive-js')?.medianSeconds ?? null;
  const padded = (pass: string) =>
    rows.find((r) => r.implementation === 'padded' && r.pass === pass)?.medianSeconds ?? null;
  const ort = rows.find((r) => r.implementation === 'onnxruntime')?.medianSeconds ?? null;
  return rows.map((row) => {
    if (row.medianSeconds === null) return row;
    const vsNaive =
      row.pass === 'forward' && naive !== null && row.implementation !== 'naive-js' ? naive / row.medianSeconds : null;
    const paddedMedian = padded(row.pass);
    const vsPadded = row.implementation === 'varlen' && paddedMedian !== null ? paddedMedian / row.medianSeconds : null;
    const isFa = row.implementation === 'varlen' || row.implementation === 'padded';
    const vsOrt = isFa && row.pass === 'forward' && ort !== null ? ort / row.medianSeconds : null;
    return { ...row, speedupVsNaive: vsNaive, speedupVsPadded: vsPadded, speedupVsOnnxruntime: vsOrt };
  });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command that reproduces a run from the repository root. */
export function reproduceCommand(argv: readonly string[]): string {
  return ['pnpm', 'bench', ...argv.map(shellQuote)].join(' ');
}

export async function runBench(
  options: BenchOptions,
  progress: Progress,
  argv: readonly string[],
): Promise<BenchReport> {
  const loadBefore = os.loadavg()[0] as number;
  const found = await availableBackends();
  const wanted = options.backends ?? found.usable;
  for (const name of wanted) {
    if (!found.usable.includes(name)) {
      const why = found.unavailable.find((u) => u.name === name)?.reason ?? 'not registered';
      throw new Error(
        `Backend "${name}" cannot be benchmarked: ${why} (usable here: ${found.usable.join(', ') || 'none'}).`,
      );
    }
  }
  if (wanted.length === 0) {
    throw new Error(`No backend can run here:\n${found.unavailable.map((u) => `- ${u.name}: ${u.reason}`).join('\n')}`);
  }
  const paddedBackend = wanted[0] as string;
  const workloads = benchWorkloads({ tokens: options.tokens, heads: options.heads, seed: options.seed }).filter(
    (w) => options.filter === undefined || w.id.includes(options.filter),
  );
  if (workloads.length === 0) throw new Error(`No workload id contains "${options.filter}".`);

  const ctx: Context = {
    options,
    progress,
    fast: {
      warmup: options.warmup,
      minRepeats: options.repeats,
      maxRepeats: 3 * options.repeats,
      budgetSeconds: options.budgetSeconds,
    },
    slow: {
      warmup: options.warmup,
      minRepeats: options.baselineRepeats,
      maxRepeats: options.baselineRepeats,
      budgetSeconds: 0,
    },
  };
  // Loaded once, before the first timing: a missing or broken onnxruntime-node makes rows that say why.
  const ortThreads = os.cpus().length;
  const ort: OnnxruntimeLoad | null = options.onnxruntime ? await loadOnnxruntime() : null;
  const onnxruntime: OnnxruntimeInfo | null = ort && {
    package: ONNXRUNTIME_PACKAGE,
    version: ort.ok ? ort.version : null,
    status: ort.ok ? 'loaded' : 'unavailable',
    reason: ort.ok ? null : ort.reason,
    intraOpNumThreads: ortThreads,
    model: describeOnnxruntimeModel(ortThreads),
  };

  const stepsPerWorkload = 1 + 2 * wanted.length + (options.padded ? 2 : 0) + (options.naive ? 1 : 0) + (ort ? 1 : 0);
  progress.start('fa bench', workloads.length * stepsPerWorkload);

  // A stream apart from the one the skewed lengths came from, so that inputs do not replay the length draws.
  const rng = seededRandom((options.seed ^ 0x9e3779b9) >>> 0);
  const rows: BenchRow[] = [];
  const described: BenchReport['workloads'] = [];
  for (const workload of workloads) {
    const { batch, heads, headDim } = workload;
    progress.step(`${workload.id}: inputs and float64 reference`);
    const inputs = randomInputs(rng, batch.tokens, heads, headDim, 'f32');
    const plan = planCheck(batch, heads, rng, {
      sequences: 3,
      heads: 2,
      budget: options.checkBudget,
      causal: workload.causal,
    });
    const answer = computeReference(inputs, batch, plan, true);
    progress.tick();

    const workloadRows: BenchRow[] = [];
    for (const backend of wanted) workloadRows.push(...(await benchVarlen(ctx, workload, inputs, answer, backend)));
    if (options.padded) workloadRows.push(...(await benchPadded(ctx, workload, inputs, answer, paddedBackend)));
    if (options.naive) workloadRows.push(await benchNaive(ctx, workload, inputs, answer));
    if (ort) workloadRows.push(await benchOnnxruntime(ctx, workload, inputs, answer, ort, ortThreads));
    rows.push(...withSpeedups(workloadRows));
    const { batch: _batch, ...rest } = workload;
    described.push({
      ...rest,
      tokens: batch.tokens,
      sequenceLengths: batch.lengths,
      checked: describePlan(plan, batch.lengths.length),
    });
  }
  progress.finish();

  const { outDir: _outDir, write: _write, ...recorded } = options;
  return {
    schema: 'fa-bench/1',
    date: new Date().toISOString(),
    command: reproduceCommand(argv),
    argv: [...argv],
    quick: options.quick,
    device: deviceInfo(),
    loadAverage: { before: loadBefore, after: os.loadavg()[0] as number },
    backends: { usable: found.usable, benchmarked: [...wanted], unavailable: found.unavailable },
    options: recorded,
    onnxruntime,
    method: {
      flops: `${FLOP_RULE}; every row counts the packed batch's FLOPs (useful work), padded and onnxruntime rows included`,
      timing:
        `median of timed runs after ${plural(options.warmup, 'warm-up run')}; varlen${ort ? ' and onnxruntime' : ''} rows ` +
        (options.budgetSeconds > 0
          ? `${options.repeats} to ${3 * options.repeats} runs (more while a row has run less than ${options.budgetSeconds} s)`
          : plural(options.repeats, 'run')) +
        `, padded and naive rows ${plural(options.baselineRepeats, 'run')}; a call is timed until its promise resolves with ` +
        'its results on the backend, inputs already uploaded (for onnxruntime: already padded, masked and wrapped as ' +
        'ORT tensors)',
      tolerance: toleranceRule('f32'),
      check:
        'a sample of sequences (longest, shortest, median; the longest on its last rows) and 2 heads recomputed in float64 by @fa/core',
    },
    workloads: described,
    rows,
    pass: rows.every((r) => r.check === null || r.check.pass),
  };
}

/** What makes two runs' results comparable: the same workloads, batches included. */
function workloadKey(workloads: BenchReport['workloads'] | undefined): string {
  return JSON.stringify(
    (workloads ?? []).map((w) => [w.id, w.heads, w.headDim, w.causal, w.tokens, w.sequenceLengths]),
  );
}

/** True when `file` does not exist or holds a bench report of the same workloads (a rerun may replace it). */
async function mayReplace(file: string, report: BenchReport): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  try {
    const old = JSON.parse(text) as BenchReport;
    return old?.schema === report.schema && workloadKey(old.workloads) === workloadKey(report.workloads);
  } catch {
    return false;
  }
}

/**
 * Writes the report as `cpu-<date>-<machine>.json` (plus `-quick` for smoke runs) and returns the path. A file of
 * the same name is replaced only when it holds the same workloads (a rerun of the same command the same day);
 * otherwise the new run goes to `…-2.json`, `…-3.json`, …, so that no other run's results are lost.
 */
export async function writeBenchReport(report: BenchReport, outDir: string, tag: string | undefined): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const date = report.date.slice(0, 10);
  const stem = `cpu-${date}-${tag ?? machineTag(report.device)}${report.quick ? '-quick' : ''}`;
  for (let n = 1; ; n++) {
    const file = path.join(outDir, n === 1 ? `${stem}.json` : `${stem}-${n}.json`);
    if (await mayReplace(file, report)) {
      await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
      return file;
    }
  }
}
