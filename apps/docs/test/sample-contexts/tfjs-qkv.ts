// packages/autograd/README.md, "TensorFlow.js": the tensors q, k, v and the options.
import type { TfAttentionOptions } from '@fa/autograd/tfjs';
import type { Tensor3D } from '@tensorflow/tfjs-core';

export declare const q: Tensor3D;
export declare const k: Tensor3D;
export declare const v: Tensor3D;
export declare const cuSeqlensQ: Int32Array;
export declare const cuSeqlensK: Int32Array;
export declare const options: TfAttentionOptions;
