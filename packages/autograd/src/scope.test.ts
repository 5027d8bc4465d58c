import { describe, expect, it } from 'vitest';
import { type CallScope, createCallScope, findAsyncLocalStorage } from './scope.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A promise and the function that resolves it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

describe.each([
  ['call-chain', () => createCallScope()],
  ['dynamic', () => createCallScope(null)],
] as const)('a %s scope', (kind, make) => {
  it(`is the ${kind} kind`, () => {
    expect(make().kind).toBe(kind);
  });

  it('holds inside a synchronous fn only, and returns its result', () => {
    const scope = make();
    expect(scope.active()).toBe(false);
    expect(scope.run(() => scope.active())).toBe(true);
    expect(scope.active()).toBe(false);
  });

  it('holds across the awaits of an async fn, and ends when it settles, rejected or thrown', async () => {
    const scope = make();
    const seen = await scope.run(async () => {
      const before = scope.active();
      await tick();
      await Promise.resolve();
      return [before, scope.active(), scope.run(() => scope.active())];
    });
    expect(seen).toEqual([true, true, true]);
    expect(scope.active()).toBe(false);
    await expect(
      scope.run(async () => {
        await tick();
        throw new Error('inside');
      }),
    ).rejects.toThrow('inside');
    expect(scope.active()).toBe(false);
    expect(() =>
      scope.run(() => {
        throw new Error('sync');
      }),
    ).toThrow('sync');
    expect(scope.active()).toBe(false);
  });
});

describe('the scope withReferenceAttention uses', () => {
  it('follows the call chain here (Node has AsyncLocalStorage, found without an import)', () => {
    expect(findAsyncLocalStorage()).not.toBeNull();
    expect(createCallScope().kind).toBe('call-chain');
  });

  it('is not seen by work that started outside while fn is suspended, and is by work fn started', async () => {
    const scope: CallScope = createCallScope();
    const { wait, open } = gate();
    let timerInside: boolean | undefined;
    const chain = scope.run(async () => {
      setTimeout(() => {
        timerInside = scope.active();
      }, 0);
      await wait;
      return scope.active();
    });
    // The chain is suspended at `await wait`; this code did not start inside it.
    await tick();
    expect(scope.active()).toBe(false);
    open();
    expect(await chain).toBe(true);
    expect(timerInside).toBe(true);
  });

  it('without AsyncLocalStorage (browsers), is seen by whatever runs while fn is suspended: the documented limit', async () => {
    const scope = createCallScope(null);
    const { wait, open } = gate();
    const chain = scope.run(() => wait);
    expect(scope.active()).toBe(true);
    open();
    await chain;
    expect(scope.active()).toBe(false);
  });
});
