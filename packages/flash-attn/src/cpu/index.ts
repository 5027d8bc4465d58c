export { type CpuBackend, type CpuBackendOptions, createCpuBackend } from './backend.js';
export { attnBackwardSync, attnForwardSync } from './sync.js';
