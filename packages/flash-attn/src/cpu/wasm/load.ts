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

// `f32x4.relaxed_madd` over three zero vectors: valid only where the engine has relaxed SIMD (Node >= 22,
// Chrome >= 114, Firefox; not Safari nor Node 20). The kernels do not use it yet; backends report it so that a
// run says which instruction set it had.
const RELAXED_SIMD_PROBE = (() => {
  // Magic and version, a type section with `() -> v128`, a function section declaring one such function.
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03];
  const functions = [0x02, 0x01, 0x00];
  const zeros = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const body = [0x00, ...zeros, ...zeros, ...zeros, 0xfd, 0x85, 0x02, 0x0b];
  const code = [0x0a, body.length + 2, 0x01, body.length, ...body];
  return new Uint8Array([...header, ...functions, ...code]);
})();

let relaxedSimd: boolean | undefined;

/** Whether this engine validates WebAssembly relaxed SIMD (fused multiply-add among it). */
export function relaxedSimdSupported(): boolean {
  if (relaxedSimd === undefined) {
    try {
      relaxedSimd = typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_SIMD_PROBE);
    } catch {
      relaxedSimd = false;
    }
  }
  return relaxedSimd;
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
