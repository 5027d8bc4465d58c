export {
  createWebGpuBackend,
  type WebGpuBackend,
  type WebGpuBackendOptions,
  type WebGpuBackendStats,
  type WebGpuFeatures,
} from './backend.js';
export type { DeviceSource } from './gpu/device.js';
export { BASELINE_LIMITS, TILE_SHAPES, type TileShape, type TilingLimits } from './plan/config.js';
export { registerWebGpuBackend } from './register.js';
