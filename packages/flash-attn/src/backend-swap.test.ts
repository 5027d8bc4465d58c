import { type FaErrorCode, isFaError } from '@fa/core';
import { type AttnInputs, attnInputs } from '@fa/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { type CpuBackend, createCpuBackend } from './cpu/backend.js';
import {
  flashAttnVarlen,
  flashAttnVarlenBackward,
  registerBackend,
  setBackend,
  type Tensor,
  tensor,
  unregisterBackend,
} from './index.js';

/**
 * Swapping backends with the same tensors: a tensor made from host data is uploaded to each backend it is used on
 * and keeps every copy until disposed; a result stays where it was computed and moves only with `to()`. Two cpu
 * backends registered under their own names stand in for two devices: they share a name ("cpu") but not their
 * memory, which is exactly what the façade must keep apart.
 */

interface Instrumented {
  readonly name: string;
  readonly backend: CpuBackend;
  uploads: number;
  /** Uploads still to refuse, as a device out of memory would. */
  refuseUploads: number;
  /** Set while forward calls must wait: they hold their inputs until it resolves. */
  hold: Promise<void> | undefined;
}

const instruments: Instrumented[] = [];
afterAll(async () => {
  for (const { name, backend } of instruments) {
    unregisterBackend(name);
    await backend.destroy?.();
  }
});

/** A cpu backend registered as `name` that counts its uploads, can refuse them and can hold its forward calls. */
function instrumented(name: string): Instrumented {
  const inner = createCpuBackend({ threads: 1 });
  const control: Instrumented = {
    name,
    uploads: 0,
    refuseUploads: 0,
    hold: undefined,
    backend: {
      ...inner,
      upload: (t) => {
        control.uploads++;
        if (control.refuseUploads > 0) {
          control.refuseUploads--;
          throw new Error(`${name} is out of memory`);
        }
        return inner.upload(t);
      },
      forward: async (q, k, v, problem) => {
        await control.hold;
        return inner.forward(q, k, v, problem);
      },
    },
  };
  instruments.push(control);
  registerBackend(name, () => control.backend, { priority: -10 });
  return control;
}

function held(...backends: Instrumented[]): number[] {
  return backends.map((b) => b.backend.stats().liveHandles);
}

async function rejection(
  promise: Promise<unknown>,
): Promise<{ code: FaErrorCode; argument?: string; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isFaError(error)) throw new Error(`expected an FaError, received ${String(error)}`);
  return { code: error.code, argument: error.argument, message: error.message };
}

const problem: AttnInputs = attnInputs(
  { name: 'swap', lengthsQ: [5, 0, 3], numHeads: 4, numHeadsK: 2, headDim: 16 },
  11,
);

/** The problem's forward on `backend`, from host data. */
function forwardOn(backend: string) {
  return flashAttnVarlen(problem.q, problem.k, problem.v, { ...problem.options, backend });
}

function hostTensors() {
  return { q: tensor(problem.q), k: tensor(problem.k), v: tensor(problem.v), dout: tensor(problem.dout) };
}

/** Forward and backward on `backend`, everything read back to the host; the results are disposed. */
async function run(t: ReturnType<typeof hostTensors>, backend: string) {
  const options = { ...problem.options, backend };
  const { out, lse } = await flashAttnVarlen(t.q, t.k, t.v, options);
  const grads = await flashAttnVarlenBackward(t.dout, t.q, t.k, t.v, out, lse, options);
  const results = { out, lse, ...grads };
  const values = Object.fromEntries(
    await Promise.all(Object.entries(results).map(async ([key, r]) => [key, Array.from(await r.toArray())])),
  );
  for (const r of Object.values(results)) r.dispose();
  return values;
}

