import {
  type AttentionBackend,
  type AttnProblem,
  type BackendCapabilities,
  bytesPerElement,
  type DType,
  type HostTensor,
  type InterleavePart,
  MAX_HEAD_DIM,
  numel,
} from '@fa/core';
import { TENSOR_USAGE } from './gpu/buffers.js';
import { HandleOwners } from './gpu/handles.js';
import { DeviceLifecycle } from './gpu/lifecycle.js';
import type { DeviceState, WebGpuFeatures } from './gpu/state.js';
import { checkWebGpuOptions, type WebGpuBackendOptions } from './options.js';
import type { TilingLimits } from './plan/config.js';
import { runBackward } from './run/backward.js';
import type { GpuContext } from './run/context.js';
import { runForward } from './run/forward.js';
import { checkInterleaveArguments, runInterleave } from './run/interleave.js';

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
  /**
   * The contract's `interleave`, on the device: one kernel writes the new buffer from views of the parts' buffers
   * (the façade's packed gradients and the padded lse's axis swap), so no data is downloaded or uploaded.
   */
  interleave(
    parts: readonly InterleavePart<GPUBuffer>[],
    rows: number,
    rowElements: number,
    dtype: DType,
  ): Promise<GPUBuffer>;
  stats(): WebGpuBackendStats;
  /** @internal Profiling hook for the benchmark: timestamp writes for each compute pass, when supported. */
  setTimestampWrites(hook: GpuContext['timestampWrites'] | undefined): void;
  /** Destroys every buffer and, when the backend created it, the device; a later call starts a new device. */
  destroy(): void;
}

const CAPABILITIES: BackendCapabilities = {
  dtypes: ['f32', 'f16', 'bf16'],
  maxHeadDim: MAX_HEAD_DIM,
  backward: true,
  dropout: true,
  deterministic: true,
  // The kernels read q, k and v through problem.layouts (kernels/common.ts q_row/k_row/v_row): the parts of a
  // packed qkv or kv arrive as views of the caller's buffer, with no copy.
  stridedInputs: true,
};

/**
 * Creates the WebGPU backend: FlashAttention-2 forward and backward kernels in WGSL for packed variable-length
 * batches. Uses `options.device` when given, else a device from `options.adapter`, `options.gpu`,
 * `navigator.gpu`, or in Node the `webgpu` package (imported only then).
 */
export async function createWebGpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  checkWebGpuOptions(options);
  let timestampHook: GpuContext['timestampWrites'] | undefined;
  const devices = await DeviceLifecycle.start(options, (label) => timestampHook?.(label));
  return new WebGpuBackendImpl(devices, (hook) => {
    timestampHook = hook;
  });
}

function discardOutputs(s: DeviceState, result: Record<string, GPUBuffer>): void {
  for (const buffer of Object.values(result)) s.buffers.destroy(buffer);
}

/**
 * The backend's calls. The device and its replacement after a loss are `DeviceLifecycle`'s, which handle
 * belongs to which device is `HandleOwners`', and the kernels' dispatches are `run/forward` and `run/backward`.
 */
class WebGpuBackendImpl implements WebGpuBackend {
  readonly name = 'webgpu';
  readonly capabilities = CAPABILITIES;
  readonly #devices: DeviceLifecycle;
  readonly #handles = new HandleOwners();
  readonly #setTimestampHook: (hook: GpuContext['timestampWrites'] | undefined) => void;

  constructor(devices: DeviceLifecycle, setTimestampHook: (hook: GpuContext['timestampWrites'] | undefined) => void) {
    this.#devices = devices;
    this.#setTimestampHook = setTimestampHook;
  }

  get device(): GPUDevice {
    return this.#devices.state.device;
  }

  get adapterInfo(): string {
    return this.#devices.state.adapterInfo;
  }

  get features(): WebGpuFeatures {
    return this.#devices.state.features;
  }

  get tiling(): TilingLimits {
    return this.#devices.state.ctx.tiling;
  }

