import type { FloatDType } from '@fa/core';
import { flashAttnVarlen, flashAttnVarlenBackward, type Tensor, tensor } from '@fa/flash-attn';
import { chooseBackend } from './backend.js';
import {
  type CheckResult,
  compareResults,
  computeReference,
  describePlan,
  packedLayout,
  planCheck,
  type Slice,
} from './check.js';
import {
  formatError,
  formatInt,
  formatNumber,
  formatPercent,
  formatSeconds,
  renderPairs,
  renderTable,
} from './format.js';
import type { Progress } from './progress.js';
import { measure, type Timing } from './timing.js';
import {
  BACKWARD_FLOP_FACTOR,
  type CorpusStats,
  forwardFlops,
  lengthStats,
  type PaddingStats,
  packedDemoBatch,
  paddingStats,
  randomInputs,
  seededRandom,
} from './workload.js';

/** `fa demo`: one realistic packed batch through forward and backward, timed and checked against the reference. */

export interface DemoOptions {
  readonly backend: string | undefined;
  readonly tokens: number;
  readonly heads: number;
  readonly headDim: number;
  readonly causal: boolean;
  readonly dtype: FloatDType;
  readonly seed: number;
  readonly medianLength: number;
  readonly sigma: number;
  readonly minLength: number;
  readonly repeats: number;
  readonly checkSeqs: number;
  readonly checkHeads: number;
  readonly checkBudget: number;
}

export interface PassTiming {
  readonly medianSeconds: number;
  readonly minSeconds: number;
  readonly runs: number;
  readonly flops: number;
  readonly gflops: number;
}

export interface DemoReport {
  readonly command: 'demo';
  readonly backend: { readonly name: string; readonly registered: string[]; readonly runtime: string };
  readonly config: DemoOptions;
  readonly batch: {
    readonly tokens: number;
    readonly budget: number;
    readonly sequences: number;
    readonly longest: number;
    readonly median: number;
    readonly shortest: number;
    readonly lengths: readonly number[];
    readonly cuSeqlens: number[];
    /** 0-based index of the batch in the packing plan. */
    readonly index: number;
    readonly corpus: CorpusStats;
  };
  readonly padding: PaddingStats;
  readonly timing: { readonly forward: PassTiming; readonly backward: PassTiming; readonly flopRule: string };
  readonly check: CheckResult & {
    readonly description: string;
    readonly slices: readonly Slice[];
    readonly heads: readonly number[];
  };
  readonly pass: boolean;
}

export const FLOP_RULE = 'forward = 4 · Σ Lq·Lk · H · D (halved when causal); backward = 2.5 × forward';

/** Seconds of timed runs per pass before the demo stops repeating: keeps it short on slow machines. */
const DEMO_PASS_BUDGET_SECONDS = 6;

function passTiming(timing: Timing, flops: number): PassTiming {
  return {
    medianSeconds: timing.medianSeconds,
    minSeconds: timing.minSeconds,
    runs: timing.samples.length,
    flops,
    gflops: flops / timing.medianSeconds / 1e9,
  };
}

export async function runDemo(options: DemoOptions, progress: Progress): Promise<DemoReport> {
  const rng = seededRandom(options.seed);
  const timingOptions = {
    warmup: 1,
    minRepeats: 1,
    maxRepeats: options.repeats,
    budgetSeconds: DEMO_PASS_BUDGET_SECONDS,
  };
  // warm-up + repeats for each of two passes, then download and the reference check.
  progress.start('fa demo', 2 * (1 + options.repeats) + 3);

  progress.step('building the packed batch');
  const built = packedDemoBatch(rng, options.tokens, {
    median: options.medianLength,
    sigma: options.sigma,
    minLength: options.minLength,
  });
  const { batch } = built;
  const inputs = randomInputs(rng, batch.tokens, options.heads, options.headDim, options.dtype);
  const backend = await chooseBackend(options.backend);
  progress.tick();

  const shape = inputs.shape;
  const q = tensor(inputs.q, shape, inputs.dtype);
  const k = tensor(inputs.k, shape, inputs.dtype);
  const v = tensor(inputs.v, shape, inputs.dtype);
  const dout = tensor(inputs.dout, shape, inputs.dtype);
  const callOptions = {
    cuSeqlensQ: batch.cuSeqlens,
    cuSeqlensK: batch.cuSeqlens,
    maxSeqlenQ: batch.maxSeqlen,
    maxSeqlenK: batch.maxSeqlen,
    causal: options.causal,
    backend: backend.name,
  };
  const label = (pass: string) => (i: number, warm: boolean) =>
    progress.step(warm ? `${pass}: warm-up` : `${pass}: run ${i + 1} of up to ${options.repeats}`);
  const owned: Tensor[] = [q, k, v, dout];
  try {
    // The first forward uploads q, k, v to the backend; they stay there for every later call.
    let kept: { out: Tensor; lse: Tensor } | undefined;
    const forward = await measure(
      () => flashAttnVarlen(q, k, v, callOptions),
      timingOptions,
      (result) => {
        // Keep the last result for the backward pass and the check; free the others as they come.
        if (kept) {
          kept.out.dispose();
          kept.lse.dispose();
        }
        kept = result;
        progress.tick();
      },
      label('forward'),
    );
    const { out, lse } = kept as { out: Tensor; lse: Tensor };
    owned.push(out, lse);

    let grads: { dq: Tensor; dk: Tensor; dv: Tensor } | undefined;
    const backward = await measure(
      () => flashAttnVarlenBackward(dout, q, k, v, out, lse, callOptions),
      timingOptions,
      (result) => {
        if (grads) for (const t of Object.values(grads)) t.dispose();
        grads = result;
        progress.tick();
      },
      label('backward'),
    );
    const { dq, dk, dv } = grads as { dq: Tensor; dk: Tensor; dv: Tensor };
    owned.push(dq, dk, dv);
    progress.step('downloading results');
    const results = {
      out: await out.toArray(),
      lse: await lse.toArray(),
      dq: await dq.toArray(),
      dk: await dk.toArray(),
      dv: await dv.toArray(),
    };
    progress.tick();

    progress.step('float64 reference on a sample of sequences and heads');
    const plan = planCheck(batch, options.heads, rng, {
      sequences: options.checkSeqs,
      heads: options.checkHeads,
      budget: options.checkBudget,
      causal: options.causal,
    });
    const answer = computeReference(inputs, batch, plan, true);
    const check = compareResults(answer, results, packedLayout(batch, options.heads));
    progress.tick();
    progress.finish();

    const flops = forwardFlops(batch, options.heads, options.headDim, options.causal);
    const stats = lengthStats(batch.lengths);
    return {
      command: 'demo',
      backend: { name: backend.name, registered: backend.available, runtime: backend.runtime },
      config: options,
      batch: {
        tokens: batch.tokens,
        budget: built.budget,
        sequences: batch.lengths.length,
        ...stats,
        lengths: batch.lengths,
        cuSeqlens: Array.from(batch.cuSeqlens),
        index: built.index,
        corpus: built.corpus,
      },
      padding: paddingStats(batch),
      timing: {
        forward: passTiming(forward, flops),
        backward: passTiming(backward, flops * BACKWARD_FLOP_FACTOR),
        flopRule: FLOP_RULE,
      },
      check: {
        ...check,
        description: describePlan(plan, batch.lengths.length),
        slices: plan.slices,
        heads: plan.heads,
      },
      pass: check.pass,
    };
  } finally {
    for (const t of owned) t.dispose();
  }
}

