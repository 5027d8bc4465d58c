// docs/autograd.md, "TensorFlow.js": the model's tensors and loss.
import type { Scalar, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';

export declare const x: Tensor2D;
export declare const wq: Tensor2D;
export declare const wk: Tensor2D;
export declare const wv: Tensor2D;
export declare const T: number;
export declare const heads: number;
export declare const kvHeads: number;
export declare const headDim: number;
export declare const cu: Int32Array;
export declare function loss(out: Tensor3D): Scalar;
