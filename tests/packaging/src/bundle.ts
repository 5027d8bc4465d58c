import { gzipSync } from 'node:zlib';
import { build, type Rolldown } from 'vite';

export interface BundledChunk {
  readonly fileName: string;
  readonly code: string;
  /** The modules bundled into this chunk: absolute paths, or virtual ids such as `__vite-browser-external`. */
  readonly moduleIds: readonly string[];
}

export interface Bundle {
  readonly chunks: readonly BundledChunk[];
  readonly assets: readonly string[];
  /** Every warning the build logged, from the bundler or from Vite's plugins. */
  readonly warnings: readonly string[];
}

/**
 * A production build of a browser app rooted at `root` (Vite's defaults: browser conditions, minified), kept in
 * memory. `input` is an HTML page or a script, relative to `root`.
 */
export async function bundleForBrowser(root: string, input: string): Promise<Bundle> {
  const warnings: string[] = [];
  const result = await build({
    root,
    configFile: false,
    envFile: false,
    logLevel: 'silent',
    build: {
      write: false,
      minify: true,
      reportCompressedSize: false,
      rolldownOptions: {
        input: `${root}/${input}`,
        onLog(level, log) {
          if (level === 'warn') warnings.push(log.message);
        },
      },
    },
  });
  const outputs = (Array.isArray(result) ? result : [result]) as Rolldown.RolldownOutput[];
  const chunks: BundledChunk[] = [];
  const assets: string[] = [];
  for (const item of outputs.flatMap((o) => o.output)) {
    if (item.type === 'chunk') chunks.push({ fileName: item.fileName, code: item.code, moduleIds: item.moduleIds });
    else assets.push(item.fileName);
  }
  return { chunks, assets, warnings };
}

/** The bundled modules that are Node built-ins Vite replaced by empty stubs, and the warnings that say so. */
export function nodeBuiltinLeaks(bundle: Bundle): string[] {
  return [
    ...bundle.chunks.flatMap((c) => c.moduleIds.filter((id) => id.startsWith('__vite-browser-external'))),
    ...bundle.warnings.filter((w) => /externalized for browser compatibility/.test(w)),
  ];
}

export function gzipBytes(code: string): number {
  return gzipSync(code, { level: 9 }).length;
}
