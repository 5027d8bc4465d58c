import { createReferenceBackend } from '@fa/autograd';
import { getBackend, listBackends, registerBackend } from '@fa/flash-attn';

/** The backends `--backend` accepts. Only the name changes between them; the model and the loop do not. */
export const BACKENDS = ['cpu', 'webgpu', 'cuda', 'reference'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Where a GPU backend comes from: a package that registers it with the shared registry when asked. */
const PLUGINS: Partial<Record<BackendName, { readonly module: string; readonly register: string }>> = {
  webgpu: { module: '@fa/webgpu', register: 'registerWebGpuBackend' },
  cuda: { module: '@fa/cuda', register: 'registerCudaBackend' },
};

export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Makes `name` usable by the attention op and starts it, so that a missing driver fails here with one clear
 * message rather than in the middle of a step.
 * - `cpu` is built into `@fa/flash-attn`.
 * - `reference` is `@fa/core`'s float64 reference behind the backend interface (`createReferenceBackend`).
 * - `webgpu` and `cuda` are loaded with a dynamic import of their package, which must export a
 *   `register…Backend()` function that registers the backend under that name.
 */
export async function prepareBackend(name: BackendName): Promise<void> {
  if (name === 'reference' && !listBackends().some((b) => b.name === 'reference')) {
    registerBackend('reference', () => createReferenceBackend('reference'), { priority: -10 });
  }
  const plugin = PLUGINS[name];
  if (plugin && !listBackends().some((b) => b.name === name)) {
    let module: Record<string, unknown>;
    try {
      // A variable specifier: the package is optional, and may not be installed at all.
      const specifier: string = plugin.module;
      module = (await import(specifier)) as Record<string, unknown>;
    } catch (error) {
      throw new BackendUnavailableError(
        `Backend "${name}" is unavailable: ${plugin.module} could not be loaded (${reasonOf(error)}). ` +
          `Install it next to @fa/train-demo, or run with --backend cpu.`,
      );
    }
    const register = module[plugin.register];
    if (typeof register !== 'function') {
      throw new BackendUnavailableError(
        `Backend "${name}" is unavailable: ${plugin.module} does not export ${plugin.register}() yet.`,
      );
    }
    await register();
  }
  try {
    await getBackend(name);
  } catch (error) {
    throw new BackendUnavailableError(reasonOf(error));
  }
}
