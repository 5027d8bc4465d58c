import { type AttentionBackend, type DType, interleaveHost } from '@fa/core';
import { Tensor, tensor } from './tensor.js';

/** Rows `[offset + r·R, offset + (r + 1)·R)` of a tensor's storage, for `interleaveTensors`. */
export interface RowSource {
  readonly tensor: Tensor;
  readonly offset: number;
}

/**
 * One new dense tensor of `shape` whose row r holds row r of every source in order (see the backend contract's
 * `interleave`): the packed gradients (dq, dk, dv → dqkv) and the padded lse's axis swap. On a backend that offers
 * `interleave`, with every source living there, the data never leaves the device and the result lives there too;
 * otherwise the rows are gathered in host memory, as before, and the result is a tensor of host data.
 */
export async function interleaveTensors(
  backend: AttentionBackend | undefined,
  argument: string,
  sources: readonly RowSource[],
  rows: number,
  rowElements: number,
  dtype: DType,
  shape: readonly number[],
): Promise<Tensor> {
  const owners = [...new Set(sources.map((s) => s.tensor))];
  for (const owner of owners) owner.pin(argument);
  try {
    if (backend?.interleave && owners.every((t) => t.residence === backend)) {
      const handles = new Map<Tensor, unknown>();
      for (const owner of owners) handles.set(owner, await owner.handleFor(backend, argument));
      const parts = sources.map((s) => ({ handle: handles.get(s.tensor), offset: s.offset }));
      const handle = await backend.interleave(parts, rows, rowElements, dtype);
      return new Tensor(shape, dtype, { backend, handle });
    }
    const hosts = new Map(await Promise.all(owners.map(async (t) => [t, await t.readHost(argument)] as const)));
    const parts = sources.map((s) => ({ handle: hosts.get(s.tensor) as never, offset: s.offset }));
    const host = interleaveHost(parts, rows, rowElements, dtype);
    return tensor({ ...host, shape: [...shape] });
  } finally {
    for (const owner of owners) owner.unpin();
  }
}
