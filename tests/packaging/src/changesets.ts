import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';
import { workspacePackages } from './workspace.js';

export type Bump = 'patch' | 'minor' | 'major';

export interface Changeset {
  readonly file: string;
  readonly releases: ReadonlyMap<string, Bump>;
  readonly summary: string;
}

/** The pending changesets of a `.changeset` folder, from their front matter. */
export function readChangesets(dir: string): Changeset[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n([\s\S]*)$/.exec(text);
      if (!match) throw new Error(`.changeset/${file} has no front matter`);
      const releases = new Map<string, Bump>();
      for (const line of match[1]!.split(/\r?\n/).filter((l) => l.trim() !== '')) {
        const release = /^\s*["']?([^"':]+)["']?\s*:\s*(patch|minor|major)\s*$/.exec(line);
        if (!release) throw new Error(`.changeset/${file}: cannot read "${line}"`);
        releases.set(release[1]!, release[2] as Bump);
      }
      return { file, releases, summary: match[2]!.trim() };
    });
}

const ORDER: readonly Bump[] = ['patch', 'minor', 'major'];

/** The largest bump each package gets from a set of changesets. */
export function bumpsOf(changesets: readonly Changeset[]): Map<string, Bump> {
  const bumps = new Map<string, Bump>();
  for (const changeset of changesets) {
    for (const [name, bump] of changeset.releases) {
      const current = bumps.get(name);
      if (!current || ORDER.indexOf(bump) > ORDER.indexOf(current)) bumps.set(name, bump);
    }
  }
  return bumps;
}

/** Semver increment of a plain x.y.z version. */
export function bumpVersion(version: string, bump: Bump): string {
  const parts = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!parts) throw new Error(`cannot bump ${version}`);
  const [major, minor, patch] = parts.slice(1).map(Number) as [number, number, number];
  if (bump === 'major') return `${major + 1}.0.0`;
  if (bump === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

/**
 * What `changeset version` reads and writes, copied from the working tree into `dest`: the root manifest and
 * workspace file, `.changeset/`, and each workspace package's package.json and CHANGELOG.md. `node_modules` is
 * linked, since changesets loads its changelog generator from there. The real tree is never touched.
 */
export function copyForVersioning(dest: string): void {
  mkdirSync(dest, { recursive: true });
  for (const file of ['package.json', 'pnpm-workspace.yaml']) copyFileSync(join(REPO_ROOT, file), join(dest, file));
  cpSync(join(REPO_ROOT, '.changeset'), join(dest, '.changeset'), { recursive: true });
  for (const { dir } of workspacePackages()) {
    mkdirSync(join(dest, dir), { recursive: true });
    copyFileSync(join(REPO_ROOT, dir, 'package.json'), join(dest, dir, 'package.json'));
    if (existsSync(join(REPO_ROOT, dir, 'CHANGELOG.md'))) {
      copyFileSync(join(REPO_ROOT, dir, 'CHANGELOG.md'), join(dest, dir, 'CHANGELOG.md'));
    }
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dest, 'node_modules'), 'dir');
  writeFileSync(join(dest, '.gitignore'), 'node_modules\n');
}
