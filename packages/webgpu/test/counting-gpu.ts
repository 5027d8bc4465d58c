/**
 * Dawn for tests, watched from outside the backend: every buffer any of its devices creates or destroys is
 * counted here, so that the backend's own `stats()` can be checked against an independent census, and errors
 * can be injected into the error scopes a call pops (as a real out-of-memory or validation error would arrive).
 */

export interface BufferCensus {
  created: number;
  destroyed: number;
  /** Buffers created and not yet destroyed, on every device this GPU made (a lost device's included). */
  live: number;
  liveBytes: number;
}

export interface CountingGpu {
  readonly gpu: GPU;
  readonly census: BufferCensus;
  /** Makes the next `count` pops of an error scope with this filter report an error the device never raised. */
  injectError(filter: 'out-of-memory' | 'validation', count?: number): void;
}

/** Dawn's instance must outlive every device made from it, or the process aborts: one per test process. */
let dawn: GPU | undefined;

async function dawnGpu(): Promise<GPU> {
  if (dawn) return dawn;
  const { create, globals } = (await import('webgpu')) as unknown as {
    create: (flags: string[]) => GPU;
    globals: object;
  };
  for (const [name, value] of Object.entries(globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  // The flag the backend sets for itself (see gpu/device.ts): workgroup zero-fill is pure cost on SwiftShader.
  dawn = create(['enable-dawn-features=disable_workgroup_init']);
  return dawn;
}

function injectedError(filter: 'out-of-memory' | 'validation'): GPUError {
  const message = `injected ${filter} error`;
  const Class = (globalThis as Record<string, unknown>)[
    filter === 'out-of-memory' ? 'GPUOutOfMemoryError' : 'GPUValidationError'
  ] as (new (message: string) => GPUError) | undefined;
  return Class ? new Class(message) : ({ message } as GPUError);
}

export async function countingGpu(): Promise<CountingGpu> {
  const real = await dawnGpu();
  const census: BufferCensus = { created: 0, destroyed: 0, live: 0, liveBytes: 0 };
  const pending: Record<'out-of-memory' | 'validation', number> = { 'out-of-memory': 0, validation: 0 };

  function watch(device: GPUDevice): GPUDevice {
    const createBuffer = device.createBuffer.bind(device);
    device.createBuffer = (descriptor: GPUBufferDescriptor) => {
      const buffer = createBuffer(descriptor);
      census.created++;
      census.live++;
      census.liveBytes += buffer.size;
      const destroy = buffer.destroy.bind(buffer);
      let destroyed = false;
      buffer.destroy = () => {
        if (!destroyed) {
          destroyed = true;
          census.destroyed++;
          census.live--;
          census.liveBytes -= buffer.size;
        }
        destroy();
      };
      return buffer;
    };
    // Error scopes are a stack; mirror it to know which filter each pop belongs to.
    const filters: GPUErrorFilter[] = [];
    const push = device.pushErrorScope.bind(device);
    const pop = device.popErrorScope.bind(device);
    device.pushErrorScope = (filter: GPUErrorFilter) => {
      filters.push(filter);
      push(filter);
    };
    device.popErrorScope = async () => {
      const filter = filters.pop();
      const error = await pop();
      if (error || (filter !== 'out-of-memory' && filter !== 'validation') || pending[filter] === 0) return error;
      pending[filter]--;
      return injectedError(filter);
    };
    return device;
  }

  const gpu = {
    async requestAdapter(options?: GPURequestAdapterOptions) {
      const adapter = await real.requestAdapter(options);
      if (!adapter) return adapter;
      const requestDevice = adapter.requestDevice.bind(adapter);
      adapter.requestDevice = async (descriptor?: GPUDeviceDescriptor) => watch(await requestDevice(descriptor));
      return adapter;
    },
    getPreferredCanvasFormat: () => real.getPreferredCanvasFormat(),
    wgslLanguageFeatures: real.wgslLanguageFeatures,
  } as GPU;

  return {
    gpu,
    census,
    injectError(filter, count = 1) {
      pending[filter] += count;
    },
  };
}
