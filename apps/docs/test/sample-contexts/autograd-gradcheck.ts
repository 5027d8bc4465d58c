// docs/autograd.md, "Check gradients": inside a vitest test, with k, v and the options as in the tests.
import { type AttentionOptions, attention, type Variable } from '@fa/autograd';
import { expect } from 'vitest';

export { attention, expect };
export declare const values: readonly number[];
export declare const k: Variable;
export declare const v: Variable;
export declare const options: AttentionOptions;
