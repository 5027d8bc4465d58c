import type { AttentionBackend, BackendFactory } from './backend.js';
import { checkOptionsBag, describeValue, expectationError, FaError } from './errors.js';
import { checkKnownKeys, optionKeys } from './known-keys.js';

/**
 * The backend registry. It lives in `@fa/core`, which every backend package takes as a peer dependency, and its
 * state hangs off a global symbol so that even two copies of this module in one app share one registry.
 */

export interface BackendRegistration {
  readonly name: string;
  readonly priority: number;
}

export interface RegisterBackendOptions {
  /** Higher wins automatic selection; default 0. */
  readonly priority?: number;
}

const REGISTER_OPTION_KEYS = optionKeys<RegisterBackendOptions>()(['priority']);

interface Entry {
  readonly name: string;
  readonly factory: BackendFactory;
  readonly priority: number;
  instance?: Promise<AttentionBackend>;
}

interface RegistryState {
  readonly entries: Map<string, Entry>;
  active: string | undefined;
}

const STATE_KEY = Symbol.for('@fa/core/backend-registry');

function state(): RegistryState {
  const holder = globalThis as unknown as Record<symbol, RegistryState | undefined>;
  let current = holder[STATE_KEY];
  if (!current) {
    current = { entries: new Map(), active: undefined };
    holder[STATE_KEY] = current;
  }
  return current;
}

/** `argument` is what the caller called it: `name` when registering, `backend` when choosing one for a call. */
function checkName(name: unknown, argument: 'name' | 'backend'): asserts name is string {
  if (typeof name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(name)) {
    throw expectationError('E_VALUE', argument, 'a backend name such as "cpu" or "webgpu"', describeValue(name));
  }
}

/**
 * Registers a backend. The factory runs only when the backend is first used, so registering costs nothing and
 * never touches a GPU. Higher priority wins automatic selection. Registering a name again replaces it.
 */
export function registerBackend(name: string, factory: BackendFactory, options: RegisterBackendOptions = {}): void {
  checkName(name, 'name');
  if (typeof factory !== 'function') {
    throw expectationError('E_VALUE', 'factory', 'a function that creates the backend', describeValue(factory));
  }
  checkOptionsBag(options, 'options', 'an options object { priority? }');
  checkKnownKeys(options, 'options', REGISTER_OPTION_KEYS);
  const { priority = 0 } = options as RegisterBackendOptions;
  if (!Number.isFinite(priority)) {
    throw expectationError('E_VALUE', 'options.priority', 'a finite number', describeValue(priority));
  }
  const previous = state().entries.get(name);
  if (previous?.instance)
    void previous.instance.then(
      (b) => b.destroy?.(),
      () => undefined,
    );
  state().entries.set(name, { name, factory, priority });
}

/** Removes a backend, destroying it if it had started. Returns whether it was registered. */
export function unregisterBackend(name: string): boolean {
  checkName(name, 'name');
  const s = state();
  const entry = s.entries.get(name);
  if (!entry) return false;
  s.entries.delete(name);
  if (s.active === name) s.active = undefined;
  if (entry.instance)
    void entry.instance.then(
      (b) => b.destroy?.(),
      () => undefined,
    );
  return true;
}

/** Registered backends, best first. Listing does not initialise any of them. */
export function listBackends(): BackendRegistration[] {
  return [...state().entries.values()]
    .sort((a, b) => b.priority - a.priority)
    .map(({ name, priority }) => ({ name, priority }));
}

function instantiate(entry: Entry): Promise<AttentionBackend> {
  if (!entry.instance) {
    entry.instance = Promise.resolve()
      .then(entry.factory)
      .catch((error: unknown) => {
        // A failed start is not cached: the next call may succeed (a driver came back, a device was freed).
        entry.instance = undefined;
        throw error;
      });
  }
  return entry.instance;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Returns the named backend, initialising it on first use. */
export async function getBackend(name: string): Promise<AttentionBackend> {
  checkName(name, 'backend');
  const entry = state().entries.get(name);
  if (!entry) {
    const known =
      listBackends()
        .map((b) => `"${b.name}"`)
        .join(', ') || 'none';
    throw new FaError(
      'E_BACKEND_UNAVAILABLE',
      `Expected a registered backend for \`backend\`, received "${name}" (registered: ${known}).`,
      {
        argument: 'backend',
        expected: `one of ${known}`,
        received: `"${name}"`,
      },
    );
  }
  try {
    return await instantiate(entry);
  } catch (error) {
    throw new FaError('E_BACKEND_UNAVAILABLE', `Backend "${name}" is unavailable: ${reasonOf(error)}`, {
      argument: 'backend',
      cause: error,
    });
  }
}

/**
 * The backend calls use: the one chosen with `setBackend`, else the best registered backend that starts.
 * When none starts, one error lists why each failed.
 */
export async function resolveBackend(name?: string): Promise<AttentionBackend> {
  if (name !== undefined) return getBackend(name);
  const { active } = state();
  if (active !== undefined) return getBackend(active);
  const failures: string[] = [];
  for (const { name: candidate } of listBackends()) {
    const entry = state().entries.get(candidate) as Entry;
    try {
      const backend = await instantiate(entry);
      state().active = candidate;
      return backend;
    } catch (error) {
      failures.push(`- ${candidate}: ${reasonOf(error)}`);
    }
  }
  throw new FaError(
    'E_BACKEND_UNAVAILABLE',
    failures.length === 0
      ? 'No backend is registered. Register one with registerBackend(name, factory).'
      : `No backend could start:\n${failures.join('\n')}`,
    { argument: 'backend' },
  );
}

/** Makes `name` the backend for calls that name none, initialising it now so that failures surface here. */
export async function setBackend(name: string): Promise<AttentionBackend> {
  const backend = await getBackend(name);
  state().active = name;
  return backend;
}

/** The name of the backend in use, or undefined before the first call or `setBackend`. */
export function activeBackendName(): string | undefined {
  return state().active;
}

/** Destroys every started backend and forgets the choice; registrations stay. */
export async function resetBackends(): Promise<void> {
  const s = state();
  s.active = undefined;
  for (const entry of s.entries.values()) {
    const instance = entry.instance;
    entry.instance = undefined;
    if (instance) {
      try {
        await (await instance).destroy?.();
      } catch {
        // A backend that failed to start or to stop holds nothing we could release.
      }
    }
  }
}
