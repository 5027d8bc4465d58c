import {
  type AttentionBackend,
  type AttnProblem,
  type BackendCapabilities,
  bytesPerElement,
  type DType,
  FaError,
  type HostTensor,
  isFaError,
  numel,
} from '@fa/core';
import { BufferTracker, TENSOR_USAGE } from './gpu/buffers.js';
import { acquireDevice, type DeviceSource } from './gpu/device.js';
import { PipelineCache } from './gpu/pipelines.js';
import { subgroupReduceWidth } from './gpu/subgroups.js';
import { checkWebGpuOptions } from './options.js';
import type { TilingLimits } from './plan/config.js';
import { runBackward } from './run/backward.js';
import type { GpuContext } from './run/context.js';
import { runForward } from './run/forward.js';

export interface WebGpuBackendOptions extends DeviceSource {
  /**
   * Caps on the limits the tiling may use, below the device's own: e.g. `{ workgroupStorageBytes: 16384 }` runs
   * the tiles every WebGPU device supports. Mostly for tests and tuning.
   */
  readonly tilingLimits?: Partial<Omit<TilingLimits, 'subgroupWidth'>>;
  /**
   * Check every call for WebGPU validation and out-of-memory errors and throw them (default true). Costs one
   * round trip to the device's error queue per call.
   */
  readonly checkErrors?: boolean;
  /**
   * Use subgroup operations where the device offers them and they pass the layout check of gpu/subgroups.ts
   * (default true). `false` keeps every reduction in workgroup memory; the results are the same bits either way.
   */
  readonly subgroups?: boolean;
}

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

export interface WebGpuBackendStats {
  /**
   * Buffers alive on the current device: tensors not yet disposed plus temporaries of calls in flight
   * (uniforms, tile lists, scratch, download staging). Every buffer the backend creates is counted here until it
   * is destroyed; after a device loss, the lost device's buffers count as destroyed.
   */
  readonly liveBuffers: number;
  /** Bytes of those buffers. */
  readonly liveBytes: number;
  /** Pipelines compiled on the current device (cache misses). */
  readonly pipelinesCompiled: number;
  /** Devices created so far; grows by one each time a lost device is replaced. */
  readonly devices: number;
}

/** The `webgpu` backend. Handles are GPUBuffers: f32 data, or packed pairs of 16-bit values for f16/bf16. */
export interface WebGpuBackend extends AttentionBackend<GPUBuffer> {
  /** The device in use (a new one after a device loss). */
  readonly device: GPUDevice;
  readonly adapterInfo: string;
  readonly features: WebGpuFeatures;
  /** The limits the tiling uses on this device. */
  readonly tiling: TilingLimits;
  stats(): WebGpuBackendStats;
  /** @internal Profiling hook for the benchmark: timestamp writes for each compute pass, when supported. */
  setTimestampWrites(hook: GpuContext['timestampWrites'] | undefined): void;
  /** Destroys every buffer and, when the backend created it, the device; a later call starts a new device. */
  destroy(): void;
}

const CAPABILITIES: BackendCapabilities = {
  dtypes: ['f32', 'f16', 'bf16'],
  maxHeadDim: 256,
  backward: true,
  dropout: true,
  deterministic: true,
};

