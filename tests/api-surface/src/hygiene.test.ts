import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

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