describe('a tensor made from host data', () => {
  it('is uploaded once to each backend it is used on, keeps every copy until disposed, then frees them all', async () => {
    const [a, b] = [instrumented('swap-host-a'), instrumented('swap-host-b')];
    const t = hostTensors();
    const onA = await run(t, a.name);
    const onB = await run(t, b.name);
    // Both are the same cpu kernels: the same tensors give the same bits on either.
    expect(onB).toEqual(onA);
    expect(held(a, b)).toEqual([4, 4]);
    expect([a.uploads, b.uploads]).toEqual([4, 4]);
    expect(t.q.backend).toBeUndefined();
    expect(t.q.backends).toEqual(['cpu', 'cpu']);

    // Used again on either: nothing is uploaded again.
    expect(await run(t, a.name)).toEqual(onA);
    expect([a.uploads, b.uploads]).toEqual([4, 4]);

    for (const x of Object.values(t)) x.dispose();
    expect(held(a, b)).toEqual([0, 0]);
    expect(t.q.backends).toEqual([]);
  });

  it('shares its copies with its reshape views, and a view disposes them all', async () => {
    const [a, b] = [instrumented('swap-view-a'), instrumented('swap-view-b')];
    const q = tensor(problem.q);
    const [total, heads, dim] = problem.q.shape as [number, number, number];
    const flat = q.reshape([total, heads * dim]);
    const options = { ...problem.options, backend: a.name };
    const first = await flashAttnVarlen(q, problem.k, problem.v, options);
    const again = await flashAttnVarlen(flat.reshape([total, heads, dim]), problem.k, problem.v, options);
    const elsewhere = await flashAttnVarlen(flat.reshape([total, heads, dim]), problem.k, problem.v, {
      ...options,
      backend: b.name,
    });
    expect(await again.out.toArray()).toEqual(await first.out.toArray());
    expect(await elsewhere.out.toArray()).toEqual(await first.out.toArray());
    // q went up once per backend (k and v were the calls' temporaries, uploaded and freed each time).
    expect(q.backends).toEqual(['cpu', 'cpu']);
    for (const r of [first, again, elsewhere]) for (const x of [r.out, r.lse]) x.dispose();
    expect(held(a, b)).toEqual([1, 1]);
    flat.dispose();
    expect(q.disposed).toBe(true);
    expect(held(a, b)).toEqual([0, 0]);
  });

  it('is uploaded once per backend when its first uses on two backends run at the same time', async () => {
    const [a, b] = [instrumented('swap-together-a'), instrumented('swap-together-b')];
    const t = hostTensors();
    const runs = await Promise.all([a.name, b.name, a.name, b.name].map((name) => run(t, name)));
    for (const r of runs) expect(r).toEqual(runs[0]);
    expect([a.uploads, b.uploads]).toEqual([4, 4]);
    for (const x of Object.values(t)) x.dispose();
    expect(held(a, b)).toEqual([0, 0]);
  });

  it('stays usable everywhere after an upload to one backend fails, and is uploaded there on a later try', async () => {
    const [a, b] = [instrumented('swap-refuse-a'), instrumented('swap-refuse-b')];
    const t = hostTensors();
    a.refuseUploads = 1;
    expect(String(await flashAttnVarlen(t.q, t.k, t.v, { ...problem.options, backend: a.name }).catch(String))).toMatch(
      /out of memory/,
    );
    // The uploads that did land on a are kept (the tensors are live); the refused one left nothing.
    expect(held(a)).toEqual([2]);
    const onB = await run(t, b.name);
    expect(await run(t, a.name)).toEqual(onB);
    expect(a.uploads).toBe(5);
    for (const x of Object.values(t)) x.dispose();
    expect(held(a, b)).toEqual([0, 0]);
  });

  it('disposed during calls on two backends, is freed on both only when the last call ends', async () => {
    const [a, b] = [instrumented('swap-pinned-a'), instrumented('swap-pinned-b')];
    const [q, k, v] = [tensor(problem.q), tensor(problem.k), tensor(problem.v)];
    let releaseA = () => {};
    let releaseB = () => {};
    a.hold = new Promise((resolve) => (releaseA = resolve));
    b.hold = new Promise((resolve) => (releaseB = resolve));
    const onA = flashAttnVarlen(q, k, v, { ...problem.options, backend: a.name });
    const onB = flashAttnVarlen(q, k, v, { ...problem.options, backend: b.name });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(held(a, b)).toEqual([3, 3]);
    for (const x of [q, k, v]) x.dispose();
    expect(await rejection(q.toArray())).toMatchObject({ code: 'E_DISPOSED', argument: 'tensor' });
    expect(held(a, b)).toEqual([3, 3]);

    releaseA();
    const resultA = await onA;
    // b's call still holds q, k and v, so their copies on a stay too.
    expect(held(a, b)).toEqual([5, 3]);
    releaseB();
    const resultB = await onB;
    expect(held(a, b)).toEqual([2, 2]);
    expect(await resultB.out.toArray()).toEqual(await resultA.out.toArray());
    for (const r of [resultA, resultB]) for (const x of [r.out, r.lse]) x.dispose();
    expect(held(a, b)).toEqual([0, 0]);
  });
});

