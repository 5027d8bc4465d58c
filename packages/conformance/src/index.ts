export { type ExpectedRejection, type Outcome, outcomeOf, rejectionProblem } from './bad-input/outcome.js';
export { type BadInputOptions, describeBadInputs } from './bad-input/suite.js';
export { type Comparison, compareToReference, maxError, type Quantity } from './compare.js';
export {
  checkDeterminism,
  type DeterminismOptions,
  describeDeterminism,
  firstDifference,
  type ResultBits,
  resultBits,
} from './determinism.js';
export type { Facade, FacadeTensor, Target } from './facade.js';
export { createPerturbedBackend, type Perturbation } from './reference-backend.js';
export { describeStridedInputs } from './strided.js';
export { type ConformanceOptions, checkCase, describeConformance } from './suite.js';
