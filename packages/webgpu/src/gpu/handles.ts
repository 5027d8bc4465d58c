import { FaError } from '@fa/core';
import { type DeviceState, deviceLostError } from './state.js';

/**
 * Which device each handle was made on, so that a handle from a lost device, a disposed one and one of another
 * backend are each refused with their own error.
 */
export class HandleOwners {
  readonly #owners = new WeakMap<GPUBuffer, DeviceState>();

  /** Records that `buffer` was made on `s`, and returns it. */
  track<T extends GPUBuffer>(s: DeviceState, buffer: T): T {
    this.#owners.set(buffer, s);
    return buffer;
  }

  /** `handle` when it is a live buffer of `s`; else the error that says why not. */
  bufferOf(s: DeviceState, handle: GPUBuffer, argument: string): GPUBuffer {
    if (s.buffers.owns(handle)) return handle;
    const owner = this.#owners.get(handle);
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

  /** Destroys `handle` through the tracker of the device it was made on (a foreign buffer directly). */
  dispose(handle: GPUBuffer): void {
    const owner = this.#owners.get(handle);
    if (owner) owner.buffers.destroy(handle);
    else handle.destroy();
  }
}
