/**
 * A flag that holds for one call chain: set while `run(fn)` runs `fn` and everything `fn` starts, awaits included.
 *
 * Where the runtime has `AsyncLocalStorage` (Node, reached through `process.getBuiltinModule`, so that no bundler
 * sees a Node built-in) the flag follows the async context: work that did not start inside `fn` never sees it,
 * even while `fn` is suspended at an await. Browsers have no such API yet; there the flag is a
 * counter held from the start of `fn` until its promise settles, so other async work that runs while an awaited
 * `fn` is suspended sees it too.
 */
export interface CallScope {
  /** `'call-chain'` with `AsyncLocalStorage`, `'dynamic'` with the counter. */
  readonly kind: 'call-chain' | 'dynamic';
  /** Whether the calling code runs inside `run`. */
  active(): boolean;
  /** Runs `fn` inside the scope and returns what it returns (its promise, for an async `fn`). */
  run<T>(fn: () => T): T;
}

/** The part of Node's `AsyncLocalStorage` used here. */
export interface AsyncLocalStorageLike<T> {
  getStore(): T | undefined;
  run<R>(store: T, fn: () => R): R;
}

export type AsyncLocalStorageClass = new <T>() => AsyncLocalStorageLike<T>;

/** Node's `AsyncLocalStorage`, found without importing anything; `null` where `process.getBuiltinModule` is missing. */
export function findAsyncLocalStorage(): AsyncLocalStorageClass | null {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof process?.getBuiltinModule !== 'function') return null;
  const hooks = process.getBuiltinModule('node:async_hooks') as { AsyncLocalStorage?: unknown } | undefined;
  return typeof hooks?.AsyncLocalStorage === 'function' ? (hooks.AsyncLocalStorage as AsyncLocalStorageClass) : null;
}

/** A scope over `Storage` (by default the runtime's `AsyncLocalStorage`), or the counter where it is `null`. */
export function createCallScope(Storage: AsyncLocalStorageClass | null = findAsyncLocalStorage()): CallScope {
  return Storage ? chainScope(new Storage<true>()) : dynamicScope();
}

function chainScope(storage: AsyncLocalStorageLike<true>): CallScope {
  return {
    kind: 'call-chain',
    active: () => storage.getStore() === true,
    run: (fn) => storage.run(true, fn),
  };
}

function dynamicScope(): CallScope {
  let depth = 0;
  return {
    kind: 'dynamic',
    active: () => depth > 0,
    run<T>(fn: () => T): T {
      depth++;
      let result: T;
      try {
        result = fn();
      } catch (error) {
        depth--;
        throw error;
      }
      if (result instanceof Promise) return result.finally(() => depth--) as T;
      depth--;
      return result;
    },
  };
}
