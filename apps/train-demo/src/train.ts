import { AdamW, clipGradNorm, noGrad, Rng } from '@fa/autograd';
import type { Batch, PreparedCorpus } from './corpus.js';
import { DEFAULT_MODEL, type ModelConfig, TinyLM } from './model.js';

export interface TrainConfig {
  readonly steps: number;
  readonly seed: number;
  readonly backend: string;
  readonly lr: number;
  /** Linear warm-up steps, then cosine decay to lr / 10. */
  readonly warmup: number;
  readonly weightDecay: number;
  readonly clip: number;
  /** Evaluate on the validation batches every this many steps (0: only before and after training). */
  readonly evalEvery: number;
  /** Evaluate on at most this many validation batches (all by default). */
  readonly evalBatches?: number;
  readonly model?: Partial<Omit<ModelConfig, 'vocabSize' | 'seed'>>;
}

export const DEFAULT_TRAIN: Omit<TrainConfig, 'backend'> = {
  steps: 300,
  seed: 0,
  lr: 6e-3,
  warmup: 20,
  weightDecay: 0.1,
  clip: 1,
  evalEvery: 100,
};

export interface StepRecord {
  readonly step: number;
  readonly loss: number;
  readonly tokens: number;
  readonly ms: number;
  readonly tokensPerSecond: number;
  readonly lr: number;
}

export interface EvalRecord {
  readonly step: number;
  readonly loss: number;
}

export interface TrainResult {
  readonly backend: string;
  readonly model: ModelConfig;
  readonly parameters: number;
  readonly unigramLoss: number;
  readonly curve: StepRecord[];
  readonly validation: EvalRecord[];
  readonly seconds: number;
}

export function learningRate(config: TrainConfig, step: number): number {
  if (step <= config.warmup) return (config.lr * step) / Math.max(1, config.warmup);
  const progress = (step - config.warmup) / Math.max(1, config.steps - config.warmup);
  return config.lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}

/** Token-weighted mean loss over validation batches, without recording a tape. */
async function evaluate(model: TinyLM, batches: readonly Batch[], backend: string): Promise<number> {
  let total = 0;
  let tokens = 0;
  for (const batch of batches) {
    const loss = await noGrad(() => model.loss(batch, backend));
    total += loss.item() * batch.tokens;
    tokens += batch.tokens;
  }
  return total / Math.max(1, tokens);
}

/**
 * Trains a `TinyLM` on the packed batches of `corpus`, one batch per step in a seeded shuffled order, with
 * AdamW, warm-up and cosine decay, and gradient clipping. The backend is only a name passed to the attention op.
 */
export async function train(
  corpus: PreparedCorpus,
  config: TrainConfig,
  onProgress?: (event: { kind: 'step'; record: StepRecord } | { kind: 'eval'; record: EvalRecord }) => void,
): Promise<TrainResult> {
  const started = performance.now();
  const modelConfig: ModelConfig = {
    ...DEFAULT_MODEL,
    ...config.model,
    vocabSize: corpus.vocab.size,
    seed: config.seed,
  };
  const model = new TinyLM(modelConfig);
  const { decayed, other } = model.parameterGroups();
  const optimizer = new AdamW([{ params: decayed }, { params: other, weightDecay: 0 }], {
    lr: config.lr,
    weightDecay: config.weightDecay,
    betas: [0.9, 0.95],
  });
  const evalSet = corpus.validation.slice(0, config.evalBatches ?? corpus.validation.length);
  const validation: EvalRecord[] = [];
  const runEval = async (step: number) => {
    const record = { step, loss: await evaluate(model, evalSet, config.backend) };
    validation.push(record);
    onProgress?.({ kind: 'eval', record });
  };
  await runEval(0);

  const rng = new Rng(config.seed + 1);
  let order: number[] = [];
  const curve: StepRecord[] = [];
  for (let step = 1; step <= config.steps; step++) {
    if (order.length === 0) order = rng.shuffle(corpus.train.map((_, i) => i));
    const batch = corpus.train[order.pop()!]!;
    const t0 = performance.now();
    optimizer.lr = learningRate(config, step);
    const loss = await model.loss(batch, config.backend, step);
    await loss.backward();
    clipGradNorm(optimizer.params, config.clip);
    optimizer.step();
    optimizer.zeroGrad();
    const ms = performance.now() - t0;
    const record = {
      step,
      loss: loss.item(),
      tokens: batch.tokens,
      ms,
      tokensPerSecond: (batch.tokens * 1000) / ms,
      lr: optimizer.lr,
    };
    curve.push(record);
    onProgress?.({ kind: 'step', record });
    if (config.evalEvery > 0 && step % config.evalEvery === 0 && step !== config.steps) await runEval(step);
  }
  if (config.steps > 0) await runEval(config.steps);
  return {
    backend: config.backend,
    model: modelConfig,
    parameters: model.parameterCount,
    unigramLoss: corpus.unigramLoss,
    curve,
    validation,
    seconds: (performance.now() - started) / 1000,
  };
}
