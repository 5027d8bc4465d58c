import {
  add,
  attention,
  crossEntropy,
  embedding,
  linear,
  mul,
  parameter,
  Rng,
  reshape,
  rmsNorm,
  rotary,
  silu,
  type Variable,
} from '@fa/autograd';
import type { Batch } from './corpus.js';

export interface ModelConfig {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly layers: number;
  readonly heads: number;
  /** Key/value heads (grouped-query attention when fewer than `heads`). */
  readonly kvHeads: number;
  /** Hidden width of the SwiGLU MLP. */
  readonly mlpHidden: number;
  readonly ropeBase: number;
  /** Attention dropout; its Philox seed is derived from the model seed, the step and the layer. */
  readonly attentionDropout: number;
  /** Seeds the initialisation. */
  readonly seed: number;
}

export const DEFAULT_MODEL: Omit<ModelConfig, 'vocabSize' | 'seed'> = {
  dModel: 64,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  mlpHidden: 128,
  ropeBase: 10000,
  attentionDropout: 0,
};

interface Block {
  readonly attnNorm: Variable;
  readonly wq: Variable;
  readonly wk: Variable;
  readonly wv: Variable;
  readonly wo: Variable;
  readonly mlpNorm: Variable;
  readonly wGate: Variable;
  readonly wUp: Variable;
  readonly wDown: Variable;
}

/**
 * A tiny causal transformer language model over bytes: token embedding, pre-norm blocks of RMSNorm → attention
 * (rotary on q and k, positions restarting per document) → residual, RMSNorm → SwiGLU MLP → residual, then a
 * final RMSNorm and an output projection. Attention runs on `backend` through `@fa/autograd`'s attention op;
 * everything else runs on the host.
 */
export class TinyLM {
  readonly config: ModelConfig;
  readonly embed: Variable;
  readonly blocks: readonly Block[];
  readonly finalNorm: Variable;
  readonly head: Variable;

  constructor(config: ModelConfig) {
    const { vocabSize, dModel: d, heads, kvHeads, mlpHidden, layers } = config;
    if (d % heads !== 0 || heads % kvHeads !== 0) {
      throw new Error(`d_model (${d}) must divide into heads (${heads}), and heads into kv heads (${kvHeads})`);
    }
    this.config = config;
    const rng = new Rng(config.seed);
    const headDim = d / heads;
    // GPT-2 style: N(0, 0.02²), with the projections into the residual stream scaled by 1/√(2 · layers).
    const normal = (rows: number, cols: number, name: string, std = 0.02) =>
      parameter(rng.normalArray(rows * cols, std), [rows, cols], name);
    const ones = (n: number, name: string) => parameter(new Float32Array(n).fill(1), [n], name);
    const residualStd = 0.02 / Math.sqrt(2 * layers);
    this.embed = normal(vocabSize, d, 'embed');
    this.blocks = Array.from({ length: layers }, (_, l) => ({
      attnNorm: ones(d, `blocks.${l}.attnNorm`),
      wq: normal(d, heads * headDim, `blocks.${l}.wq`),
      wk: normal(d, kvHeads * headDim, `blocks.${l}.wk`),
      wv: normal(d, kvHeads * headDim, `blocks.${l}.wv`),
      wo: normal(heads * headDim, d, `blocks.${l}.wo`, residualStd),
      mlpNorm: ones(d, `blocks.${l}.mlpNorm`),
      wGate: normal(d, mlpHidden, `blocks.${l}.wGate`),
      wUp: normal(d, mlpHidden, `blocks.${l}.wUp`),
      wDown: normal(mlpHidden, d, `blocks.${l}.wDown`, residualStd),
    }));
    this.finalNorm = ones(d, 'finalNorm');
    this.head = normal(d, vocabSize, 'head');
  }

  parameters(): Variable[] {
    return [this.embed, ...this.blocks.flatMap((b) => Object.values(b) as Variable[]), this.finalNorm, this.head];
  }

  /** Matrices get weight decay; gains and embeddings do not (the usual GPT recipe). */
  parameterGroups(): { decayed: Variable[]; other: Variable[] } {
    const decayed = this.parameters().filter((p) => p.shape.length === 2 && p !== this.embed);
    return { decayed, other: this.parameters().filter((p) => !decayed.includes(p)) };
  }

  get parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /**
   * Mean next-byte cross-entropy (nats) over a packed batch. Pass the training `step` to train: attention dropout
   * is on, with masks that differ from step to step. Without it (evaluation) there is no dropout.
   */
  async loss(batch: Batch, backend: string, step?: number): Promise<Variable> {
    const { dModel: d, heads, kvHeads, ropeBase, attentionDropout } = this.config;
    const tokens = batch.tokens;
    const headDim = d / heads;
    const attnOptions = {
      cuSeqlensQ: batch.cuSeqlens,
      cuSeqlensK: batch.cuSeqlens,
      maxSeqlenQ: batch.maxSeqlen,
      maxSeqlenK: batch.maxSeqlen,
      causal: true,
      backend,
    };
    let x = embedding(this.embed, batch.inputs);
    for (const [l, b] of this.blocks.entries()) {
      const h = rmsNorm(x, b.attnNorm);
      const q = rotary(reshape(linear(h, b.wq), [tokens, heads, headDim]), batch.positions, { base: ropeBase });
      const k = rotary(reshape(linear(h, b.wk), [tokens, kvHeads, headDim]), batch.positions, { base: ropeBase });
      const v = reshape(linear(h, b.wv), [tokens, kvHeads, headDim]);
      const dropout =
        attentionDropout > 0 && step !== undefined
          ? { dropoutP: attentionDropout, seed: ((this.config.seed * 1_000_003 + step) * 64 + l) % 2 ** 53 }
          : {};
      const a = await attention(q, k, v, { ...attnOptions, ...dropout });
      x = add(x, linear(reshape(a, [tokens, d]), b.wo));
      const m = rmsNorm(x, b.mlpNorm);
      x = add(x, linear(mul(silu(linear(m, b.wGate)), linear(m, b.wUp)), b.wDown));
    }
    const logits = linear(rmsNorm(x, this.finalNorm), this.head);
    return crossEntropy(logits, batch.targets);
  }
}
