import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly exports?: Record<string, unknown>;
  readonly main?: string;
  readonly types?: string;
  readonly files?: readonly string[];
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly devDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

export interface WorkspacePackage {
  /** Relative to the repository root, with forward slashes. */
  readonly dir: string;
  readonly manifest: Manifest;
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** The `packages:` globs of a pnpm-workspace.yaml; only the `folder/*` form this repository uses is expanded. */
export function workspaceGlobs(yaml: string): string[] {
  const globs = [...yaml.matchAll(/^\s*-\s*['"]?([^'"\s#]+)['"]?\s*$/gm)].map((m) => m[1]!);
  for (const glob of globs) {
    if (!/^[\w.-]+(\/[\w.-]+)*\/\*$/.test(glob)) {
      throw new Error(`pnpm-workspace.yaml: the packaging tests only understand 'folder/*' globs, not '${glob}'`);
    }
  }
  return globs;
}

/** Every workspace package (the root excluded), read from the working tree as pnpm would see it. */
export function workspacePackages(root: string = REPO_ROOT): WorkspacePackage[] {
  const packages: WorkspacePackage[] = [];
  for (const glob of workspaceGlobs(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8'))) {
    const parent = glob.slice(0, -2);
    if (!existsSync(join(root, parent))) continue;
    for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
      const dir = `${parent}/${entry.name}`;
      if (entry.isDirectory() && existsSync(join(root, dir, 'package.json'))) {
        packages.push({ dir, manifest: readManifest(join(root, dir)) });
      }
    }
  }
  return packages.sort((a, b) => a.dir.localeCompare(b.dir));
}

/**
 * The packages we publish: those under packages/ not marked private. Found, not listed, so that a new package
 * is checked from the day it appears.
 */
export function publicPackages(root: string = REPO_ROOT): WorkspacePackage[] {
  return workspacePackages(root).filter((p) => p.dir.startsWith('packages/') && p.manifest.private !== true);
}

/** The subpaths a package exports (`.`, `./cpu`, …), without `./package.json`. */
export function exportedSubpaths(manifest: Manifest): string[] {
  return Object.keys(manifest.exports ?? { '.': null }).filter((s) => s !== './package.json');
}

/** `@fa/flash-attn` + `./cpu` → `@fa/flash-attn/cpu`. */
export function specifierOf(name: string, subpath: string): string {
  return subpath === '.' ? name : `${name}/${subpath.slice(2)}`;
}