/** One device and everything made on it. Replaced as a whole when the device is lost. */
interface DeviceState {
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

function deviceLostError(argument: string, info: GPUDeviceLostInfo | null, detail: string, cause?: unknown): FaError {
  const reason = info ? `${info.reason}${info.message ? `: ${info.message}` : ''}` : 'unknown reason';
  return new FaError('E_DEVICE_LOST', `The WebGPU device was lost (${reason}); ${detail}`, {
    argument,
    cause,
  });
}

function tilingOf(device: GPUDevice, caps: Partial<TilingLimits> | undefined, subgroupWidth: number): TilingLimits {
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

/**
 * Creates the WebGPU backend: FlashAttention-2 forward and backward kernels in WGSL for packed variable-length
 * batches. Uses `options.device` when given, else a device from `options.adapter`, `options.gpu`,
 * `navigator.gpu`, or in Node the `webgpu` package (imported only then).
 */
export async function createWebGpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  checkWebGpuOptions(options);
  const checkErrors = options.checkErrors ?? true;
  let devices = 0;
  let timestampHook: GpuContext['timestampWrites'] | undefined;
  // Which device each handle was made on, so a handle from a lost device is recognised as such.
  const owners = new WeakMap<GPUBuffer, DeviceState>();

  async function open(previous?: GPUDevice): Promise<DeviceState> {
    const { device, adapterInfo } = await acquireDevice(options, previous);
    const owned = device !== options.device;
    devices++;
    const buffers = new BufferTracker(device, device.limits.maxStorageBufferBindingSize);
    const pipelines = new PipelineCache(device);
    const subgroupWidth = options.subgroups === false ? 0 : await subgroupReduceWidth(device);
    const ctx: GpuContext = {
      device,
      buffers,
      pipelines,
      tiling: tilingOf(device, options.tilingLimits, subgroupWidth),
      maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      timestampWrites: (label) => timestampHook?.(label),
      checkErrors,
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

  let state = await open();
  let reopening: Promise<DeviceState> | undefined;

  /** The live device state, replacing a lost device first. */
  async function current(): Promise<DeviceState> {
    if (!state.lost) return state;
    reopening ??= open(state.device).finally(() => {
      reopening = undefined;
    });
    state = await reopening;
    return state;
  }

  function bufferOf(s: DeviceState, handle: GPUBuffer, argument: string): GPUBuffer {
    if (s.buffers.owns(handle)) return handle;
    const owner = owners.get(handle);
    // The device's loss clears its buffers, so a handle of a lost device is missing even from its own tracker.
    if (owner && (owner !== s || s.lost)) {
      throw deviceLostError(argument, owner.lost, `\`${argument}\` was on that device; upload it again.`);
    }
    if (owner === s) {
      throw new FaError('E_DISPOSED', `Expected a live buffer for \`${argument}\`, received one that was disposed.`, {
        argument,
        expected: 'a live buffer',
        received: 'a disposed buffer',
      });
    }
    throw new FaError(
      'E_BACKEND_MISMATCH',
      `Expected \`${argument}\` to be a live buffer of this WebGPU backend, received one it does not own.`,
      { argument },
    );
  }

  /**
   * Runs `work` on the live device, turning failures caused by a device loss into `E_DEVICE_LOST`. Outputs of a
   * call that completed on a device lost meanwhile go to `discard`: the caller never sees them.
   */
  async function run<T>(
    argument: string,
    work: (s: DeviceState) => Promise<T>,
    discard: (s: DeviceState, result: T) => void = () => {},
  ): Promise<T> {
    const s = await current();
    let result: T;
    try {
      result = await work(s);
    } catch (error) {
      if (isFaError(error) && error.code !== 'E_LIMIT') throw error;
      // A loss is reported asynchronously; give its promise a turn before deciding what failed.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (s.lost) throw deviceLostError(argument, s.lost, 'the call did not complete; retry it.', error);
      throw error;
    }
    if (s.lost) {
      discard(s, result);
      throw deviceLostError(argument, s.lost, 'the call did not complete; retry it.');
    }
    return result;
  }

  function track<T extends GPUBuffer>(s: DeviceState, buffer: T): T {
    owners.set(buffer, s);
    return buffer;
  }

  function discardGrads(s: DeviceState, result: { dq: GPUBuffer; dk: GPUBuffer; dv: GPUBuffer }): void {
    for (const buffer of [result.dq, result.dk, result.dv]) s.buffers.destroy(buffer);
  }

  const backend: WebGpuBackend = {
    name: 'webgpu',
    capabilities: CAPABILITIES,
    get device() {
      return state.device;
    },
    get adapterInfo() {
      return state.adapterInfo;
    },
    get features() {
      return state.features;
    },
    get tiling() {
      return state.ctx.tiling;
    },
    stats: () => ({
      liveBuffers: state.buffers.liveCount,
      liveBytes: state.buffers.liveBytes,
      pipelinesCompiled: state.pipelines.compiled,
      devices,
    }),
    setTimestampWrites(hook) {
      timestampHook = hook;
    },

    async upload(tensor: HostTensor) {
      const s = await current();
      s.buffers.checkBindable(tensor.data.byteLength, 'tensor');
      return track(s, s.buffers.createWithData(tensor.data, TENSOR_USAGE, 'fa-tensor'));
    },

    async download(handle, shape, dtype: DType) {
      return run('tensor', async (s) => {
        const buffer = bufferOf(s, handle, 'tensor');
        const count = numel(shape);
        const bytes = await s.buffers.read(buffer, count * bytesPerElement(dtype));
        const data =
          dtype === 'f32' ? new Float32Array(bytes) : dtype === 'i32' ? new Int32Array(bytes) : new Uint16Array(bytes);
        return { data, shape: [...shape], dtype } as HostTensor;
      });
    },

    dispose(handle) {
      const owner = owners.get(handle);
      if (owner) owner.buffers.destroy(handle);
      else handle.destroy();
    },

    forward(q, k, v, problem: AttnProblem) {
      return run(
        'q',
        async (s) => {
          const result = await runForward(
            s.ctx,
            bufferOf(s, q, 'q'),
            bufferOf(s, k, 'k'),
            bufferOf(s, v, 'v'),
            problem,
          );
          return { out: track(s, result.out), lse: track(s, result.lse) };
        },
        (s, result) => {
          for (const buffer of [result.out, result.lse]) s.buffers.destroy(buffer);
        },
      );
    },

    backward(dout, q, k, v, out, lse, problem: AttnProblem) {
      return run(
        'dout',
        async (s) => {
          const result = await runBackward(
            s.ctx,
            {
              dout: bufferOf(s, dout, 'dout'),
              q: bufferOf(s, q, 'q'),
              k: bufferOf(s, k, 'k'),
              v: bufferOf(s, v, 'v'),
              out: bufferOf(s, out, 'out'),
              lse: bufferOf(s, lse, 'lse'),
            },
            problem,
          );
          return { dq: track(s, result.dq), dk: track(s, result.dk), dv: track(s, result.dv) };
        },
        discardGrads,
      );
    },

    destroy() {
      // Every buffer goes; the device too when this backend created it (a caller's device stays the caller's).
      // Marked lost at once (the device's own loss promise settles later), so the next call starts a new device.
      const s = state;
      s.lost ??= { reason: 'destroyed', message: 'the backend was destroyed' } as GPUDeviceLostInfo;
      s.buffers.destroyAll();
      if (s.owned) s.device.destroy();
    },
  };
  return backend;
}
