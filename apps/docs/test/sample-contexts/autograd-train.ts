// docs/autograd.md, "A training step": the model, batches and schedule of apps/train-demo.
import { AdamW, clipGradNorm, crossEntropy, noGrad, type Variable } from '@fa/autograd';

export { AdamW, clipGradNorm, crossEntropy, noGrad };

interface Batch {
  readonly tokens: number;
  readonly cuSeqlens: Int32Array;
  readonly targets: Int32Array;
}
export declare const matrices: Variable[];
export declare const gainsAndEmbeddings: Variable[];
export declare const steps: number;
export declare function schedule(step: number): number;
export declare function model(batch: Batch): Promise<Variable>;
export declare const batch: Batch;
export declare const heldOut: Batch;
