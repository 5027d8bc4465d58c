import { FaError } from '@fa/core';
import type { WebGpuBackendOptions } from '../options.js';
import type { TilingLimits } from '../plan/config.js';
import type { GpuContext } from '../run/context.js';
import { BufferTracker } from './buffers.js';
import { acquireDevice } from './device.js';
import { PipelineCache } from './pipelines.js';
import { subgroupReduceWidth } from './subgroups.js';

export interface WebGpuFeatures {
  /** The device has the `subgroups` feature. */
  readonly subgroups: boolean;
  /**
   * Lanes the kernels' subgroup reductions rely on: the adapter's minimum subgroup size, or 0 when the kernels
   * reduce through workgroup memory instead (no `subgroups`, `options.subgroups: false`, no minimum size
   * reported, or a subgroup layout other than the linear one).
   */
  readonly subgroupWidth: number;
  readonly timestampQuery: boolean;
  readonly shaderF16: boolean;
}

/** One device and everything made on it. Replaced as a whole when the device is lost. */
export interface DeviceState {
  readonly device: GPUDevice;
  /** Whether the backend created the device (and so may destroy it). */
  readonly owned: boolean;
  readonly adapterInfo: string;
  readonly buffers: BufferTracker;
  readonly pipelines: PipelineCache;
  readonly ctx: GpuContext;
  readonly features: WebGpuFeatures;
  lost: GPUDeviceLostInfo | null;
}

export function deviceLostError(
  argument: string,
  info: GPUDeviceLostInfo | null,
  detail: string,
  cause?: unknown,
): FaError {
  const reason = info ? `${info.reason}${info.message ? `: ${info.message}` : ''}` : 'unknown reason';
  return new FaError('E_DEVICE_LOST', `The WebGPU device was lost (${reason}); ${detail}`, {
    argument,
    cause,
  });
}

/** The limits the tiling uses: the device's own, capped by `options.tilingLimits`. */
export function tilingOf(
  device: GPUDevice,
  caps: Partial<TilingLimits> | undefined,
  subgroupWidth: number,
): TilingLimits {
  return {
    subgroupWidth,
    workgroupStorageBytes: Math.min(
      device.limits.maxComputeWorkgroupStorageSize,
      caps?.workgroupStorageBytes ?? Number.POSITIVE_INFINITY,
    ),
    invocations: Math.min(
      device.limits.maxComputeInvocationsPerWorkgroup,
      device.limits.maxComputeWorkgroupSizeX,
      caps?.invocations ?? Number.POSITIVE_INFINITY,
    ),
    ...(caps?.minChunk === undefined ? {} : { minChunk: caps.minChunk }),
    ...(caps?.shapes === undefined ? {} : { shapes: caps.shapes }),
    ...(caps?.vec4 === undefined ? {} : { vec4: caps.vec4 }),
  };
}

/** What opening a device needs from the backend besides its options. */
export interface OpenHooks {
  /** `options.checkErrors ?? true`, read once when the backend was created. */
  readonly checkErrors: boolean;
  /** Called once the device exists, before its features are probed (the backend counts devices). */
  readonly acquired: () => void;
  /** The compute passes' timestamp writes, looked up per pass (the benchmark's profiling hook). */
  readonly timestampWrites: NonNullable<GpuContext['timestampWrites']>;
}

/**
 * Acquires a device (never `previous`, a lost one) and makes its buffer tracker, pipeline cache and kernel
 * context. The state marks itself lost when the device is, and then drops its buffers.
 */
export async function openDeviceState(
  options: WebGpuBackendOptions,
  hooks: OpenHooks,
  previous?: GPUDevice,
): Promise<DeviceState> {
  const { device, adapterInfo } = await acquireDevice(options, previous);
  const owned = device !== options.device;
  hooks.acquired();
  const buffers = new BufferTracker(device, device.limits.maxStorageBufferBindingSize);
  const pipelines = new PipelineCache(device);
  const subgroupWidth = options.subgroups === false ? 0 : await subgroupReduceWidth(device);
  const ctx: GpuContext = {
    device,
    buffers,
    pipelines,
    tiling: tilingOf(device, options.tilingLimits, subgroupWidth),
    maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    timestampWrites: hooks.timestampWrites,
    checkErrors: hooks.checkErrors,
  };
  const state: DeviceState = {
    device,
    owned,
    adapterInfo,
    buffers,
    pipelines,
    ctx,
    lost: null,
    features: {
      subgroups: device.features.has('subgroups'),
      subgroupWidth,
      timestampQuery: device.features.has('timestamp-query'),
      shaderF16: device.features.has('shader-f16'),
    },
  };
  void device.lost.then((info) => {
    state.lost ??= info;
    // A lost device has freed everything; dropping the buffers keeps the counts true and lets them be collected.
    buffers.destroyAll();
  });
  return state;
}
