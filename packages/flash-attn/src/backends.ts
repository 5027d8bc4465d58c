import {
  type AttentionBackend,
  type BackendRegistration,
  getBackend as coreGetBackend,
  listBackends as coreListBackends,
  resolveBackend as coreResolveBackend,
  setBackend as coreSetBackend,
  registerBackend,
} from '@fa/core';

/**
 * The façade ships the `cpu` backend. It is registered on first use rather than at import, so that importing the
 * package has no side effects and bundlers may drop what an app does not call.
 */
let builtinsRegistered = false;

function ensureBuiltinBackends(): void {
  if (builtinsRegistered) return;
  builtinsRegistered = true;
  if (!coreListBackends().some((b) => b.name === 'cpu')) {
    registerBackend('cpu', async () => (await import('./cpu/index.js')).createCpuBackend(), { priority: 0 });
  }
}

export function listBackends(): BackendRegistration[] {
  ensureBuiltinBackends();
  return coreListBackends();
}

export function getBackend(name: string): Promise<AttentionBackend> {
  ensureBuiltinBackends();
  return coreGetBackend(name);
}

export function setBackend(name: string): Promise<AttentionBackend> {
  ensureBuiltinBackends();
  return coreSetBackend(name);
}

export function resolveBackend(name?: string): Promise<AttentionBackend> {
  ensureBuiltinBackends();
  return coreResolveBackend(name);
}
