export { type CpuBackend, type CpuBackendOptions, createCpuBackend } from './backend.js';
