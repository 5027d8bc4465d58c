import { join } from 'node:path';
import { exec, execOk } from './exec.js';
import { REPO_ROOT } from './paths.js';
import type { Manifest, WorkspacePackage } from './workspace.js';

export interface Tarball {
  readonly name: string;
  /** The package's folder, relative to the repository root. */
  readonly dir: string;
  /** Absolute path of the .tgz. */
  readonly file: string;
}

/** `pnpm pack`s one package into `dest`; pnpm rewrites `workspace:` ranges as `pnpm publish` would. */
export async function pack(pkg: WorkspacePackage, dest: string): Promise<Tarball> {
  const { stdout } = await execOk('pnpm', ['pack', '--json', '--pack-destination', dest], {
    cwd: join(REPO_ROOT, pkg.dir),
  });
  const { filename } = JSON.parse(stdout) as { filename: string };
  return { name: pkg.manifest.name, dir: pkg.dir, file: filename };
}

/** The paths inside a tarball, relative to its `package/` folder, read from the archive itself. */
export async function tarballFiles(file: string): Promise<string[]> {
  const { stdout } = await execOk('tar', ['-tzf', file], { cwd: REPO_ROOT });
  return stdout
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''))
    .sort();
}

/** The package.json as published. */
export async function tarballManifest(file: string): Promise<Manifest> {
  const result = await exec('tar', ['-xzOf', file, 'package/package.json'], { cwd: REPO_ROOT });
  if (result.code !== 0) throw new Error(`${file} has no package/package.json: ${result.stderr}`);
  return JSON.parse(result.stdout) as Manifest;
}
