// Types of scripts/workloads.mjs (the benchmark workloads shared by the CUDA, WebGPU and PyTorch benchmarks).

export type Layout = 'uniform' | 'skewed' | 'fixed';
export declare const GENERATOR_VERSION: number;
export declare const LAYOUTS: readonly Layout[];

export interface SampleRow {
  /** sequence */
  readonly b: number;
  /** query head */
  readonly h: number;
  /** row inside the sequence */
  readonly i: number;
}

export interface Workload {
  readonly layout: Layout;
  readonly tokens: number;
  readonly sequences: number;
  readonly maxLength: number;
  /** Σ L², the visible (query, key) pairs of the non-causal problem. */
  readonly sumSquares: number;
  /** FNV-1a of the lengths: equal digests mean equal cu_seqlens. */
  readonly digest: string;
  readonly lengths: number[];
  readonly cuSeqlens: Int32Array;
  readonly heads: number;
  readonly sampleRows: SampleRow[];
}

export declare function mulberry32(seed: number): () => number;
export declare function layoutLengths(layout: Layout, options?: { tokens?: number; seqlen?: number }): number[];
export declare function cuSeqlensOf(lengths: readonly number[]): Int32Array;
export declare function lengthsDigest(lengths: readonly number[]): string;
export declare function sampleRows(
  lengths: readonly number[],
  heads: number,
  count?: number,
  seed?: number,
): SampleRow[];
export declare function workload(
  layout: Layout,
  options?: { tokens?: number; seqlen?: number; heads?: number; sampleCount?: number },
): Workload;
export declare function forwardFlops(sumSquares: number, heads: number, headDim: number, causal: boolean): number;
export declare const BACKWARD_FLOP_FACTOR: number;
export declare const FORWARD_BACKWARD_FLOP_FACTOR: number;
export declare function normals(n: number, seed: number): Float32Array;
export declare function median(values: readonly number[]): number;
export declare function workloadsDocument(options?: {
  tokens?: number;
  seqlen?: number;
  heads?: number;
  layouts?: Layout[];
  sampleCount?: number;
}): {
  generator: string;
  version: number;
  tokens: number;
  heads: number;
  workloads: (Omit<Workload, 'cuSeqlens'> & { cuSeqlens: number[] })[];
};
