import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module shared with the generator, typed by its use here.
import { ENTRY_POINTS as ENTRIES } from '../scripts/api-entry-points.mjs';

/**
 * The API reference (scripts/api-reference.mjs, typedoc) documents every export of every public entry point: the
 * list of names comes from the TypeScript checker, independently of typedoc, and each must be a heading of its
 * entry point's page, in the generated Markdown and in the built site.
 */

interface EntryPoint {
  readonly specifier: string;
  readonly source: string;
  readonly slug: string;
}

const ENTRY_POINTS = ENTRIES as readonly EntryPoint[];
const APP = fileURLToPath(new URL('../', import.meta.url));
const ROOT = resolve(APP, '../..');

function exportedNames(): Map<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(resolve(APP, 'tsconfig.api.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!config) throw new Error('cannot read tsconfig.api.json');
  const program = ts.createProgram(config.fileNames, config.options);
  const checker = program.getTypeChecker();
  const names = new Map<string, string[]>();
  for (const entry of ENTRY_POINTS) {
    const file = program.getSourceFile(resolve(ROOT, entry.source));
    const symbol = file && checker.getSymbolAtLocation(file);
    if (!symbol) throw new Error(`${entry.source} is not a module`);
    names.set(
      entry.specifier,
      checker
        .getExportsOfModule(symbol)
        .map((s) => s.getName())
        .sort(),
    );
  }
  return names;
}

/** The headings of a Markdown page, unescaped (`BASELINE\_LIMITS`), without a function's trailing `()`. */
function headings(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{2,6} (.+)$/gm)].map((m) => m[1]!.replace(/\\(.)/g, '$1').replace(/\(\)$/, '').trim()),
  );
}

describe('API reference', () => {
  let exports: Map<string, string[]>;

  beforeAll(() => {
    // turbo builds the site (which generates the reference) before this task; a bare `vitest run` generates it.
    if (!ENTRY_POINTS.every((e) => existsSync(resolve(APP, 'api-reference', `${e.slug}.md`)))) {
      execFileSync('node', ['scripts/api-reference.mjs'], { cwd: APP, stdio: 'inherit' });
    }
    exports = exportedNames();
  }, 120_000);

  it('covers every public entry point listed in the packages’ exports maps', () => {
    const listed: string[] = [];
    for (const pkg of ['core', 'seqpack', 'flash-attn', 'webgpu', 'autograd']) {
      const manifest = JSON.parse(readFileSync(resolve(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as {
        name: string;
        exports: Record<string, { '@fa/source'?: string } | string>;
      };
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        if (typeof target === 'string') continue; // ./package.json
        listed.push(`${manifest.name}${subpath === '.' ? '' : subpath.slice(1)}`);
      }
    }
    expect(ENTRY_POINTS.map((e) => e.specifier).sort()).toEqual(listed.sort());
  });

  it.each(ENTRY_POINTS.map((e) => [e.specifier, e] as const))('%s: every export is on its page', (_, entry) => {
    const names = exports.get(entry.specifier)!;
    expect(names.length).toBeGreaterThan(0);
    const markdown = readFileSync(resolve(APP, 'api-reference', `${entry.slug}.md`), 'utf8');
    expect(markdown.startsWith(`# ${entry.specifier}\n`)).toBe(true);
    const documented = headings(markdown);
    expect(names.filter((name) => !documented.has(name))).toEqual([]);

    const html = resolve(APP, 'dist', 'api', entry.slug, 'index.html');
    if (existsSync(html)) {
      const page = readFileSync(html, 'utf8');
      const rendered = new Set([...page.matchAll(/<h[2-6] id="[^"]*">([^<]+)<\/h[2-6]>/g)].map((m) => m[1]!));
      expect(names.filter((name) => !rendered.has(name) && !rendered.has(`${name}()`))).toEqual([]);
    }
  });
});
