import { compareToReference, type Quantity } from '@fa/conformance';
import { getBackend, isFaError, resetBackends } from '@fa/core';
import { flashAttnVarlen, flashAttnVarlenBackward, setBackend, type Tensor, tensor } from '@fa/flash-attn';
import type { CpuBackend } from '@fa/flash-attn/cpu';
import { cuSeqlensFromLengths } from '@fa/seqpack';
import { Random } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { registerWebGpuBackend, type WebGpuBackend } from '../src/index.js';

/**
 * The example at the top of the repository's README, as a user runs it, once on `cpu` and once on `webgpu` with
 * the very same tensors: host-made tensors go to each backend, results stay where they were computed and move
 * only with `to()`.
 */

afterAll(async () => {
  await resetBackends();
});

// The README's data: Math.random there, a seeded generator here so that a failure can be replayed.
const random = new Random(20250612);
const values = (n: number) => Float32Array.from({ length: n }, () => random.next());
const cuSeqlens = cuSeqlensFromLengths([5, 0, 3]);
const options = { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens, causal: true };

type Results = Record<Quantity, Tensor>;

/**
 * The README's two calls, word for word: no `backend` option, so they run on the active backend, or where the
 * forward's results live when `saved` passes results in.
 */
async function readme(
  t: { q: Tensor; k: Tensor; v: Tensor; dout: Tensor },
  saved?: { out: Tensor; lse: Tensor },
): Promise<Results> {
  const { out, lse } = saved ?? (await flashAttnVarlen(t.q, t.k, t.v, options));
  const { dq, dk, dv } = await flashAttnVarlenBackward(t.dout, t.q, t.k, t.v, out, lse, options);
  return { out, lse, dq, dk, dv };
}

/**
 * Each backend meets the conformance suite's f32 bound against the float64 reference, so two of them may differ
 * by twice that bound, measured on the cpu's values.
 */
async function expectClose(actual: Results, expected: Results, quantities: readonly Quantity[]): Promise<void> {
  for (const quantity of quantities) {
    const [a, e] = [await actual[quantity].toArray(), await expected[quantity].toArray()];
    const c = compareToReference(quantity, 'f32', a, e, null);
    expect(c.maxError, `${quantity}: ${c.rule}`).toBeLessThanOrEqual(2 * c.tolerance);
  }
}

describe("the README's example", () => {
  it('runs on cpu and then on webgpu with the same tensors, and a result moves only with to()', async () => {
    registerWebGpuBackend();
    const q = tensor(values(8 * 4 * 64), [8, 4, 64]); // (total_q, nheads, head_dim)
    const k = tensor(values(8 * 2 * 64), [8, 2, 64]); // GQA: 2 key/value heads
    const v = tensor(values(8 * 2 * 64), [8, 2, 64]);
    const dout = tensor(values(8 * 4 * 64), [8, 4, 64]);
    const inputs = { q, k, v, dout };

    await setBackend('cpu');
    const onCpu = await readme(inputs);
    await setBackend('webgpu');
    const onGpu = await readme(inputs);
    expect([onCpu.out.backend, onCpu.dq.backend, onGpu.out.backend, onGpu.dq.backend]).toEqual([
      'cpu',
      'cpu',
      'webgpu',
      'webgpu',
    ]);
    expect(q.backend).toBeUndefined();
    expect(q.backends.sort()).toEqual(['cpu', 'webgpu']);
    await expectClose(onGpu, onCpu, ['out', 'lse', 'dq', 'dk', 'dv']);

    // cpu's out on webgpu: refused, naming the move rather than copying it.
    const refused = await flashAttnVarlenBackward(dout, q, k, v, onCpu.out, onGpu.lse, {
      ...options,
      backend: 'webgpu',
    })
      .then(() => undefined)
      .catch((error: unknown) => error);
    expect(isFaError(refused, 'E_BACKEND_MISMATCH') && refused.argument).toBe('out');
    expect(String(refused)).toContain("await out.to('webgpu')");

    const moved = { out: await onCpu.out.to('webgpu'), lse: await onCpu.lse.to('webgpu') };
    expect([moved.out.backend, moved.out.shape, moved.out.dtype]).toEqual(['webgpu', [8, 4, 64], 'f32']);
    // The moved tensors are webgpu's results now: the README's backward call follows them there.
    await setBackend('cpu');
    const fromMoved = await readme(inputs, moved);
    expect(fromMoved.dq.backend).toBe('webgpu');
    await expectClose(fromMoved, onCpu, ['out', 'lse', 'dq', 'dk', 'dv']);

    const all = [onCpu, onGpu, fromMoved].flatMap((r) => Object.values(r));
    for (const t of [...all, ...Object.values(inputs)]) t.dispose();
    const [gpu, cpu] = [(await getBackend('webgpu')) as WebGpuBackend, (await getBackend('cpu')) as CpuBackend];
    expect(gpu.stats().liveBuffers).toBe(0);
    expect(cpu.stats()).toMatchObject({ liveHandles: 0, liveBytes: 0 });
  });
});
