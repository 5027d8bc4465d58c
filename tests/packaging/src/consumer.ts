import { cpSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execOk, npmEnv } from './exec.js';
import { FIXTURES_DIR, REPO_ROOT } from './paths.js';

/**
 * A fresh project that installs the tarballs, as a user would after `npm install @fa/...`, but offline: every
 * @fa dependency is satisfied by a tarball and the optional peers (`webgpu`, `@tensorflow/tfjs-core`) are not
 * installed, so npm needs nothing from a registry or a cache; an empty cache proves it.
 */
export async function installConsumer(dir: string, tarballs: readonly string[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'fa-packaging-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  cpSync(join(FIXTURES_DIR, 'consumer'), dir, { recursive: true });
  await execOk(
    'npm',
    [
      'install',
      '--offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--no-package-lock',
      '--cache',
      join(dir, '.npm-cache'),
      ...tarballs,
    ],
    { cwd: dir, env: npmEnv() },
  );
}

/**
 * Makes an optional peer available to the consumer, as an app that wants it would install it: a link to the copy
 * the workspace installed for the package that declares the peer (no registry needed).
 */
export function linkPeer(consumer: string, peer: string, fromPackageDir: string): void {
  const installed = realpathSync(join(REPO_ROOT, fromPackageDir, 'node_modules', peer));
  const link = join(consumer, 'node_modules', peer);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(installed, link, 'dir');
}

export type ImportResult =
  | { readonly ok: true; readonly exports: readonly string[] }
  | { readonly ok: false; readonly code: string | null; readonly message: string };

/** Runs one of the fixture scripts copied into the consumer project and parses the JSON it prints. */
export async function runConsumerScript<T>(consumer: string, script: string, args: readonly string[] = []): Promise<T> {
  const { stdout } = await execOk(process.execPath, [script, ...args], { cwd: consumer });
  return JSON.parse(stdout) as T;
}