  stats(): WebGpuBackendStats {
    const { buffers, pipelines } = this.#devices.state;
    return {
      liveBuffers: buffers.liveCount,
      liveBytes: buffers.liveBytes,
      pipelinesCompiled: pipelines.compiled,
      devices: this.#devices.devices,
    };
  }

  setTimestampWrites(hook: GpuContext['timestampWrites'] | undefined): void {
    this.#setTimestampHook(hook);
  }

  async upload(tensor: HostTensor): Promise<GPUBuffer> {
    const s = await this.#devices.current();
    s.buffers.checkBindable(tensor.data.byteLength, 'tensor');
    return this.#handles.track(s, s.buffers.createWithData(tensor.data, TENSOR_USAGE, 'fa-tensor'));
  }

  download(handle: GPUBuffer, shape: readonly number[], dtype: DType): Promise<HostTensor> {
    return this.#devices.run('tensor', async (s) => {
      const buffer = this.#handles.bufferOf(s, handle, 'tensor');
      const count = numel(shape);
      const bytes = await s.buffers.read(buffer, count * bytesPerElement(dtype));
      const data =
        dtype === 'f32' ? new Float32Array(bytes) : dtype === 'i32' ? new Int32Array(bytes) : new Uint16Array(bytes);
      return { data, shape: [...shape], dtype } as HostTensor;
    });
  }

  dispose(handle: GPUBuffer): void {
    this.#handles.dispose(handle);
  }

  forward(q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, problem: AttnProblem): Promise<{ out: GPUBuffer; lse: GPUBuffer }> {
    const handles = this.#handles;
    return this.#devices.run(
      'q',
      async (s) => {
        const result = await runForward(
          s.ctx,
          handles.bufferOf(s, q, 'q'),
          handles.bufferOf(s, k, 'k'),
          handles.bufferOf(s, v, 'v'),
          problem,
        );
        return { out: handles.track(s, result.out), lse: handles.track(s, result.lse) };
      },
      discardOutputs,
    );
  }

  backward(
    dout: GPUBuffer,
    q: GPUBuffer,
    k: GPUBuffer,
    v: GPUBuffer,
    out: GPUBuffer,
    lse: GPUBuffer,
    problem: AttnProblem,
  ): Promise<{ dq: GPUBuffer; dk: GPUBuffer; dv: GPUBuffer }> {
    const handles = this.#handles;
    return this.#devices.run(
      'dout',
      async (s) => {
        const result = await runBackward(
          s.ctx,
          {
            dout: handles.bufferOf(s, dout, 'dout'),
            q: handles.bufferOf(s, q, 'q'),
            k: handles.bufferOf(s, k, 'k'),
            v: handles.bufferOf(s, v, 'v'),
            out: handles.bufferOf(s, out, 'out'),
            lse: handles.bufferOf(s, lse, 'lse'),
          },
          problem,
        );
        return { dq: handles.track(s, result.dq), dk: handles.track(s, result.dk), dv: handles.track(s, result.dv) };
      },
      discardOutputs,
    );
  }

  /**
   * Stacks rows of `parts` into a new buffer on the device (`run/interleave.ts`): the façade's dqkv and dkv, and the
   * padded lse's swap between `(nheads, batch·seqlen)` and `(batch, nheads, seqlen)`, with no transfer.
   */
  interleave(
    parts: readonly InterleavePart<GPUBuffer>[],
    rows: number,
    rowElements: number,
    dtype: DType,
  ): Promise<GPUBuffer> {
    const handles = this.#handles;
    return this.#devices.run(
      'parts',
      async (s) => {
        checkInterleaveArguments(parts, rows, rowElements, dtype);
        const sources = parts.map(({ handle, offset }, p) => ({
          buffer: handles.bufferOf(s, handle, `parts[${p}]`),
          offset,
        }));
        return handles.track(s, await runInterleave(s.ctx, sources, rows, rowElements, dtype));
      },
      (s, out) => s.buffers.destroy(out),
    );
  }

  destroy(): void {
    this.#devices.destroy();
  }
}
