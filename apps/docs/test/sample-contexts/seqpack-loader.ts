// docs/autograd.md, "Pack documents": the data loader around the sample.
export declare const lengths: readonly number[];
export declare const tokens: readonly Int32Array[];
export declare function concat(parts: readonly Int32Array[]): Int32Array;
