import { afterEach, describe, expect, it } from 'vitest';
import type { AttentionBackend } from './backend.js';
import { FaError } from './errors.js';
import {
  activeBackendName,
  getBackend,
  listBackends,
  registerBackend,
  resetBackends,
  resolveBackend,
  setBackend,
  unregisterBackend,
} from './registry.js';

function fakeBackend(name: string, onDestroy?: () => void): AttentionBackend {
  const fail = () => Promise.reject(new Error('not a real backend'));
  return {
    name,
    capabilities: { dtypes: ['f32'], maxHeadDim: 256, backward: true, dropout: true, deterministic: true },
    upload: (t) => t,
    download: fail,
    dispose: () => undefined,
    forward: fail,
    backward: fail,
    destroy: onDestroy,
  };
}

describe('backend registry', () => {
  afterEach(async () => {
    await resetBackends();
    for (const { name } of listBackends()) unregisterBackend(name);
  });

  it('is lazy: registering and listing never run a factory', () => {
    let started = 0;
    registerBackend(
      'lazy-a',
      () => {
        started++;
        return fakeBackend('lazy-a');
      },
      { priority: 3 },
    );
    registerBackend('lazy-b', () => fakeBackend('lazy-b'), { priority: 9 });
    expect(
      listBackends()
        .map((b) => b.name)
        .slice(0, 2),
    ).toEqual(['lazy-b', 'lazy-a']);
    expect(started).toBe(0);
  });

  it('picks the best backend that starts and lists why the others failed when none does', async () => {
    registerBackend(
      'broken-gpu',
      () => {
        throw new Error('no adapter');
      },
      { priority: 100 },
    );
    registerBackend('working', () => fakeBackend('working'), { priority: 50 });
    expect((await resolveBackend()).name).toBe('working');
    expect(activeBackendName()).toBe('working');

    await resetBackends();
    registerBackend('working', () => Promise.reject(new Error('driver gone')), { priority: 50 });
    const error = await resolveBackend().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FaError);
    expect((error as FaError).code).toBe('E_BACKEND_UNAVAILABLE');
    expect((error as FaError).message).toContain('broken-gpu: no adapter');
    expect((error as FaError).message).toContain('working: driver gone');
  });

  it('retries a backend whose start failed, and caches one that started', async () => {
    let attempts = 0;
    registerBackend('flaky', () => {
      attempts++;
      if (attempts === 1) throw new Error('busy');
      return fakeBackend('flaky');
    });
    await expect(getBackend('flaky')).rejects.toMatchObject({ code: 'E_BACKEND_UNAVAILABLE' });
    const first = await getBackend('flaky');
    expect(await getBackend('flaky')).toBe(first);
    expect(attempts).toBe(2);
  });

  it('names unknown backends and bad registrations', async () => {
    await expect(setBackend('nope')).rejects.toMatchObject({ code: 'E_BACKEND_UNAVAILABLE', argument: 'backend' });
    expect(() => registerBackend('Bad Name', () => fakeBackend('x'))).toThrow(/`name`/);
    expect(() => registerBackend('ok', 42 as never)).toThrow(/`factory`/);
  });

  it('destroys started backends on reset', async () => {
    let destroyed = 0;
    registerBackend('disposable', () => fakeBackend('disposable', () => void destroyed++));
    await setBackend('disposable');
    await resetBackends();
    expect(destroyed).toBe(1);
    expect(activeBackendName()).toBeUndefined();
  });
});
