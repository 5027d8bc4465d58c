/**
 * Node built-ins, imported only when running in Node and through a specifier bundlers do not follow, so that
 * this package stays importable in a browser. Resolves to null elsewhere.
 */
export async function importNodeBuiltin<T>(name: 'node:os' | 'node:worker_threads'): Promise<T | null> {
  const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';
  if (!isNode) return null;
  try {
    const specifier: string = name;
    return (await import(/* @vite-ignore */ specifier)) as T;
  } catch {
    return null;
  }
}

/** The number of threads `'auto'` means here: the cores Node reports, or 1 outside Node. */
export async function availableThreads(): Promise<number> {
  const os = await importNodeBuiltin<typeof import('node:os')>('node:os');
  if (!os) return 1;
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}
