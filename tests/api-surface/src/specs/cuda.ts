import { resolveAttnProblem } from '@fa/core';
import * as cuda from '@fa/cuda';
import type { Spec } from '../sweep.js';
import { attnInputs } from './fixtures.js';

const problem = () => {
  const { q, k, v, options } = attnInputs();
  return resolveAttnProblem(q, k, v, options);
};
/** Options that pass the checks; where no GPU is, creation still rejects, with E_BACKEND_UNAVAILABLE. */
const options = () => [{ deviceIndex: 0, env: {} }];
const ENV = { 'options.env': 'an environment such as process.env, where any key is legitimate' };
const PROBLEM = { problem: 'an AttnProblem that resolveAttnProblem made, not options' };

const workList = (call: (problem: never, extent: never) => unknown, extent: string): Spec => ({
  kind: 'checked',
  call,
  args: () => [problem(), 64],
  names: ['problem', extent],
  notOptions: PROBLEM,
});

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
  // Creating and loading need the built addon and a GPU: the sweep checks that wrong options are named before
  // either is looked for, which is all a machine without them can show.
  createCudaBackend: {
    kind: 'exempt',
    reason: 'needs a GPU to succeed with valid options; its option checks are the ones cudaAvailability runs',
  },
  loadAddon: { kind: 'exempt', reason: 'needs the built addon to succeed; same option checks as cudaAvailability' },
  packProblem: {
    kind: 'checked',
    call: cuda.packProblem,
    args: () => [problem(), 0, new Int32Array(4)],
    names: ['problem', 'device', 'tiles'],
    notOptions: PROBLEM,
  },
  queryWorkList: workList(cuda.queryWorkList, 'rows'),
  keyWorkList: workList(cuda.keyWorkList, 'keys'),
  visibleRowSpan: {
    kind: 'total',
    call: cuda.visibleRowSpan,
    samples: [
      [Number.NaN, 4, 3, 5, -1, -1],
      [0, Number.POSITIVE_INFINITY, 3, 5, 2, 0],
      [0, 4, 2 ** 40, 5, -1, 0],
    ],
    returns: (r) => typeof r === 'object' && r !== null,
  },
};
