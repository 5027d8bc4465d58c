import {
  type AttentionBackend,
  type DType,
  decodeToFloat32,
  describeValue,
  expectationError,
  FaError,
  type HostTensor,
  hostTensor,
  inferDType,
  isValidShape,
  numel,
  type StorageFor,
} from '@fa/core';

/**
 * A tensor of the façade. It starts in host memory and moves to a backend on first use; results of a call live
 * on the backend that computed them. Shapes belong to the tensor, so reshaping never touches data.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  #host: HostTensor | undefined;
  #backend: AttentionBackend | undefined;
  #handle: unknown;
  #disposed = false;

  /** @internal Use `tensor()` or a call's results. */
  constructor(
    shape: readonly number[],
    dtype: DType,
    place: { host: HostTensor } | { backend: AttentionBackend; handle: unknown },
  ) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    if ('host' in place) this.#host = place.host;
    else {
      this.#backend = place.backend;
      this.#handle = place.handle;
    }
  }

  /** The backend holding the data, or undefined while it is still in host memory. */
  get backend(): string | undefined {
    return (this.#owner ?? this).#backend?.name;
  }

  get disposed(): boolean {
    return this.#disposed || (this.#owner ?? this).#disposed;
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
  async toHost(): Promise<HostTensor> {
    this.#checkLive('tensor');
    const owner = this.#owner ?? this;
    if (owner.#host) return { data: owner.#host.data.slice(), shape: this.shape, dtype: this.dtype } as HostTensor;
    const host = await (owner.#backend as AttentionBackend).download(owner.#handle, this.shape, this.dtype);
    return { data: host.data, shape: this.shape, dtype: this.dtype } as HostTensor;
  }

  /** A view with another shape of the same number of elements; shares data and disposal with this tensor. */
  reshape(shape: readonly number[]): Tensor {
    this.#checkLive('tensor');
    if (!isValidShape(shape) || numel(shape) !== this.size) {
      throw expectationError('E_SHAPE', 'shape', `a shape of ${this.size} elements`, describeValue(shape));
    }
    const owner = this.#owner ?? this;
    const view = new Tensor(shape, this.dtype, { host: owner.#host as HostTensor });
    view.#owner = owner;
    return view;
  }

  /** Set on views made by `reshape`: the tensor that owns the data, its place and its disposal. */
  #owner: Tensor | undefined;

  /** Frees the data. Disposing twice is harmless; using a disposed tensor throws E_DISPOSED. */
  dispose(): void {
    const owner = this.#owner ?? this;
    if (owner.#disposed) {
      this.#disposed = true;
      return;
    }
    owner.#disposed = true;
    this.#disposed = true;
    if (owner.#backend) owner.#backend.dispose(owner.#handle);
    owner.#host = undefined;
    owner.#handle = undefined;
  }

  #checkLive(argument: string): void {
    if (this.disposed) {
      throw new FaError('E_DISPOSED', `Expected a live tensor for \`${argument}\`, received one that was disposed.`, {
        argument,
        expected: 'a live tensor',
        received: 'a disposed tensor',
      });
    }
  }

  /**
   * @internal The backend handle, uploading host data on first use. A tensor already on another backend is an
   * error rather than a silent copy, so that hidden transfers never eat a GPU's speed.
   */
  async handleFor(backend: AttentionBackend, argument: string): Promise<unknown> {
    this.#checkLive(argument);
    const owner = this.#owner ?? this;
    if (owner.#backend === undefined) {
      owner.#handle = await backend.upload(owner.#host as HostTensor);
      owner.#backend = backend;
      owner.#host = undefined;
    } else if (owner.#backend !== backend) {
      throw new FaError(
        'E_BACKEND_MISMATCH',
        `Expected \`${argument}\` on backend "${backend.name}", received a tensor on "${owner.#backend.name}". Copy it with tensor(await t.toHost()).`,
        { argument, expected: `backend "${backend.name}"`, received: `backend "${owner.#backend.name}"` },
      );
    }
    return owner.#handle;
  }
}

/** Host data → a tensor. dtype defaults to f32 for a Float32Array and i32 for an Int32Array. */
export function tensor(
  data: Float32Array | Uint16Array | Int32Array | HostTensor,
  shape?: readonly number[],
  dtype?: DType,
): Tensor {
  if (isHostTensorLike(data)) return tensorFrom(data.data, shape ?? data.shape, dtype ?? data.dtype, 'data');
  return tensorFrom(data, shape ?? [data.length], dtype, 'data');
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
