export { type ConformanceCase, fixedCases, randomCase } from './cases.js';
export { type Comparison, compareToReference, maxError, type Quantity } from './compare.js';
export { Random, freshSeed } from './random.js';
export { checkCase, type ConformanceOptions, describeConformance } from './suite.js';
export { createReferenceBackend } from './reference-backend.js';
