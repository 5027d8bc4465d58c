import { isFaError } from '@fa/core';
import type { WebGpuBackendOptions } from '../options.js';
import type { GpuContext } from '../run/context.js';
import { type DeviceState, deviceLostError, openDeviceState } from './state.js';

/**
 * The backend's device over its lifetime: the first one, a replacement whenever it is lost (opened once, however
 * many calls notice the loss together), and `destroy()`.
 */
export class DeviceLifecycle {
  #state!: DeviceState;
  #reopening: Promise<DeviceState> | undefined;
  #devices = 0;
  readonly #options: WebGpuBackendOptions;
  readonly #timestampWrites: NonNullable<GpuContext['timestampWrites']>;
  readonly #checkErrors: boolean;

  private constructor(options: WebGpuBackendOptions, timestampWrites: NonNullable<GpuContext['timestampWrites']>) {
    this.#options = options;
    this.#timestampWrites = timestampWrites;
    this.#checkErrors = options.checkErrors ?? true;
  }

  /** Opens the first device; `timestampWrites` is asked for each compute pass's timestamp writes. */
  static async start(
    options: WebGpuBackendOptions,
    timestampWrites: NonNullable<GpuContext['timestampWrites']>,
  ): Promise<DeviceLifecycle> {
    const lifecycle = new DeviceLifecycle(options, timestampWrites);
    lifecycle.#state = await lifecycle.#open();
    return lifecycle;
  }

  #open(previous?: GPUDevice): Promise<DeviceState> {
    const hooks = {
      acquired: () => {
        this.#devices++;
      },
      timestampWrites: this.#timestampWrites,
      checkErrors: this.#checkErrors,
    };
    return openDeviceState(this.#options, hooks, previous);
  }

  /** Devices acquired so far; grows by one each time a lost device is replaced. */
  get devices(): number {
    return this.#devices;
  }

  /** The latest device state, which may be lost (read by the backend's getters and `stats()`). */
  get state(): DeviceState {
    return this.#state;
  }

  /** The live device state, replacing a lost device first. */
  async current(): Promise<DeviceState> {
    if (!this.#state.lost) return this.#state;
    this.#reopening ??= this.#open(this.#state.device).finally(() => {
      this.#reopening = undefined;
    });
    this.#state = await this.#reopening;
    return this.#state;
  }

  /**
   * Runs `work` on the live device, turning failures caused by a device loss into `E_DEVICE_LOST`. Outputs of a
   * call that completed on a device lost meanwhile go to `discard`: the caller never sees them.
   */
  async run<T>(
    argument: string,
    work: (s: DeviceState) => Promise<T>,
    discard: (s: DeviceState, result: T) => void = () => {},
  ): Promise<T> {
    const s = await this.current();
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

  /**
   * Destroys every buffer and the device too when the backend created it (a caller's device stays the caller's).
   * Marked lost at once (the device's own loss promise settles later), so the next call starts a new device.
   */
  destroy(): void {
    const s = this.#state;
    s.lost ??= { reason: 'destroyed', message: 'the backend was destroyed' } as GPUDeviceLostInfo;
    s.buffers.destroyAll();
    if (s.owned) s.device.destroy();
  }
}
