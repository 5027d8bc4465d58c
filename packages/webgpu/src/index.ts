export {
  createWebGpuBackend,
  type WebGpuBackend,
  type WebGpuBackendStats,
} from './backend.js';
export type { DeviceSource } from './gpu/device.js';
export type { WebGpuFeatures } from './gpu/state.js';
export type { WebGpuBackendOptions } from './options.js';
export { BASELINE_LIMITS, TILE_SHAPES, type TileShape, type TilingLimits } from './plan/config.js';
export { registerWebGpuBackend } from './register.js';
