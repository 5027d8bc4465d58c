import {
  type AttentionBackend,
  checkDType,
  type DType,
  decodeToFloat32,
  describeValue,
  expectationError,
  FaError,
  type HostTensor,
  hostTensor,
  inferDType,
  isOptionsBag,
  isValidShape,
  numel,
  type StorageFor,
} from '@fa/core';

/**
 * A tensor of the façade. It starts in host memory and moves to a backend on first use; results of a call live
 * on the backend that computed them. Shapes belong to the tensor, so reshaping never touches data.
 *
 * Calls pin the tensors they read for as long as they run: disposing a tensor that a call in flight is using
 * marks it disposed at once (any later use is `E_DISPOSED`) but frees its backend memory only when the last such
 * call settles, so a call never reads freed memory and nothing is freed twice.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Set on views made by `reshape`: the tensor that owns the data, its place, its pins and its disposal. */
  readonly #owner: Tensor | undefined;
  #host: HostTensor | undefined;
  #backend: AttentionBackend | undefined;
  #handle: unknown;
  /** The upload in flight, shared by every call that needs it so that one tensor is never uploaded twice. */
  #uploading: Promise<unknown> | undefined;
  /** Calls in flight holding this tensor's data. */
  #pins = 0;
  #disposed = false;
  #freed = false;

  /** @internal Use `tensor()` or a call's results. */
  constructor(
    shape: readonly number[],
    dtype: DType,
    place: { host: HostTensor } | { backend: AttentionBackend; handle: unknown } | { viewOf: Tensor },
  ) {
    // Internal, but exported: a caller who reaches for it gets the same typed errors as everywhere else.
    if (!isValidShape(shape)) {
      throw expectationError('E_SHAPE', 'shape', 'an array of non-negative integers', describeValue(shape));
    }
    checkDType(dtype, 'dtype');
    if (!isOptionsBag(place) || !('viewOf' in place || 'host' in place || 'backend' in place)) {
      throw expectationError(
        'E_VALUE',
        'place',
        '{ host } or { backend, handle } (use tensor())',
        describeValue(place),
      );
    }
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    if ('viewOf' in place) this.#owner = place.viewOf;
    else if ('host' in place) this.#host = place.host;
    else {
      this.#backend = place.backend;
      this.#handle = place.handle;
    }
  }

  get #root(): Tensor {
    return this.#owner ?? this;
  }

  /** The backend holding the data, or undefined while it is still in host memory. */
  get backend(): string | undefined {
    return this.#root.#backend?.name;
  }

  /** @internal The backend object holding the data (its registered name may differ from `backend`). */
  get residence(): AttentionBackend | undefined {
    return this.#root.#backend;
  }

  get disposed(): boolean {
    return this.#disposed || this.#root.#disposed;
  }

  get size(): number {
    return numel(this.shape);
  }

  /** The values as float32, whatever the dtype (f16/bf16 bits are decoded, i32 converted). */
  async toArray(): Promise<Float32Array> {
    const host = await this.toHost();
    if (host.dtype === 'i32') return Float32Array.from(host.data as Int32Array);
    return Float32Array.from(decodeToFloat32(host.data as Float32Array | Uint16Array, host.dtype));
  }

  /** The raw storage in host memory (a copy), in this tensor's dtype. */
  toHost(): Promise<HostTensor> {
    return this.readHost('tensor');
  }

  /** @internal `toHost()` with the caller's argument name in its E_DISPOSED error. */
  async readHost(argument: string): Promise<HostTensor> {
    this.pin(argument);
    try {
      const owner = this.#root;
      await owner.#uploading?.catch(() => undefined);
      if (owner.#host) return { data: owner.#host.data.slice(), shape: this.shape, dtype: this.dtype } as HostTensor;
      const host = await (owner.#backend as AttentionBackend).download(owner.#handle, this.shape, this.dtype);
      return { data: host.data, shape: this.shape, dtype: this.dtype } as HostTensor;
    } finally {
      this.unpin();
    }
  }

  /** A view with another shape of the same number of elements; shares data and disposal with this tensor. */
  reshape(shape: readonly number[]): Tensor {
    this.checkLive('tensor');
    if (!isValidShape(shape) || numel(shape) !== this.size) {
      throw expectationError('E_SHAPE', 'shape', `a shape of ${this.size} elements`, describeValue(shape));
    }
    return new Tensor(shape, this.dtype, { viewOf: this.#root });
  }

  /**
   * Frees the data (once no call in flight is using it). Disposing twice is harmless; using a disposed tensor
   * throws E_DISPOSED.
   */
  dispose(): void {
    const owner = this.#root;
    this.#disposed = true;
    owner.#disposed = true;
    owner.#host = undefined;
    owner.#freeWhenUnused();
  }

  /** @internal Throws E_DISPOSED naming `argument` when the tensor was disposed. */
  checkLive(argument: string): void {
    if (this.disposed) {
      throw new FaError('E_DISPOSED', `Expected a live tensor for \`${argument}\`, received one that was disposed.`, {
        argument,
        expected: 'a live tensor',
        received: 'a disposed tensor',
      });
    }
  }

  /** Frees the backend memory of a disposed tensor once no call holds it and no upload is still landing. */
  #freeWhenUnused(): void {
    if (!this.#disposed || this.#pins > 0 || this.#uploading || this.#freed) return;
    this.#freed = true;
    const handle = this.#handle;
    this.#handle = undefined;
    if (this.#backend && handle !== undefined) this.#backend.dispose(handle);
  }

  /**
   * @internal Holds the data for a call: throws E_DISPOSED naming `argument` when the tensor is already
   * disposed; otherwise a later `dispose()` only takes effect at the matching `unpin()`.
   */
  pin(argument: string): void {
    this.checkLive(argument);
    this.#root.#pins++;
  }

  /** @internal Ends a `pin`. */
  unpin(): void {
    const owner = this.#root;
    owner.#pins--;
    owner.#freeWhenUnused();
  }

  /**
   * @internal The backend handle of a pinned tensor, uploading host data on first use. A tensor already on
   * another backend is an error rather than a silent copy, so that hidden transfers never eat a GPU's speed.
   */
  async handleFor(backend: AttentionBackend, argument: string): Promise<unknown> {
    const owner = this.#root;
    if (owner.#backend === undefined) owner.#startUpload(backend);
    else if (owner.#backend !== backend) {
      const resident = owner.#backend.name;
      // Two instances of one backend (two registrations of `cpu`, say) share a name but not their memory.
      const residentName =
        resident === backend.name ? `another instance of backend "${resident}"` : `backend "${resident}"`;
      throw new FaError(
        'E_BACKEND_MISMATCH',
        `Expected \`${argument}\` on backend "${backend.name}", received a tensor on ${residentName}. Copy it with tensor(await t.toHost()).`,
        { argument, expected: `backend "${backend.name}"`, received: residentName },
      );
    }
    return owner.#uploading ?? owner.#handle;
  }

  #startUpload(backend: AttentionBackend): void {
    const host = this.#host as HostTensor;
    this.#backend = backend;
    // Started from a resolved promise so that even a synchronous throw lands after `#uploading` is set.
    this.#uploading = Promise.resolve()
      .then(() => backend.upload(host))
      .then(
        (handle) => {
          this.#handle = handle;
          this.#host = undefined;
          return handle;
        },
        (error: unknown) => {
          // The data is still in host memory: the tensor stays usable, on no backend.
          this.#backend = undefined;
          throw error;
        },
      )
      .finally(() => {
        this.#uploading = undefined;
        this.#freeWhenUnused();
      });
  }
}

/** Host data → a tensor. dtype defaults to f32 for a Float32Array and i32 for an Int32Array. */
export function tensor(
  data: Float32Array | Uint16Array | Int32Array | HostTensor,
  shape?: readonly number[],
  dtype?: DType,
): Tensor {
  if (shape !== undefined && !isValidShape(shape)) {
    throw expectationError('E_SHAPE', 'shape', 'an array of non-negative integers', describeValue(shape));
  }
  if (dtype !== undefined) checkDType(dtype, 'dtype');
  if (isHostTensorLike(data)) return tensorFrom(data.data, shape ?? data.shape, dtype ?? data.dtype, 'data');
  if (!ArrayBuffer.isView(data)) {
    throw expectationError(
      'E_DTYPE',
      'data',
      'a Float32Array, Int32Array or Uint16Array (f16/bf16 bits), or a tensor { data, shape, dtype }',
      describeValue(data),
    );
  }
  return tensorFrom(data, shape ?? [(data as Float32Array).length], dtype, 'data');
}

/** @internal `tensor()` with the caller's argument name in its errors. */
export function tensorFrom(
  data: unknown,
  shape: readonly number[],
  dtype: DType | undefined,
  argument: string,
): Tensor {
  const host = hostTensor(data as StorageFor<DType>, shape, dtype ?? inferDType(data, argument), argument);
  return new Tensor(host.shape, host.dtype, { host });
}

function isHostTensorLike(value: unknown): value is HostTensor {
  return (
    typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && 'data' in value && 'shape' in value
  );
}
