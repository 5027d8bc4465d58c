// packages/autograd/README.md, "gradcheck": q, k, v and options as in the tests.
import { type AttentionOptions, attention, gradcheck, type Variable } from '@fa/autograd';

export { attention, gradcheck };
export declare const q: Variable;
export declare const k: Variable;
export declare const v: Variable;
export declare const options: AttentionOptions;
