import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bumpsOf, bumpVersion, type Changeset, copyForVersioning, readChangesets } from '../src/changesets.js';
import { type ExecResult, exec } from '../src/exec.js';
import { PACKAGE_DIR, REPO_ROOT } from '../src/paths.js';
import { publicPackages, readManifest, workspacePackages } from '../src/workspace.js';

/** `changeset version` on a copy of the release-relevant files, as the release flow runs it. */
describe('changeset version', () => {
  const work = mkdtempSync(join(tmpdir(), 'fa-changesets-'));
  const copy = join(work, 'repo');
  const before = new Map(workspacePackages().map((p) => [p.dir, p.manifest]));
  let changesets: Changeset[];
  let run: ExecResult;

  beforeAll(async () => {
    changesets = readChangesets(join(REPO_ROOT, '.changeset'));
    copyForVersioning(copy);
    run = await exec(join(PACKAGE_DIR, 'node_modules/.bin/changeset'), ['version'], { cwd: copy });
  });
  afterAll(() => {
    if (!process.env.FA_PACKAGING_KEEP) rmSync(work, { recursive: true, force: true });
  });

  it('runs clean and consumes every changeset', () => {
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stderr).not.toMatch(/error/i);
    expect(readdirSync(join(copy, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')).toEqual([]);
  });

  it('names only public packages in changesets', () => {
    const names = new Set(publicPackages().map((p) => p.manifest.name));
    expect([...bumpsOf(changesets).keys()].filter((name) => !names.has(name))).toEqual([]);
  });

  it('gives each package named in a changeset the bump asked for, and a changelog entry', () => {
    for (const [name, bump] of bumpsOf(changesets)) {
      const pkg = publicPackages().find((p) => p.manifest.name === name)!;
      const version = readManifest(join(copy, pkg.dir)).version;
      expect(version, name).toBe(bumpVersion(pkg.manifest.version, bump));
      const changelog = readFileSync(join(copy, pkg.dir, 'CHANGELOG.md'), 'utf8');
      expect(changelog, name).toContain(`## ${version}`);
      for (const changeset of changesets.filter((c) => c.releases.has(name))) {
        expect(changelog, `${name}: ${changeset.file}`).toContain(changeset.summary.split('\n')[0]!.slice(0, 60));
      }
    }
  });

  // A package never released (0.0.0) left out of every changeset would be published as 0.0.0, or not at all.
  it('versions every unreleased public package, and none leaves 0.x for 1.0.0 (peer dependents included)', () => {
    for (const pkg of publicPackages()) {
      const old = pkg.manifest.version;
      const version = readManifest(join(copy, pkg.dir)).version;
      if (old === '0.0.0') expect(version, `${pkg.manifest.name}: add a changeset for it`).not.toBe(old);
      if (old.startsWith('0.')) expect(version, pkg.manifest.name).toMatch(/^0\./);
      if (version !== old) expect(existsSync(join(copy, pkg.dir, 'CHANGELOG.md')), pkg.manifest.name).toBe(true);
    }
  });

  it('leaves private packages alone', () => {
    for (const [dir, manifest] of before) {
      if (manifest.private) expect(readManifest(join(copy, dir)).version, manifest.name).toBe(manifest.version);
    }
  });
});
