import { FaError } from '@fa/core';

/** GPUBufferUsage flags as numbers, so that nothing here needs WebGPU's globals to exist at import time. */
export const Usage = {
  MAP_READ: 0x1,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  QUERY_RESOLVE: 0x200,
} as const;

const MAP_MODE_READ = 0x1;

/** Storage for tensors: read by kernels, copied out by `download`, filled by `upload`. */
export const TENSOR_USAGE = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;

/** Buffer sizes must be multiples of 4, and a binding may not be empty. */
export function paddedSize(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/**
 * Creates and destroys every buffer of one device, so that the backend knows which are alive (tests check that
 * calls leak none) and which handles belong to the current device (a handle from a lost device is refused).
 */
export class BufferTracker {
  readonly #live = new Set<GPUBuffer>();
  #liveBytes = 0;

  constructor(
    readonly device: GPUDevice,
    /** The largest buffer a kernel may bind. */
    readonly maxBindingBytes: number,
  ) {}

  get liveCount(): number {
    return this.#live.size;
  }

  /** Bytes of the live buffers, as allocated (sizes padded to 4 bytes). */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  owns(buffer: unknown): buffer is GPUBuffer {
    return this.#live.has(buffer as GPUBuffer);
  }

  /** Throws `E_LIMIT` when `bytes` cannot be bound as one storage buffer on this device. */
  checkBindable(bytes: number, argument: string): void {
    if (bytes > this.maxBindingBytes) {
      throw new FaError(
        'E_LIMIT',
        `Expected \`${argument}\` to fit in one storage buffer binding (maxStorageBufferBindingSize = ${this.maxBindingBytes} bytes on this device), received ${bytes} bytes.`,
        { argument, expected: `at most ${this.maxBindingBytes} bytes`, received: `${bytes} bytes` },
      );
    }
  }

  /** A zero-filled buffer (WebGPU zero-initialises every new buffer; 16-bit outputs rely on it). */
  create(bytes: number, usage: number, label: string): GPUBuffer {
    const buffer = this.device.createBuffer({ size: paddedSize(bytes), usage, label });
    this.#add(buffer);
    return buffer;
  }

  /** A buffer holding `data`, written while mapped at creation (no staging copy). */
  createWithData(data: ArrayBufferView, usage: number, label: string): GPUBuffer {
    const buffer = this.device.createBuffer({
      size: paddedSize(data.byteLength),
      usage,
      label,
      mappedAtCreation: true,
    });
    this.#add(buffer);
    try {
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      buffer.unmap();
    } catch (error) {
      // No mapping (out of memory, a lost device): the buffer is useless, and must not outlive the error.
      this.destroy(buffer);
      throw error;
    }
    return buffer;
  }

  #add(buffer: GPUBuffer): void {
    this.#live.add(buffer);
    this.#liveBytes += buffer.size;
  }

  /** Destroys a buffer of this tracker; a second call, or a buffer it does not hold, is a no-op. */
  destroy(buffer: GPUBuffer): void {
    if (!this.#live.delete(buffer)) return;
    this.#liveBytes -= buffer.size;
    buffer.destroy();
  }

  /** Reads `bytes` bytes from the start of `buffer`. */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    const size = paddedSize(bytes);
    const staging = this.create(size, Usage.MAP_READ | Usage.COPY_DST, 'fa-download');
    try {
      const encoder = this.device.createCommandEncoder({ label: 'fa-download' });
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(MAP_MODE_READ, 0, size);
      const copy = staging.getMappedRange(0, size).slice(0, bytes);
      staging.unmap();
      return copy;
    } finally {
      this.destroy(staging);
    }
  }

  /** Destroys every live buffer (the device is going away, or is gone). */
  destroyAll(): void {
    for (const buffer of this.#live) buffer.destroy();
    this.#live.clear();
    this.#liveBytes = 0;
  }
}
