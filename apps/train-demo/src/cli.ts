import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BACKENDS, type BackendName, BackendUnavailableError, prepareBackend } from './backends.js';
import { renderChart } from './chart.js';
import { parseDocuments, prepareCorpus } from './corpus.js';
import { DEFAULT_MODEL } from './model.js';
import { CORPUS_PATH } from './paths.js';
import { DEFAULT_TRAIN, type TrainConfig, type TrainResult, train } from './train.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  readonly steps: number;
  readonly seed: number;
  readonly backend: BackendName;
  readonly maxTokens: number;
  readonly out: string;
  readonly lr: number;
  readonly evalEvery: number;
  readonly corpus: string;
  readonly dModel: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly quiet: boolean;
}

const HELP = `Usage: pnpm --filter @fa/train-demo train [flags]

Trains a tiny causal transformer LM (bytes, RMSNorm, rotary, SwiGLU, GQA) on packed documents.

  --steps N          training steps (default ${DEFAULT_TRAIN.steps})
  --seed N           initialisation and data order (default ${DEFAULT_TRAIN.seed})
  --backend NAME     ${BACKENDS.join(' | ')} (default cpu); attention runs there
  --max-tokens N     token budget of one packed batch (default 1024)
  --out DIR          where curve.json and curve.svg go (default out)
  --lr X             peak learning rate (default ${DEFAULT_TRAIN.lr})
  --eval-every N     validation every N steps, 0 for first and last only (default ${DEFAULT_TRAIN.evalEvery})
  --d-model N        width (default ${DEFAULT_MODEL.dModel})
  --layers N         blocks (default ${DEFAULT_MODEL.layers})
  --heads N          query heads (default ${DEFAULT_MODEL.heads})
  --kv-heads N       key/value heads (default ${DEFAULT_MODEL.kvHeads})
  --corpus FILE      documents separated by <|endoftext|> lines (default: the shipped corpus)
  --quiet            print only the summary
  --help`;

const NUMERIC: Record<string, { key: keyof CliOptions; int: boolean; min: number }> = {
  steps: { key: 'steps', int: true, min: 0 },
  seed: { key: 'seed', int: true, min: 0 },
  'max-tokens': { key: 'maxTokens', int: true, min: 1 },
  lr: { key: 'lr', int: false, min: 0 },
  'eval-every': { key: 'evalEvery', int: true, min: 0 },
  'd-model': { key: 'dModel', int: true, min: 1 },
  layers: { key: 'layers', int: true, min: 1 },
  heads: { key: 'heads', int: true, min: 1 },
  'kv-heads': { key: 'kvHeads', int: true, min: 1 },
};

/** `--flag value` and `--flag=value`. Returns null for `--help`. */
export function parseArgs(argv: readonly string[]): CliOptions | null {
  const options: Record<string, unknown> = {
    steps: DEFAULT_TRAIN.steps,
    seed: DEFAULT_TRAIN.seed,
    backend: 'cpu',
    maxTokens: 1024,
    out: 'out',
    lr: DEFAULT_TRAIN.lr,
    evalEvery: DEFAULT_TRAIN.evalEvery,
    corpus: CORPUS_PATH,
    dModel: DEFAULT_MODEL.dModel,
    layers: DEFAULT_MODEL.layers,
    heads: DEFAULT_MODEL.heads,
    kvHeads: DEFAULT_MODEL.kvHeads,
    quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return null;
    // `pnpm train -- --steps 5` hands the separator through to the script; it separates nothing here.
    if (arg === '--') continue;
    if (!arg.startsWith('--')) throw new UsageError(`Unexpected argument "${arg}". See --help.`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (name === 'quiet') {
      options.quiet = true;
      continue;
    }
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`--${name} expects a value.`);
    const numeric = NUMERIC[name];
    if (numeric) {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n) || (numeric.int && !Number.isInteger(n)) || n < numeric.min) {
        throw new UsageError(
          `--${name} expects ${numeric.int ? 'an integer' : 'a number'} >= ${numeric.min}, received "${value}".`,
        );
      }
      options[numeric.key] = n;
    } else if (name === 'backend') {
      if (!(BACKENDS as readonly string[]).includes(value)) {
        throw new UsageError(`--backend expects one of ${BACKENDS.join(', ')}, received "${value}".`);
      }
      options.backend = value;
    } else if (name === 'out' || name === 'corpus') {
      options[name] = value;
    } else {
      throw new UsageError(`Unknown flag --${name}. See --help.`);
    }
  }
  return options as unknown as CliOptions;
}

