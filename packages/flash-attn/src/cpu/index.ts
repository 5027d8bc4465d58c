export {
  type CpuBackend,
  type CpuBackendOptions,
  type CpuBackendStats,
  type CpuFeatures,
  createCpuBackend,
} from './backend.js';
export { attnBackwardSync, attnForwardSync } from './sync.js';
