import { listBackends, resolveBackend } from '@fa/flash-attn';

/**
 * Backend choice for the commands. `resolveBackend` with no name picks the best registered backend that starts
 * here (the built-in `cpu` one at least); with a name it starts exactly that one or explains why it cannot.
 */
export async function chooseBackend(
  name: string | undefined,
): Promise<{ name: string; available: string[]; runtime: string }> {
  const available = listBackends().map((b) => b.name);
  const backend = await resolveBackend(name);
  return { name: backend.name, available, runtime: describeRuntime(backend) };
}

/**
 * The JavaScript runtime and, where the backend says, the kernels it chose: what differs between two runs of the
 * same command on two Node majors (relaxed SIMD appears in Node 22), so every report names it.
 */
export function describeRuntime(backend: object): string {
  const runtime = typeof process === 'object' && process.versions?.node ? `Node ${process.version}` : 'a browser';
  const { kernels, features } = backend as { kernels?: unknown; features?: Record<string, unknown> };
  if (typeof kernels !== 'string') return runtime;
  const offered =
    features && typeof features === 'object'
      ? Object.entries(features)
          .filter(([, on]) => on === true)
          .map(([feature]) => feature)
      : [];
  return `${kernels} kernels on ${runtime}${offered.length ? ` (it offers ${offered.join(', ')})` : ''}`;
}

/** Every registered backend that starts here, best first, with the reasons of those that do not. */
export async function availableBackends(): Promise<{
  usable: string[];
  unavailable: { name: string; reason: string }[];
}> {
  const usable: string[] = [];
  const unavailable: { name: string; reason: string }[] = [];
  for (const { name } of listBackends()) {
    try {
      await resolveBackend(name);
      usable.push(name);
    } catch (error) {
      unavailable.push({ name, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return { usable, unavailable };
}
