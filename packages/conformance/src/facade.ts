import type { AttentionBackend, HostTensor } from '@fa/core';

/** What the suites need of a result tensor of the façade. */
export interface FacadeTensor {
  toArray(): Promise<Float32Array>;
  toHost(): Promise<HostTensor>;
  dispose(): void;
}

/**
 * The entry points of `@fa/flash-attn` the suites call, passed in (`import * as fa from '@fa/flash-attn'`) rather
 * than imported: the façade's own tests run the suites on its cpu backend, so this package cannot depend on it.
 * Arguments are `unknown` on purpose: the bad-input suite passes wrong things anywhere.
 */
export interface Facade {
  tensor(data: unknown): FacadeTensor;
  flashAttnVarlen(
    q: unknown,
    k: unknown,
    v: unknown,
    options: unknown,
  ): Promise<{ out: FacadeTensor; lse: FacadeTensor }>;
  flashAttnVarlenBackward(
    dout: unknown,
    q: unknown,
    k: unknown,
    v: unknown,
    out: unknown,
    lse: unknown,
    options: unknown,
  ): Promise<{ dq: FacadeTensor; dk: FacadeTensor; dv: FacadeTensor }>;
  getBackend(name: string): Promise<AttentionBackend>;
}

/** A registered backend, reached through a façade. */
export interface Target {
  /** `import * as fa from '@fa/flash-attn'`. */
  readonly facade: Facade;
  /** The registered backend under test. */
  readonly backend: string;
}