function plural(n: number, word: string): string {
  return `${formatInt(n)} ${word}${n === 1 ? '' : 's'}`;
}

export function renderDemo(report: DemoReport): string {
  const { config, batch, padding, timing, check } = report;
  const others = report.backend.registered.filter((b) => b !== report.backend.name);
  const lines = [
    'fa demo: packed variable-length attention, forward and backward',
    '',
    ...renderPairs([
      ['backend', `${report.backend.name}${others.length ? ` (also registered: ${others.join(', ')})` : ''}`],
      ['runtime', report.backend.runtime],
      [
        'problem',
        `${config.causal ? 'causal' : 'non-causal'}, ${config.dtype}, ${config.heads} heads × head dim ${config.headDim}`,
      ],
      [
        'corpus',
        `${formatInt(batch.corpus.documents)} documents, ${formatInt(batch.corpus.tokens)} tokens, lengths lognormal ` +
          `(median ${config.medianLength}, σ ${config.sigma}, seed ${config.seed}), packed into ${batch.corpus.batches} batches ` +
          `of ≤ ${formatInt(batch.budget)} tokens`,
      ],
      [
        'batch',
        `#${batch.index + 1} (a typical one): ${formatInt(batch.tokens)} tokens in ${plural(batch.sequences, 'sequence')}, ` +
          `longest ${formatInt(batch.longest)}, median ${formatInt(batch.median)}, shortest ${formatInt(batch.shortest)}`,
      ],
      [
        'padding avoided',
        `this batch: ${formatInt(padding.paddedSlots)} padded slots (${batch.sequences} × ${formatInt(batch.longest)}) vs ` +
          `${formatInt(padding.packedSlots)} packed: ${formatPercent(padding.paddingFraction)} would be padding, ${formatNumber(padding.ratio)}×`,
      ],
      [
        '',
        `whole corpus: ${formatInt(batch.corpus.paddedSlots)} slots padded in corpus order vs ${formatInt(batch.corpus.packedSlots)} packed: ` +
          `${formatPercent(batch.corpus.paddingFraction)} would be padding, ${formatNumber(batch.corpus.ratio)}×`,
      ],
    ]),
    '',
    ...renderTable(
      [
        ['forward', timing.forward],
        ['backward', timing.backward],
      ] as const,
      [
        { header: 'pass', value: ([name]) => name },
        { header: 'time (median)', align: 'right', value: ([, t]) => formatSeconds(t.medianSeconds) },
        { header: 'runs', align: 'right', value: ([, t]) => String(t.runs) },
        { header: 'GFLOP', align: 'right', value: ([, t]) => formatNumber(t.flops / 1e9) },
        { header: 'GFLOP/s', align: 'right', value: ([, t]) => formatNumber(t.gflops) },
      ],
      '  ',
    ),
    `  FLOPs: ${timing.flopRule}`,
    '',
    `  accuracy vs float64 reference: ${check.description}`,
    ...renderTable(
      check.quantities,
      [
        { header: 'quantity', value: (q) => q.quantity },
        { header: 'max |error|', align: 'right', value: (q) => formatError(q.maxError) },
        { header: 'tolerance', align: 'right', value: (q) => formatError(q.tolerance) },
        { header: 'result', value: (q) => (q.pass ? 'PASS' : 'FAIL') },
      ],
      '  ',
    ),
    ...(check.unchecked.length > 0
      ? [
          `  not checked: ${check.unchecked.join(', ')} (no sampled sequence small enough to check whole without a mask)`,
        ]
      : []),
    `  rule: ${check.rule}`,
    '',
    report.pass
      ? 'PASS: every checked quantity is within tolerance.'
      : `FAIL: ${check.quantities
          .filter((q) => !q.pass)
          .map((q) => q.quantity)
          .join(', ')} out of tolerance.`,
  ];
  return `${lines.join('\n')}\n`;
}
