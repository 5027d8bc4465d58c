export { type CpuBackend, type CpuBackendOptions, type CpuBackendStats, createCpuBackend } from './backend.js';
export { attnBackwardSync, attnForwardSync } from './sync.js';
