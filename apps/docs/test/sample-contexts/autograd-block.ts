// docs/autograd.md, "The model": what apps/train-demo declares around its block.
import type { Variable } from '@fa/autograd';

export type { Variable };
export type BlockParams = Record<
  'attnNorm' | 'wq' | 'wk' | 'wv' | 'wo' | 'mlpNorm' | 'wGate' | 'wUp' | 'wDown',
  Variable
>;
export interface Batch {
  readonly tokens: number;
  readonly positions: Int32Array;
  readonly cuSeqlens: Int32Array;
  readonly maxSeqlen: number;
}
export declare const heads: number;
export declare const kvHeads: number;
export declare const headDim: number;
export declare const backend: string;
