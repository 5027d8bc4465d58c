// What users call: registration, the backend, availability, and the types they meet. The addon's raw surface,
// the loader, packProblem and the work-list builders are internal: not exported, and their tests import the
// sources directly, so none of them is a public edge that must re-validate its arguments.
export type { DeviceBuffer, DeviceProperties } from './addon.js';
export {
  type CudaAvailability,
  type CudaAvailabilityOptions,
  type CudaDeviceInfo,
  type CudaUnavailableReason,
  cudaAvailability,
  MIN_COMPUTE_CAPABILITY,
} from './availability.js';
export { type CudaBackend, type CudaBackendOptions, type CudaBackendStats, createCudaBackend } from './backend.js';
export type { CudaBackwardKernel, CudaForwardKernel, CudaKernelOptions } from './kernels.js';
export type { LoadAttempt } from './loader.js';
export type { LoaderOptions } from './options.js';
export { CUDA_PRIORITY, registerCudaBackend } from './register.js';
