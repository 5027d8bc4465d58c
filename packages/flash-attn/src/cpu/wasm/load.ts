import { KERNEL_WASM_PLAIN_BASE64, KERNEL_WASM_SHARED_BASE64 } from './kernel-wasm.generated.js';

/** The functions asm/index.ts exports. Pointers and sizes are byte offsets into the imported memory. */
export interface KernelExports {
  heapBase(): number;
  jobHeaderBytes(): number;
  scratchBytes(
    kind: number,
    headDim: number,
    headDimV: number,
    blockQ: number,
    blockK: number,
    maxSeqlenQ: number,
  ): number;
  run(job: number, thread: number): void;
  philoxWords(out: number, c0: number, c1: number, c2: number, c3: number, key0: number, key1: number): void;
}

export const KERNEL_EXPORT_NAMES: readonly (keyof KernelExports)[] = [
  'heapBase',
  'jobHeaderBytes',
  'scratchBytes',
  'run',
  'philoxWords',
];

/** The largest memory the shared variant declares, in 64 KiB pages (must match scripts/build-wasm.ts). */
export const SHARED_MAXIMUM_PAGES = 65536;

// The smallest module that uses both features the kernels need: v128 (SIMD) and an atomic add (threads).
const FEATURE_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x05, 0x03, 0x01, 0x00, 0x01, 0x0a, 0x1f, 0x01, 0x1d, 0x00, 0x41, 0x00, 0x41, 0x01, 0xfe, 0x1e, 0x02, 0x00, 0x1a,
  0xfd, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
]);

let featuresSupported: boolean | undefined;

/** Whether this engine runs WebAssembly with SIMD and atomics, which the kernels require. */
export function wasmKernelsSupported(): boolean {
  if (featuresSupported === undefined) {
    try {
      featuresSupported = typeof WebAssembly === 'object' && WebAssembly.validate(FEATURE_PROBE);
    } catch {
      featuresSupported = false;
    }
  }
  return featuresSupported;
}

/** Whether shared memories (and so worker threads over one memory) are available here. */
export function sharedMemorySupported(): boolean {
  try {
    return (
      typeof SharedArrayBuffer === 'function' &&
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer
    );
  } catch {
    return false;
  }
}

function decodeBase64(text: string): Uint8Array {
  if (typeof atob === 'function') return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const modules = new Map<boolean, Promise<WebAssembly.Module>>();

/** Compiles (once) the variant that imports a shared memory, or a plain one. */
export function kernelModule(shared: boolean): Promise<WebAssembly.Module> {
  let module = modules.get(shared);
  if (!module) {
    const bytes = decodeBase64(shared ? KERNEL_WASM_SHARED_BASE64 : KERNEL_WASM_PLAIN_BASE64);
    module = WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    modules.set(shared, module);
  }
  return module;
}

export function instantiateKernel(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
