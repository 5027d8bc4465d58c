import { type AttentionBackend, activeBackendName, describeValue, expectationError, type HostTensor } from '@fa/core';
import { resolveBackend } from './backends.js';
import { gatherView } from './layout.js';
import { Tensor, tensorFrom } from './tensor.js';

/** Where a tensor is expected, a façade `Tensor` or plain host data `{ data, shape, dtype? }` is accepted. */
export type TensorInput =
  | Tensor
  | HostTensor
  | {
      readonly data: Float32Array | Uint16Array;
      readonly shape: readonly number[];
      readonly dtype?: HostTensor['dtype'];
    };

/**
 * Turns the inputs of one call into tensors, remembering which ones it created from host data so that their
 * backend memory is freed when the call ends, and which ones it pinned so that a `dispose()` while the call
 * runs waits for it.
 */
export class CallInputs {
  readonly #temporaries: Tensor[] = [];
  readonly #pinned: Tensor[] = [];
  /** The host copy of each packed tensor whose views this call gathered. */
  readonly #storage = new Map<Tensor, Promise<HostTensor>>();
  /** The registered name of the backend chosen, when known: the one an E_BACKEND_MISMATCH tells to move to. */
  #backendName: string | undefined;

  tensor(value: TensorInput | undefined, argument: string): Tensor {
    if (value instanceof Tensor) return value;
    if (typeof value !== 'object' || value === null || !('data' in value) || !('shape' in value)) {
      throw expectationError(
        'E_VALUE',
        argument,
        'a Tensor or host data { data, shape, dtype? }',
        describeValue(value),
      );
    }
    const created = tensorFrom(value.data, value.shape, value.dtype, argument);
    this.#temporaries.push(created);
    return created;
  }

  /**
   * The backend the call runs on: the one named; else the one its first result input lives on (the object itself:
   * it may be registered under another name than its own), so that chaining calls moves no data; else the active
   * or best one. Tensors made from host data never decide: they are uploaded to wherever the call runs.
   */
  async backend(named: string | undefined, ...tensors: Tensor[]): Promise<AttentionBackend> {
    if (named !== undefined) {
      this.#backendName = named;
      return resolveBackend(named);
    }
    for (const t of tensors) {
      const residence = t.residence;
      if (residence) return residence;
    }
    const backend = await resolveBackend();
    this.#backendName = activeBackendName();
    return backend;
  }

  /**
   * The backend handles of `entries`, uploading what is still in host memory (concurrently; a tensor passed
   * twice is uploaded once). Every tensor is pinned before the first await, so the call either fails at once
   * with E_DISPOSED naming a disposed argument or holds all of its inputs until `release()`.
   */
  async handles(backend: AttentionBackend, entries: ReadonlyArray<readonly [Tensor, string]>): Promise<unknown[]> {
    for (const [t, argument] of entries) {
      t.pin(argument);
      this.#pinned.push(t);
    }
    return Promise.all(entries.map(([t, argument]) => t.handleFor(backend, argument, this.#backendName)));
  }

  /**
   * `t` itself, or for a strided view a dense copy of it (gathered in host memory, disposed with the call): what a
   * backend without `stridedInputs`, or an argument that kernels never read through a layout, receives.
   */
  async contiguous(t: Tensor, argument: string): Promise<Tensor> {
    const view = t.view;
    if (view === undefined) return t;
    // The parts of one packed tensor share one read of its storage (one download for a result on a backend).
    const owner = t.storageOwner;
    let storage = this.#storage.get(owner);
    if (storage === undefined) {
      storage = owner.readHost(argument);
      this.#storage.set(owner, storage);
    }
    const copy = tensorFrom(gatherView((await storage).data, t.shape, view.layout), t.shape, t.dtype, argument);
    this.#temporaries.push(copy);
    return copy;
  }

  /** Ends the call: unpins its inputs and disposes the tensors it created. */
  release(): void {
    for (const t of this.#pinned.splice(0)) t.unpin();
    for (const t of this.#temporaries.splice(0)) t.dispose();
  }
}
