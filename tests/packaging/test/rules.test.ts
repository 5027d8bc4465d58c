import { describe, expect, it } from 'vitest';
import { bumpVersion } from '../src/changesets.js';
import { tarballProblems, workspaceProtocolRanges } from '../src/tarball-rules.js';
import type { Manifest } from '../src/workspace.js';

/** The checks on synthetic input, so that each is seen to fail on what it is meant to catch. */
const manifest: Manifest = {
  name: '@fa/example',
  version: '0.0.0',
  files: ['dist', 'src', '!src/**/*.test.ts', 'csrc'],
  exports: {
    '.': { '@fa/source': './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' },
    './package.json': './package.json',
  },
};
const good = ['README.md', 'csrc/kernel.cu', 'dist/index.d.ts', 'dist/index.js', 'dist/index.js.map', 'package.json'];

describe('tarball rules', () => {
  it('accept the build, its sources and what `files` asks for', () => {
    expect(tarballProblems(manifest, [...good, 'src/index.ts'])).toEqual([]);
  });

  it('catch tests, test helpers, tooling, stale output and missing export targets', () => {
    const problems = tarballProblems(manifest, [
      ...good.filter((f) => f !== 'dist/index.js'),
      'src/index.ts',
      'src/a.test.ts',
      'src/cpu/test-fixtures.ts',
      'dist/gone.js',
      'tsconfig.build.json',
    ]);
    expect(problems).toEqual([
      'src/a.test.ts is a test file',
      'src/cpu/test-fixtures.ts is a test helper',
      'dist/gone.js has no source src/gone.ts in the tarball (stale build?)',
      'tsconfig.build.json: no "files" entry asks for it',
      'tsconfig.build.json is tooling config',
      'dist/index.js is exported but not in the tarball',
    ]);
  });

  it('catch an unbuilt package', () => {
    expect(tarballProblems(manifest, ['package.json', 'src/index.ts'])).toContain('no dist/*.js: not built?');
  });

  it('find workspace: ranges left in a manifest', () => {
    const leaked = { ...manifest, peerDependencies: { '@fa/core': 'workspace:>=0.0.0 <1.0.0', webgpu: '>=0.6.2' } };
    expect(workspaceProtocolRanges(leaked)).toEqual(['peerDependencies.@fa/core: workspace:>=0.0.0 <1.0.0']);
  });
});

describe('bumpVersion', () => {
  it('follows semver, 0.x included', () => {
    expect(['patch', 'minor', 'major'].map((b) => bumpVersion('0.0.0', b as 'patch'))).toEqual([
      '0.0.1',
      '0.1.0',
      '1.0.0',
    ]);
    expect(bumpVersion('1.2.3', 'minor')).toBe('1.3.0');
  });
});
