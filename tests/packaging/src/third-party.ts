import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execOk, npmEnv } from './exec.js';
import { REPO_ROOT } from './paths.js';
import { readManifest, type WorkspacePackage } from './workspace.js';

/** The folder Node would load `name` from when required by code in `fromDir`, or null. */
function resolvePackageDir(name: string, fromDir: string): string | null {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return null;
  }
}

/**
 * The registry packages the public packages need at run time (their non-workspace `dependencies`, transitively),
 * as installed in the workspace. Packing these copies lets the consumer project install offline exactly as it
 * would from the registry, with versions inside the declared ranges.
 */
export function thirdPartyRuntimeDirs(packages: readonly WorkspacePackage[], workspaceNames: ReadonlySet<string>) {
  const found = new Map<string, string>();
  const visit = (deps: Record<string, string> | undefined, fromDir: string) => {
    for (const name of Object.keys(deps ?? {})) {
      if (workspaceNames.has(name)) continue;
      const dir = resolvePackageDir(name, fromDir);
      if (!dir) throw new Error(`${name} (needed at run time by ${fromDir}) is not installed in the workspace`);
      if (found.has(dir)) continue;
      found.set(dir, name);
      visit(readManifest(dir).dependencies, dir);
    }
  };
  for (const p of packages) visit(p.manifest.dependencies, join(REPO_ROOT, p.dir));
  return [...found.keys()].sort();
}

/** `npm pack`s an installed package folder (outside the workspace's control, so npm rather than pnpm). */
export async function packInstalled(dir: string, dest: string): Promise<string> {
  const { stdout } = await execOk('npm', ['pack', dir, '--pack-destination', dest, '--ignore-scripts', '--json'], {
    cwd: dest,
    env: npmEnv(),
  });
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  return join(dest, filename);
}
