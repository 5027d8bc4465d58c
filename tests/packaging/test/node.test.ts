import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type ImportResult, runConsumerScript } from '../src/consumer.js';
import { declaredValueExports } from '../src/declared-exports.js';
import { exportedSubpaths, type Manifest, specifierOf } from '../src/workspace.js';

const { consumer, tarballs, importsWithoutPeers, linkedPeers } = inject('packaging');

/** A few names per entry point that users call, in case a declaration file and its module both lost one. */
const KNOWN_EXPORTS: Record<string, readonly string[]> = {
  '@fa/core': ['FaError', 'referenceAttnForward', 'registerBackend', 'createReferenceBackend'],
  '@fa/seqpack': ['cuSeqlensFromLengths', 'unpadInput', 'padInput', 'packDocuments', 'tileMap'],
  '@fa/flash-attn': ['flashAttnVarlen', 'flashAttnVarlenBackward', 'flashAttn', 'setBackend', 'tensor'],
  '@fa/flash-attn/cpu': ['createCpuBackend', 'attnForwardSync', 'attnBackwardSync'],
  '@fa/webgpu': ['registerWebGpuBackend'],
  '@fa/autograd': ['gradcheck', 'AdamW'],
  '@fa/autograd/tfjs': ['tfAttention'],
};

interface Entry {
  readonly specifier: string;
  readonly manifest: Manifest;
  /** The installed declaration file of this entry point. */
  readonly types: string;
}

const entries: Entry[] = tarballs.flatMap((t) => {
  const dir = join(consumer, 'node_modules', t.name);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
  return exportedSubpaths(manifest).map((subpath) => {
    const target = (manifest.exports?.[subpath] as { types?: string } | undefined)?.types;
    if (!target) throw new Error(`${t.name} exports ${subpath} without types`);
    return { specifier: specifierOf(t.name, subpath), manifest, types: join(dir, target) };
  });
});
const specifiers = entries.map((e) => e.specifier);

function optionalPeers(manifest: Manifest): string[] {
  return Object.entries(manifest.peerDependenciesMeta ?? {})
    .filter(([, meta]) => meta.optional)
    .map(([name]) => name);
}

describe('in Node, from the installed tarballs', () => {
  let esm: Record<string, ImportResult>;
  beforeAll(async () => {
    esm = await runConsumerScript(consumer, 'import-all.mjs', specifiers);
  });

  it('each package main entry imports without its optional peers; a subpath may need one, and says which', () => {
    for (const { specifier, manifest } of entries) {
      const result = importsWithoutPeers[specifier];
      if (result?.ok) continue;
      expect(specifier, `${specifier} failed without optional peers: ${JSON.stringify(result)}`).not.toBe(
        manifest.name,
      );
      expect(result?.code).toBe('ERR_MODULE_NOT_FOUND');
      const missing = optionalPeers(manifest).filter((peer) => result?.message.includes(`'${peer}'`));
      expect(missing, result?.message).toHaveLength(1);
    }
  });

  it('every entry point imports as ESM once the optional peers are installed', () => {
    expect(linkedPeers.map((l) => l.peer)).toEqual(expect.arrayContaining(['@tensorflow/tfjs-core']));
    const failed = Object.entries(esm).filter(([, r]) => !r.ok);
    expect(failed).toEqual([]);
  });

  it('every entry point exports at run time exactly the values its declaration file promises', () => {
    const declared = declaredValueExports(entries.map((e) => e.types));
    for (const { specifier, types } of entries) {
      const result = esm[specifier];
      expect(result?.ok, specifier).toBe(true);
      const runtime = result?.ok ? [...result.exports] : [];
      expect(runtime, specifier).toEqual(declared.get(types));
      expect(runtime, specifier).toEqual(expect.arrayContaining([...(KNOWN_EXPORTS[specifier] ?? [])]));
      expect(runtime.length, specifier).toBeGreaterThan(0);
    }
  });

  // The packages ship ES modules only (docs/packaging.md). Node 20.19+ and 22.12+ load them with require() too,
  // as none uses top-level await; older Node refuses with ERR_REQUIRE_ESM.
  it('require() gives the same exports where Node can require ES modules, else the ESM-only error', async () => {
    const cjs = await runConsumerScript<{ requireModule: boolean; results: Record<string, ImportResult> }>(
      consumer,
      'require-all.cjs',
      specifiers,
    );
    for (const specifier of specifiers) {
      const result = cjs.results[specifier];
      if (cjs.requireModule) {
        const esmExports = esm[specifier]?.ok ? esm[specifier].exports : null;
        expect(result?.ok ? result.exports.filter((name) => name !== '__esModule') : result, specifier).toEqual(
          esmExports,
        );
      } else {
        expect(result?.ok ? 'loaded' : result?.code, specifier).toBe('ERR_REQUIRE_ESM');
      }
    }
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    if (major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19)) {
      expect(cjs.requireModule).toBe(true);
    }
  });

  it('computes varlen attention forward and backward on the cpu backend (WebAssembly on worker threads)', async () => {
    const run = await runConsumerScript<{
      backend: string;
      kernels: string;
      cores: number;
      workersStarted: number;
      maxAbs: Record<string, number>;
      maxError: Record<string, number>;
    }>(consumer, 'compute.mjs');
    expect(run.backend).toBe('cpu');
    expect(run.kernels).toBe('wasm-simd');
    if (run.cores > 1) expect(run.workersStarted).toBeGreaterThan(0);
    for (const name of ['out', 'dq', 'dk', 'dv']) {
      expect(run.maxAbs[name], `${name} is all zeros`).toBeGreaterThan(0.1);
      expect(run.maxError[name], name).toBeLessThan(1e-4 * Math.max(1, run.maxAbs[name]!));
    }
  });
});
