import { listBackends, resolveBackend } from '@fa/flash-attn';

/**
 * Backend choice for the commands. `resolveBackend` with no name picks the best registered backend that starts
 * here (the built-in `cpu` one at least); with a name it starts exactly that one or explains why it cannot.
 */
export async function chooseBackend(name: string | undefined): Promise<{ name: string; available: string[] }> {
  const available = listBackends().map((b) => b.name);
  const backend = await resolveBackend(name);
  return { name: backend.name, available };
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
