import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, inject, it } from 'vitest';
import { exec } from '../src/exec.js';
import { tarballFiles, tarballManifest } from '../src/pack.js';
import { PACKAGE_DIR } from '../src/paths.js';
import { tarballProblems, workspaceProtocolRanges } from '../src/tarball-rules.js';
import { exportedSubpaths, type Manifest, publicPackages, readManifest } from '../src/workspace.js';

const { tarballs, consumer } = inject('packaging');

describe('the public packages', () => {
  it('are found under packages/ and all packed', () => {
    const names = publicPackages().map((p) => p.manifest.name);
    expect(names).toEqual(expect.arrayContaining(['@fa/core', '@fa/seqpack', '@fa/flash-attn', '@fa/webgpu']));
    expect(tarballs.map((t) => t.name).sort()).toEqual([...names].sort());
  });

  it('are each a dependency of this package, so that turbo builds them before this test', () => {
    const own = readManifest(PACKAGE_DIR);
    const missing = tarballs.map((t) => t.name).filter((name) => !own.devDependencies?.[name]);
    expect(missing, 'add them to tests/packaging/package.json as "workspace:^" devDependencies').toEqual([]);
  });
});

describe.each(tarballs.map((t) => [t.name, t] as const))('%s tarball', (_name, tarball) => {
  it('holds the build, its sources and nothing else (no tests, no stale output)', async () => {
    const files = await tarballFiles(tarball.file);
    const manifest = await tarballManifest(tarball.file);
    expect(tarballProblems(manifest, files)).toEqual([]);
  });

  it('was installed with no workspace: protocol left in its manifest', () => {
    const installed = JSON.parse(
      readFileSync(join(consumer, 'node_modules', tarball.name, 'package.json'), 'utf8'),
    ) as Manifest;
    expect(installed.name).toBe(tarball.name);
    expect(workspaceProtocolRanges(installed)).toEqual([]);
  });

  it('passes publint --strict', async () => {
    const bytes = readFileSync(tarball.file);
    const { messages, pkg } = await publint({
      pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
      strict: true,
    });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)).toEqual([]);
  });

  // ESM only, on purpose (docs/packaging.md): the esm-only profile leaves out two resolution modes. `node10`
  // (moduleResolution "node") ignores `exports`, so cannot see subpaths; `node16` from CommonJS is TypeScript's
  // model of a require() of an ES module, which it reports as "dynamic import only" even where Node 20.19+
  // allows it. Every ESM and bundler resolution must be clean.
  it('has types that resolve for ESM and bundlers (attw --profile esm-only)', async () => {
    const result = await exec(
      join(PACKAGE_DIR, 'node_modules/.bin/attw'),
      [tarball.file, '--profile', 'esm-only', '--format', 'json'],
      { cwd: PACKAGE_DIR },
    );
    expect(
      result.stdout.trimStart().startsWith('{'),
      `attw printed no report:\n${result.stdout}\n${result.stderr}`,
    ).toBe(true);
    const report = JSON.parse(result.stdout) as {
      analysis: {
        entrypoints: Record<string, unknown>;
        problems: Record<string, { kind: string; entrypoint?: string; resolutionKind?: string }[]>;
      };
    };
    const manifest = await tarballManifest(tarball.file);
    const problems = Object.values(report.analysis?.problems ?? {})
      .flat()
      .filter((p) => p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs');
    expect(problems).toEqual([]);
    expect(
      Object.keys(report.analysis?.entrypoints ?? {})
        .filter((e) => e !== './package.json')
        .sort(),
    ).toEqual(exportedSubpaths(manifest).sort());
    expect(result.code, result.stderr).toBe(0);
  });
});