function movingAverage(result: TrainResult, window: number): Array<[number, number]> {
  return result.curve.map((r, i) => {
    const span = result.curve.slice(Math.max(0, i - window + 1), i + 1);
    return [r.step, span.reduce((s, x) => s + x.loss, 0) / span.length];
  });
}

export function curveChart(result: TrainResult): string {
  return renderChart({
    title: `Tiny LM on packed documents: ${result.backend} backend, ${result.parameters.toLocaleString('en-US')} parameters`,
    series: [
      { name: 'training loss (per batch)', color: '#bfdbfe', points: result.curve.map((r) => [r.step, r.loss]) },
      { name: 'training loss (mean of 10 steps)', color: '#2563eb', points: movingAverage(result, 10) },
      { name: 'validation loss', color: '#dc2626', dots: true, points: result.validation.map((r) => [r.step, r.loss]) },
    ],
    baselines: [{ name: 'unigram baseline', value: result.unigramLoss, color: '#6b7280' }],
  });
}

/** Runs the demo; returns the exit code. `print` receives every line of output. */
export async function main(argv: readonly string[], print: (line: string) => void = console.log): Promise<number> {
  let options: CliOptions | null;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      print(`error: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (options === null) {
    print(HELP);
    return 0;
  }
  try {
    await prepareBackend(options.backend);
  } catch (error) {
    if (error instanceof BackendUnavailableError) {
      print(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const documents = parseDocuments(readFileSync(options.corpus, 'utf8'));
  const corpus = prepareCorpus(documents, { maxTokens: options.maxTokens, seed: options.seed });
  print(
    `corpus: ${documents.length} documents (${corpus.lengths.min}–${corpus.lengths.max} bytes, mean ${corpus.lengths.mean.toFixed(0)}), ` +
      `vocab ${corpus.vocab.size}, ${corpus.train.length} training batches of ≤ ${options.maxTokens} tokens ` +
      `(${(corpus.utilization * 100).toFixed(1)}% full), ${corpus.validation.length} validation batches`,
  );
  print(`unigram baseline: ${corpus.unigramLoss.toFixed(4)} nats/byte (the best loss without context)`);
  const config: TrainConfig = {
    ...DEFAULT_TRAIN,
    steps: options.steps,
    seed: options.seed,
    backend: options.backend,
    lr: options.lr,
    evalEvery: options.evalEvery,
    warmup: Math.min(DEFAULT_TRAIN.warmup, Math.max(1, Math.floor(options.steps / 10))),
    model: { dModel: options.dModel, layers: options.layers, heads: options.heads, kvHeads: options.kvHeads },
  };
  let window = { tokens: 0, ms: 0 };
  const result = await train(corpus, config, (event) => {
    if (options.quiet) return;
    if (event.kind === 'eval') {
      print(`step ${event.record.step}: validation loss ${event.record.loss.toFixed(4)}`);
      return;
    }
    const r = event.record;
    window = { tokens: window.tokens + r.tokens, ms: window.ms + r.ms };
    if (r.step % 10 === 0 || r.step === 1 || r.step === config.steps) {
      const rate = (window.tokens * 1000) / window.ms;
      print(
        `step ${r.step}/${config.steps}  loss ${r.loss.toFixed(4)}  lr ${r.lr.toExponential(2)}  ${rate.toFixed(0)} tokens/s`,
      );
      window = { tokens: 0, ms: 0 };
    }
  });
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'curve.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(out, 'curve.svg'), curveChart(result));
  const tail = result.curve.slice(-10);
  const lastTrain = tail.reduce((s, r) => s + r.loss, 0) / Math.max(1, tail.length);
  const lastVal = result.validation.at(-1)?.loss ?? Number.NaN;
  const tokens = result.curve.reduce((s, r) => s + r.tokens, 0);
  print(
    `done: ${result.curve.length} steps in ${result.seconds.toFixed(1)} s (${((tokens / result.seconds) | 0).toLocaleString('en-US')} tokens/s overall), ` +
      `${result.parameters.toLocaleString('en-US')} parameters, backend ${result.backend}`,
  );
  print(
    `loss: unigram baseline ${result.unigramLoss.toFixed(4)}, training (mean of last ${tail.length} steps) ${lastTrain.toFixed(4)}, validation ${lastVal.toFixed(4)}`,
  );
  print(`wrote ${join(out, 'curve.json')} and ${join(out, 'curve.svg')}`);
  return 0;
}
