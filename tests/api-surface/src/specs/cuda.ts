import * as cuda from '@fa/cuda';
import type { Spec } from '../sweep.js';

/** Options that pass the checks; where no GPU is, creation still rejects, with E_BACKEND_UNAVAILABLE. */
const options = () => [{ deviceIndex: 0, env: {} }];
const ENV = { 'options.env': 'an environment such as process.env, where any key is legitimate' };

// `@fa/cuda` exports what users call. The loader, packProblem and the work-list builders are internal (not
// exported): the backend hands them problems that resolveAttnProblem made, and their own tests cover them.
export const cudaSpecs: Record<string, Spec> = {
  cudaAvailability: {
    kind: 'checked',
    call: cuda.cudaAvailability,
    args: options,
    names: ['options'],
    valid: { 0: [undefined, {}] },
    notOptions: ENV,
  },
  registerCudaBackend: {
    kind: 'checked',
    call: cuda.registerCudaBackend,
    args: options,
    names: ['options'],
    valid: { 0: [undefined, {}] },
    notOptions: ENV,
  },
  // Creating needs the built addon and a GPU: the sweep checks that wrong options are named before either is
  // looked for, which is all a machine without them can show.
  createCudaBackend: {
    kind: 'exempt',
    reason: 'needs a GPU to succeed with valid options; its option checks are the ones cudaAvailability runs',
  },
};
