import { FaError } from '@fa/core';

const PAGE_BYTES = 65536;
const ALIGN = 64;

/** Largest linear memory a wasm32 module can address. */
export const MAX_MEMORY_BYTES = 65536 * PAGE_BYTES;

/**
 * Lays out one call's buffers in linear memory, bump-allocator style, from the first byte the module leaves
 * free. Buffers are 64-byte aligned (a cache line) so that no two threads' scratch areas share a line.
 */
export class ArenaLayout {
  #end: number;

  constructor(base: number) {
    this.#end = align(base);
  }

  /**
   * Reserves `bytes` and returns their offset. `slack` bytes after them stay reserved too: kernels read whole
   * vectors, up to 3 floats past the end of a row, and the last row of a tensor must not hit unmapped memory.
   */
  reserve(bytes: number, slack = 0): number {
    const at = this.#end;
    this.#end = align(at + bytes + slack);
    return at;
  }

  get bytes(): number {
    return this.#end;
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / ALIGN) * ALIGN;
}

/** Grows `memory` to hold `bytes`. */
export function ensureMemory(memory: WebAssembly.Memory, bytes: number): void {
  if (bytes > MAX_MEMORY_BYTES) {
    throw new FaError('E_LIMIT', `The CPU kernels need ${bytes} bytes of memory, more than wasm32's 4 GiB.`);
  }
  const pages = Math.ceil(bytes / PAGE_BYTES);
  const current = memory.buffer.byteLength / PAGE_BYTES;
  if (pages <= current) return;
  try {
    memory.grow(pages - current);
  } catch (cause) {
    // The engine refused the memory (address space, a browser's cap): as good as too large.
    throw new FaError('E_LIMIT', `The CPU kernels could not grow their memory to ${bytes} bytes.`, { cause });
  }
}
