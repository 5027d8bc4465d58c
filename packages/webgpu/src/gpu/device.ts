import { FaError } from '@fa/core';

/**
 * Where the backend gets its GPU: a device the caller hands over, an adapter, a `GPU` object, `navigator.gpu`
 * in browsers, or the `webgpu` package (Dawn) in Node, imported only here and only when nothing else is given,
 * through a specifier bundlers leave alone, so browser bundles never pull it in.
 */
export interface DeviceSource {
  readonly device?: GPUDevice;
  readonly adapter?: GPUAdapter;
  readonly gpu?: GPU;
}

/** Optional features the kernels can use; requested when the adapter has them. */
const WANTED_FEATURES: readonly GPUFeatureName[] = ['subgroups' as GPUFeatureName, 'timestamp-query', 'shader-f16'];

/** Limits the tiling and the size checks depend on; requested at the adapter's maximum. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

export interface AcquiredDevice {
  readonly device: GPUDevice;
  readonly adapterInfo: string;
}

let nodeGpu: GPU | undefined;

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Dawn's `GPU` for Node, created once per process (its instance must outlive every device made from it). */
async function loadNodeGpu(): Promise<GPU> {
  if (nodeGpu) return nodeGpu;
  // A variable specifier keeps bundlers from resolving (and bundling) the native package.
  const specifier = 'webgpu';
  let mod: { create: (flags: string[]) => GPU; globals: object };
  try {
    mod = await import(/* @vite-ignore */ specifier);
  } catch (error) {
    throw new FaError(
      'E_BACKEND_UNAVAILABLE',
      'WebGPU is not available in this Node process: install the `webgpu` package (Dawn for Node) or pass `device`, `adapter` or `gpu` to createWebGpuBackend.',
      { cause: error },
    );
  }
  // Dawn's classes (GPUBufferUsage, GPUMapMode, …) as globals, as a browser has them.
  for (const [name, value] of Object.entries(mod.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  // Dawn zero-fills workgroup memory before each kernel runs unless told not to. Every kernel here writes its
  // workgroup arrays before reading them, so the fill is pure cost, and on SwiftShader (a CPU adapter) it
  // multiplies pipeline compile times by ten or more.
  nodeGpu = mod.create(['enable-dawn-features=disable_workgroup_init']);
  return nodeGpu;
}

async function findGpu(source: DeviceSource): Promise<GPU> {
  if (source.gpu) return source.gpu;
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (isNode()) return loadNodeGpu();
  throw new FaError('E_BACKEND_UNAVAILABLE', 'WebGPU is not available here: navigator.gpu is undefined.');
}

function describeAdapter(adapter: GPUAdapter): string {
  const info = (adapter as { info?: GPUAdapterInfo }).info;
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s);
  return parts.length > 0 ? parts.join(' ') : 'unknown adapter';
}

/**
 * A device with the limits and features the kernels want. `previous` is a device that was lost: it is never
 * reused, and an adapter that already made a device is never asked again (WebGPU adapters are single-use).
 */
export async function acquireDevice(source: DeviceSource, previous?: GPUDevice): Promise<AcquiredDevice> {
  if (source.device && source.device !== previous) {
    return { device: source.device, adapterInfo: 'device given by the caller' };
  }
  let adapter: GPUAdapter | null = previous === undefined && source.adapter ? source.adapter : null;
  if (!adapter) {
    const gpu = await findGpu(source);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  }
  if (!adapter) {
    throw new FaError('E_BACKEND_UNAVAILABLE', 'WebGPU is present but requestAdapter() returned no adapter.');
  }
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: 'fa-webgpu', requiredFeatures, requiredLimits });
  } catch (error) {
    throw new FaError(
      'E_BACKEND_UNAVAILABLE',
      `Could not create a WebGPU device on ${describeAdapter(adapter)}: ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  }
  return { device, adapterInfo: describeAdapter(adapter) };
}
