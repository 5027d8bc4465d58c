import { type BindingSpec, layoutEntries } from '../wgsl/bindings.js';

export interface Kernel {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly bindings: readonly BindingSpec[];
}

export interface KernelSource {
  /** Everything that is compiled into the code; equal keys must mean equal code. */
  readonly key: string;
  readonly bindings: readonly BindingSpec[];
  /** Generates the WGSL; only called on a cache miss. */
  readonly code: () => string;
}

/**
 * Compiled pipelines by compile-time key. Keys hold only what changes code (kernel, dtype, tile shape, padded
 * head dims, score features); sizes, cu_seqlens and option values are uniforms and data, so a new batch never
 * compiles anything.
 */
export class PipelineCache {
  readonly #kernels = new Map<string, Promise<Kernel>>();
  #compiled = 0;

  constructor(readonly device: GPUDevice) {}

  /** Pipelines compiled so far (cache misses). */
  get compiled(): number {
    return this.#compiled;
  }

  get size(): number {
    return this.#kernels.size;
  }

  get(source: KernelSource): Promise<Kernel> {
    let kernel = this.#kernels.get(source.key);
    if (!kernel) {
      kernel = this.#compile(source);
      this.#kernels.set(source.key, kernel);
      // A failed compile is not cached, so that the error shows again rather than a stale rejection.
      kernel.catch(() => this.#kernels.delete(source.key));
    }
    return kernel;
  }

  async #compile(source: KernelSource): Promise<Kernel> {
    this.#compiled++;
    const { device } = this;
    const code = source.code();
    const module = device.createShaderModule({ label: source.key, code });
    const layout = device.createBindGroupLayout({ label: source.key, entries: layoutEntries(source.bindings) });
    try {
      const pipeline = await device.createComputePipelineAsync({
        label: source.key,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
      });
      return { pipeline, layout, bindings: source.bindings };
    } catch (error) {
      const info = await module.getCompilationInfo();
      const messages = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join('\n');
      throw new Error(`Compiling ${source.key} failed: ${(error as Error).message}\n${messages}`);
    }
  }
}
