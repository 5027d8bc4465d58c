export { type AttnCase, type CaseSpec, fixedCases, fullCase, randomCase, smallCase } from './cases.js';
export { type AttnInputs, alibiSlopes, attnInputs, randomHostTensor } from './inputs.js';
export { freshSeed, Random, type RandomOptions } from './random.js';
export { type SampledRow, sampledReference } from './sampled-reference.js';
export {
  countingBackend,
  type FloatStorage,
  firstDifferentElement,
  gatherLayout,
  packedPartLayout,
  randomStorage,
  storageBits,
  type TransferCounts,
  unpackParts,
} from './views.js';
export {
  BACKWARD_FLOP_FACTOR,
  FORWARD_BACKWARD_FLOP_FACTOR,
  forwardFlops,
  GENERATOR,
  GENERATOR_VERSION,
  LAYOUTS,
  type Layout,
  layoutLengths,
  lengthsDigest,
  median,
  normals,
  type SampleRow,
  sampleRows,
  type Workload,
  type WorkloadsDocument,
  workload,
  workloadsDocument,
} from './workloads.js';
