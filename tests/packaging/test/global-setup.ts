import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type ImportResult, installConsumer, linkPeer, runConsumerScript } from '../src/consumer.js';
import type { PackagingContext } from '../src/context.js';
import { pack } from '../src/pack.js';
import { REPO_ROOT } from '../src/paths.js';
import { packInstalled, thirdPartyRuntimeDirs } from '../src/third-party.js';
import { exportedSubpaths, publicPackages, specifierOf, workspacePackages } from '../src/workspace.js';

/**
 * Packs every public package and installs the tarballs into one project outside the workspace, once for all test
 * files; registry packages they depend on are packed from the workspace's install, so that npm runs offline. It also records the imports made before the optional peers are added, since the test files share the
 * project and may run in any order.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const work = mkdtempSync(join(tmpdir(), 'fa-packaging-'));
  const cleanUp = () => {
    if (!process.env.FA_PACKAGING_KEEP) rmSync(work, { recursive: true, force: true });
  };
  try {
    project.provide('packaging', await prepare(work));
  } catch (error) {
    cleanUp();
    throw error;
  }
  return cleanUp;
}

async function prepare(work: string): Promise<PackagingContext> {
  const packages = publicPackages();
  const tarballDir = join(work, 'tarballs');
  mkdirSync(tarballDir);
  const tarballs = await Promise.all(packages.map((p) => pack(p, tarballDir)));
  const thirdPartyDir = join(work, 'third-party');
  mkdirSync(thirdPartyDir);
  const workspaceNames = new Set(workspacePackages().map((p) => p.manifest.name));
  const thirdParty = await Promise.all(
    thirdPartyRuntimeDirs(packages, workspaceNames).map((dir) => packInstalled(dir, thirdPartyDir)),
  );

  const consumer = join(work, 'consumer');
  await installConsumer(consumer, [...tarballs.map((t) => t.file), ...thirdParty]);
  const specifiers = packages.flatMap((p) => exportedSubpaths(p.manifest).map((s) => specifierOf(p.manifest.name, s)));
  const importsWithoutPeers = await runConsumerScript<Record<string, ImportResult>>(
    consumer,
    'import-all.mjs',
    specifiers,
  );

  const linkedPeers: { peer: string; declaredBy: string }[] = [];
  for (const p of packages) {
    for (const [peer, meta] of Object.entries(p.manifest.peerDependenciesMeta ?? {})) {
      const installedForWorkspace = join(REPO_ROOT, p.dir, 'node_modules', peer);
      if (meta.optional && existsSync(installedForWorkspace) && !existsSync(join(consumer, 'node_modules', peer))) {
        linkPeer(consumer, peer, p.dir);
        linkedPeers.push({ peer, declaredBy: p.dir });
      }
    }
  }

  return { work, consumer, tarballs, importsWithoutPeers, linkedPeers };
}
