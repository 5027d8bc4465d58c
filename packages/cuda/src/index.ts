export type {
  AddonBackwardArgs,
  AddonForwardArgs,
  AddonProblemArgs,
  DeviceBuffer,
  DeviceProperties,
  FaCudaAddon,
  TileShape,
} from './addon.js';
export {
  type CudaAvailability,
  type CudaAvailabilityOptions,
  type CudaDeviceInfo,
  type CudaUnavailableReason,
  cudaAvailability,
  MIN_COMPUTE_CAPABILITY,
} from './availability.js';
export { type CudaBackend, type CudaBackendOptions, type CudaBackendStats, createCudaBackend } from './backend.js';
export { type LoadAttempt, type LoadedAddon, loadAddon } from './loader.js';
export type { LoaderOptions } from './options.js';
export { DTYPE_CODES, packProblem } from './params.js';
export { CUDA_PRIORITY, registerCudaBackend } from './register.js';
export { keyWorkList, queryWorkList, visibleRowSpan } from './tiles.js';
