import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findCycles, formatCycle, importGraph, sourceFiles } from './import-graph.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Library sources of every package: what users run. Tests and generated WASM glue are not shipped code. */
function librarySources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'node_modules' && name !== 'dist' && name !== 'build') walk(path);
      } else if (/\.(ts|js|mjs|cjs)$/.test(name) && !/\.test\.ts$/.test(name)) files.push(path);
    }
  };
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const src = join(root, 'packages', pkg, 'src');
    if (statSync(join(root, 'packages', pkg)).isDirectory() && existsDir(src)) walk(src);
  }
  return files;
}

function existsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Code-from-strings: none of it may exist in the library, so no user value can ever become code. */
const FORBIDDEN: ReadonlyArray<readonly [RegExp, string]> = [
  [/\beval\s*\(/, 'eval('],
  [/\bnew\s+Function\s*\(/, 'new Function('],
  [/(^|[^.\w])Function\s*\(/, 'Function('],
  [/\bset(Timeout|Interval)\s*\(\s*['"`]/, 'a timer with a string body'],
  [/\bimport\s*\(\s*[^'"`\s)]/, 'import() of a computed specifier'],
];

/**
 * Dynamic imports whose specifier is a variable only to hide a Node-only module from bundlers. Each variable holds
 * a constant (or a parameter typed as a union of literals), never a user value.
 */
const HIDDEN_FROM_BUNDLERS: Readonly<Record<string, string>> = {
  'packages/flash-attn/src/cpu/node-builtins.ts': "name: 'node:os' | 'node:worker_threads'",
  'packages/webgpu/src/gpu/device.ts': "const specifier = 'webgpu';",
};

describe('security hygiene', () => {
  const files = librarySources();

  it('scans the library sources of every package', () => {
    const packages = new Set(files.map((f) => relative(join(root, 'packages'), f).split('/')[0]));
    expect([...packages].sort()).toEqual(
      expect.arrayContaining(['autograd', 'core', 'flash-attn', 'seqpack', 'webgpu']),
    );
  });

  it('never turns a string into code (eval, Function, string timers, computed dynamic imports)', () => {
    const found: string[] = [];
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        for (const [pattern, what] of FORBIDDEN) {
          const allowed = what.startsWith('import()') && HIDDEN_FROM_BUNDLERS[relative(root, file)] !== undefined;
          if (pattern.test(code) && !allowed) found.push(`${relative(root, file)}:${i + 1}: ${what}`);
        }
      });
    }
    expect(found).toEqual([]);
  });

  it('hides Node-only modules from bundlers with constant specifiers only', () => {
    for (const [file, constant] of Object.entries(HIDDEN_FROM_BUNDLERS)) {
      expect(readFileSync(join(root, file), 'utf8'), file).toContain(constant);
    }
  });
});

/** Every package's TypeScript: its library sources and tests, its scripts, its other test folders. */
function packageFiles(): string[] {
  return readdirSync(join(root, 'packages'))
    .filter((pkg) => existsDir(join(root, 'packages', pkg)))
    .flatMap((pkg) => ['src', 'scripts', 'test'].flatMap((dir) => sourceFiles(join(root, 'packages', pkg, dir))));
}

/** The backends, each by the folder that holds all of its code. */
const BACKENDS: Readonly<Record<string, string>> = {
  cpu: 'packages/flash-attn/src/cpu/',
  webgpu: 'packages/webgpu/',
  cuda: 'packages/cuda/',
};

describe('module structure', () => {
  const files = packageFiles();
  const graph = importGraph(files, root);
  const rel = (file: string) => relative(root, file);
  const packageOf = (file: string) => rel(file).split('/').slice(0, 2).join('/');
  const backendOf = (file: string) => Object.keys(BACKENDS).find((name) => rel(file).startsWith(BACKENDS[name]!));

  it('reads the imports of every package, type-only and dynamic ones included', () => {
    const kinds = new Set([...graph.values()].flat().map((edge) => edge.kind));
    expect([...kinds].sort()).toEqual(['dynamic', 'static', 'type']);
    expect(files.map(packageOf)).toEqual(expect.arrayContaining(['packages/core', 'packages/cuda', 'packages/webgpu']));
  });

  it('finds a cycle where there is one (the check bites)', () => {
    const edges = (...to: string[]) => to.map((t) => ({ to: t }));
    const cycles = findCycles(
      new Map([
        ['a', edges('b')],
        ['b', edges('c', 'd')],
        ['c', edges('a')],
        ['d', edges()],
        ['e', edges('e')],
      ]),
    );
    expect(cycles).toEqual([
      ['a', 'b', 'c', 'a'],
      ['e', 'e'],
    ]);
  });

  it('has no import cycle, not even through type-only or dynamic imports, within or across packages', () => {
    // A cycle makes load order matter (a class read before its module has run is undefined) and hides which
    // module owns a type; a type-only one is the same tangle waiting for its first value import.
    expect(findCycles(graph).map((cycle) => formatCycle(cycle, root))).toEqual([]);
  });

  it("reaches another package only through its name, and no backend's code or scripts import another backend", () => {
    const found: string[] = [];
    for (const [file, edges] of graph) {
      for (const { to, specifier, line } of edges) {
        if (specifier.startsWith('.') && rel(to).startsWith('packages/') && packageOf(to) !== packageOf(file)) {
          found.push(`${rel(file)}:${line}: ${specifier} reaches into ${packageOf(to)} by path`);
        }
        // Tests may run a second backend as a witness (the same tensors on cpu and webgpu); library code and
        // scripts may not, so that each backend builds, loads and ships without the others.
        const [from, into] = [backendOf(file), backendOf(to)];
        if (!/\.test\.ts$/.test(file) && from && into && from !== into) {
          found.push(`${rel(file)}:${line}: the ${from} backend imports the ${into} backend (${specifier})`);
        }
      }
    }
    expect(found).toEqual([]);
  });
});
