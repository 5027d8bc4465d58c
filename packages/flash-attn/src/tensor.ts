import {
  type AttentionBackend,
  checkDType,
  checkLayout,
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
  type TensorLayout,
} from '@fa/core';
import { resolveBackend } from './backends.js';
import { gatherView } from './layout.js';

/** One backend's copy of a tensor's data: its handle once uploaded, the upload while it is in flight. */
interface Copy {
  handle: unknown;
  uploading: Promise<unknown> | undefined;
}

/**
 * A tensor of the façade. One made from host data keeps that data and may be used on any backend: it is uploaded
 * to each backend on first use there, once even for calls in flight together, and every copy is kept until
 * `dispose()`. A result lives only on the backend that computed it; a call on another backend refuses it with
 * E_BACKEND_MISMATCH until it is moved with `to()`, so that no transfer ever happens behind the caller's back.
 * Shapes belong to the tensor, so reshaping never touches data.
 *
 * Calls pin the tensors they read for as long as they run: disposing a tensor that a call in flight is using
 * marks it disposed at once (any later use is `E_DISPOSED`) but frees its memory, on every backend, only when the
 * last such call settles, so a call never reads freed memory and nothing is freed twice.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Set on views (`reshape`, `strided`): the tensor that owns the data, its copies, its pins and its disposal. */
  readonly #owner: Tensor | undefined;
  /** Set on strided views: where this view's `(tokens, heads, dim)` elements sit in the owner's storage. */
  readonly #layout: TensorLayout | undefined;
  /** The data of a tensor made from host data (the caller's array, not a copy), kept until it is freed. */
  #host: HostTensor | undefined;
  /** The backend a result lives on; undefined for a tensor made from host data. */
  #home: AttentionBackend | undefined;
  /**
   * Every backend holding or receiving a copy, keyed by the backend object: two instances of one backend share a
   * name but not their memory.
   */
  readonly #copies = new Map<AttentionBackend, Copy>();
  /** Calls in flight holding this tensor's data. */
  #pins = 0;
  #disposed = false;

  /** @internal Use `tensor()` or a call's results. */
  constructor(
    shape: readonly number[],
    dtype: DType,
    place:
      | { host: HostTensor }
      | { backend: AttentionBackend; handle: unknown }
      | { viewOf: Tensor; layout?: TensorLayout },
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
    if ('viewOf' in place) {
      this.#owner = place.viewOf;
      this.#layout = place.layout;
    } else if ('host' in place) this.#host = place.host;
    else {
      this.#home = place.backend;
      this.#copies.set(place.backend, { handle: place.handle, uploading: undefined });
    }
  }

  get #root(): Tensor {
    return this.#owner ?? this;
  }

  /**
   * The backend a result lives on (the one that computed it, or the one `to` copied it to); undefined for a tensor
   * made from host data, which any backend may use.
   */
  get backend(): string | undefined {
    return this.#root.#home?.name;
  }

  /** @internal The backend object a result lives on (its registered name may differ from `backend`). */
  get residence(): AttentionBackend | undefined {
    return this.#root.#home;
  }

  /** The backends holding a copy of the data now, by their own names: what the tensor costs beyond host memory. */
  get backends(): string[] {
    return [...this.#root.#copies].filter(([, copy]) => copy.uploading === undefined).map(([backend]) => backend.name);
  }

  get disposed(): boolean {
    return this.#disposed || this.#root.#disposed;
  }

  get size(): number {
    return numel(this.shape);
  }

  /** @internal The tensor that owns this one's storage (itself unless it is a view). */
  get storageOwner(): Tensor {
    return this.#root;
  }

  /**
   * @internal For a strided view, where its elements sit in the owner's storage and how large that storage is:
   * validation reads it as a `TensorMeta` view, and backends with `stridedInputs` read the owner's handle through it.
   */
  get view(): { readonly layout: TensorLayout; readonly storageElements: number } | undefined {
    return this.#layout && { layout: this.#layout, storageElements: this.#root.size };
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
  readHost(argument: string): Promise<HostTensor> {
    return this.#whilePinned(argument, async () => {
      const host = this.#root.#host;
      // A copy of the tensor's own data, so that what the caller does with it never changes what backends receive.
      if (this.#layout)
        return this.#shaped(gatherView(host ? host.data : await this.#download(), this.shape, this.#layout));
      return this.#shaped(host ? host.data.slice() : await this.#download());
    });
  }

  /**
   * A new tensor on `backend` (a registered name, or a backend object) with this tensor's shape, dtype and values:
   * the explicit move for a result that lives elsewhere. The data goes through host memory: a download from the
   * backend it lives on (none for a tensor made from host data), then an upload. The new tensor is the caller's
   * to dispose and lives on `backend` as a result does, even when this one already lives there: it is always a
   * copy, so that disposing either one never affects the other.
   */
  to(backend: string | AttentionBackend): Promise<Tensor> {
    return this.#whilePinned('tensor', async () => {
      const target = await targetBackend(backend);
      const host = this.#root.#host;
      const data = this.#layout
        ? await this.readHost('tensor')
        : this.#shaped(host ? host.data : await this.#download());
      return new Tensor(this.shape, this.dtype, { backend: target, handle: await target.upload(data) });
    });
  }

  /** A view with another shape of the same number of elements; shares data and disposal with this tensor. */
  reshape(shape: readonly number[]): Tensor {
    this.checkLive('tensor');
    if (this.#layout) {
      throw expectationError('E_SHAPE', 'tensor', 'a contiguous tensor (copy a view with to())', 'a strided view');
    }
    if (!isValidShape(shape) || numel(shape) !== this.size) {
      throw expectationError('E_SHAPE', 'shape', `a shape of ${this.size} elements`, describeValue(shape));
    }
    return new Tensor(shape, this.dtype, { viewOf: this.#root });
  }

  /**
   * @internal A `(tokens, heads, dim)` view of this tensor's storage with `layout` (the parts of a packed `qkv`):
   * no data moves. It shares pins and disposal with the owner, so it is never disposed on its own.
   */
  strided(shape: readonly [number, number, number], layout: TensorLayout): Tensor {
    this.checkLive('tensor');
    if (this.#layout) throw expectationError('E_SHAPE', 'tensor', 'a tensor that is not itself a view', 'a view');
    if (!isValidShape(shape) || shape.length !== 3) {
      throw expectationError('E_SHAPE', 'shape', 'a (tokens, heads, dim) shape', describeValue(shape));
    }
    const checked = checkLayout(layout, 'layout', shape, this.#root.size);
    return new Tensor(shape, this.dtype, { viewOf: this.#root, layout: checked });
  }

  /**
   * Frees the data, its host copy and its copy on every backend (once no call in flight is using it). Disposing
   * twice is harmless; using a disposed tensor throws E_DISPOSED.
   */
  dispose(): void {
    const owner = this.#root;
    this.#disposed = true;
    owner.#disposed = true;
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

  /**
   * Frees a disposed tensor once no call holds it: its host data and every backend copy that has landed. A copy
   * still uploading is freed when it lands. Every copy is freed even if one backend's `dispose` throws.
   */
  #freeWhenUnused(): void {
    if (!this.#disposed || this.#pins > 0) return;
    this.#host = undefined;
    const failures: unknown[] = [];
    for (const [backend, copy] of this.#copies) {
      if (copy.uploading) continue;
      this.#copies.delete(backend);
      try {
        backend.dispose(copy.handle);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
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

  async #whilePinned<T>(argument: string, read: () => Promise<T>): Promise<T> {
    this.pin(argument);
    try {
      return await read();
    } finally {
      this.unpin();
    }
  }

  #shaped(data: HostTensor['data']): HostTensor {
    return { data, shape: this.shape, dtype: this.dtype } as HostTensor;
  }

  /** The owner's whole storage of a pinned result, downloaded from the backend it lives on. */
  async #download(): Promise<HostTensor['data']> {
    const owner = this.#root;
    const home = owner.#home as AttentionBackend;
    const host = await home.download((owner.#copies.get(home) as Copy).handle, owner.shape, this.dtype);
    return host.data;
  }

  /**
   * @internal The handle on `backend` of a pinned tensor: host data is uploaded there on first use (once, even
   * for calls in flight together) and kept. A result on another backend is an error rather than a silent copy,
   * so that hidden transfers never eat a GPU's speed; the error names the move, `to(backendName)`.
   */
  async handleFor(backend: AttentionBackend, argument: string, backendName = backend.name): Promise<unknown> {
    const owner = this.#root;
    const copy = owner.#copies.get(backend) ?? (owner.#host ? owner.#upload(backend) : undefined);
    if (copy === undefined) throw owner.#mismatch(backend, argument, backendName);
    return copy.uploading ?? copy.handle;
  }

  #upload(backend: AttentionBackend): Copy {
    const host = this.#host as HostTensor;
    const copy: Copy = { handle: undefined, uploading: undefined };
    this.#copies.set(backend, copy);
    // Started from a resolved promise so that even a synchronous throw lands after `uploading` is set.
    copy.uploading = Promise.resolve()
      .then(() => backend.upload(host))
      .then(
        (handle) => {
          copy.handle = handle;
          return handle;
        },
        (error: unknown) => {
          // Only this copy failed: the host data is intact, so the tensor stays usable on every backend (this one
          // included, on a later try).
          this.#copies.delete(backend);
          throw error;
        },
      )
      .finally(() => {
        copy.uploading = undefined;
        this.#freeWhenUnused();
      });
    return copy;
  }

  #mismatch(backend: AttentionBackend, argument: string, backendName: string): FaError {
    const resident = (this.#home as AttentionBackend).name;
    // Two instances of one backend (two registrations of `cpu`, say) share a name but not their memory.
    const residentName =
      resident === backend.name ? `another instance of backend "${resident}"` : `backend "${resident}"`;
    return new FaError(
      'E_BACKEND_MISMATCH',
      `Expected \`${argument}\` on backend "${backend.name}", received a result that lives on ${residentName}. ` +
        `Move it with \`await ${argument}.to('${backendName}')\` (a copy through host memory).`,
      { argument, expected: `backend "${backend.name}"`, received: residentName },
    );
  }
}

/** The backend `to` copies to: a registered name (the registry's errors for an unknown one) or a backend object. */
function targetBackend(value: unknown): Promise<AttentionBackend> {
  if (typeof value === 'string') return resolveBackend(value);
  if (isBackendLike(value)) return Promise.resolve(value);
  return Promise.reject(
    expectationError(
      'E_VALUE',
      'backend',
      'a backend name such as "webgpu", or a backend object',
      describeValue(value),
    ),
  );
}

function isBackendLike(value: unknown): value is AttentionBackend {
  if (typeof value !== 'object' || value === null) return false;
  const backend = value as Record<string, unknown>;
  return (
    typeof backend.name === 'string' &&
    typeof backend.upload === 'function' &&
    typeof backend.download === 'function' &&
    typeof backend.dispose === 'function'
  );
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