describe('a result', () => {
  it('lives on the backend that computed it, is refused elsewhere naming the move, and moves with to()', async () => {
    const [a, b] = [instrumented('swap-result-a'), instrumented('swap-result-b')];
    const t = hostTensors();
    const options = { ...problem.options, backend: a.name };
    const { out, lse } = await flashAttnVarlen(t.q, t.k, t.v, options);
    expect([out.backend, lse.backend]).toEqual(['cpu', 'cpu']);

    const onB = { ...options, backend: b.name };
    const refused = await rejection(flashAttnVarlenBackward(t.dout, t.q, t.k, t.v, out, lse, onB));
    expect(refused).toMatchObject({ code: 'E_BACKEND_MISMATCH', argument: 'out' });
    expect(refused.message).toContain(`await out.to('${b.name}')`);
    expect(refused.message).toContain('another instance of backend "cpu"');

    const [outB, lseB] = await Promise.all([out.to(b.name), lse.to(b.backend)]);
    expect([outB.shape, outB.dtype]).toEqual([out.shape, out.dtype]);
    const gradsA = await flashAttnVarlenBackward(t.dout, t.q, t.k, t.v, out, lse, options);
    const gradsB = await flashAttnVarlenBackward(t.dout, t.q, t.k, t.v, outB, lseB, onB);
    for (const key of ['dq', 'dk', 'dv'] as const) {
      expect(await gradsB[key].toArray(), key).toEqual(await gradsA[key].toArray());
    }
    // The moved tensors are results of b: a call that names no backend follows them there.
    const followed = await flashAttnVarlenBackward(t.dout, t.q, t.k, t.v, outB, lseB, problem.options);
    expect(await followed.dq.toArray()).toEqual(await gradsA.dq.toArray());

    for (const x of [out, lse, outB, lseB, ...Object.values(t)]) x.dispose();
    for (const g of [gradsA, gradsB, followed]) for (const x of Object.values(g)) x.dispose();
    expect(held(a, b)).toEqual([0, 0]);
  });

  it('to() always returns a new tensor of its own, even to the backend it already lives on', async () => {
    const a = instrumented('swap-same-a');
    const { out, lse } = await forwardOn(a.name);
    const expected = await out.toArray();
    const copy = await out.to(a.name);
    expect(copy).not.toBe(out);
    out.dispose();
    expect(await copy.toArray()).toEqual(expected);
    // A view moves with its own shape.
    const view = await copy.reshape([copy.size]).to(a.name);
    expect(view.shape).toEqual([copy.size]);
    for (const x of [copy, view, lse]) x.dispose();
    expect(held(a)).toEqual([0]);
  });

  it('to() from host data gives a tensor that lives on that backend only', async () => {
    const [a, b] = [instrumented('swap-pinned-host-a'), instrumented('swap-pinned-host-b')];
    const q = tensor(problem.q);
    const onA = await q.to(a.name);
    q.dispose();
    expect([onA.backend, onA.backends]).toEqual(['cpu', ['cpu']]);
    expect(await onA.toArray()).toEqual(Float32Array.from(problem.q.data as Float32Array));
    const refused = await rejection(
      flashAttnVarlen(onA, problem.k, problem.v, { ...problem.options, backend: b.name }),
    );
    expect(refused).toMatchObject({ code: 'E_BACKEND_MISMATCH', argument: 'q' });
    onA.dispose();
    expect(held(a, b)).toEqual([0, 0]);
  });

  it('to() refuses a disposed tensor, an unknown backend and a value that is not a backend, holding nothing', async () => {
    const a = instrumented('swap-errors-a');
    const { out, lse } = await forwardOn(a.name);
    expect(await rejection(out.to('no-such-backend'))).toMatchObject({
      code: 'E_BACKEND_UNAVAILABLE',
      argument: 'backend',
    });
    for (const junk of [undefined, 42, {}, '']) {
      expect(await rejection(out.to(junk as never))).toMatchObject({ code: 'E_VALUE', argument: 'backend' });
    }
    out.dispose();
    expect(await rejection(out.to(a.name))).toMatchObject({ code: 'E_DISPOSED', argument: 'tensor' });
    lse.dispose();
    expect(held(a)).toEqual([0]);
  });
});

describe('the backend of a call that names none', () => {
  it('is where its result inputs live, else the active backend, whatever backends its host tensors are on', async () => {
    const [a, b] = [instrumented('swap-default-a'), instrumented('swap-default-b')];
    const t = hostTensors();
    const { out, lse } = await flashAttnVarlen(t.q, t.k, t.v, { ...problem.options, backend: a.name });
    await setBackend(b.name);
    const onActive = await flashAttnVarlen(t.q, t.k, t.v, problem.options);
    expect(held(a, b)).toEqual([5, 5]);
    const grads = await flashAttnVarlenBackward(t.dout, t.q, t.k, t.v, out, lse, problem.options);
    // The backward followed out and lse to a; only dout had to go up there.
    expect(held(a, b)).toEqual([9, 5]);
    const all: Tensor[] = [out, lse, onActive.out, onActive.lse, ...Object.values(grads), ...Object.values(t)];
    for (const x of all) x.dispose();
    expect(held(a, b)).toEqual([0, 0]);
  });
});
