import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type Bundle, bundleForBrowser, gzipBytes, nodeBuiltinLeaks } from '../src/bundle.js';
import { FIXTURES_DIR } from '../src/paths.js';
import type { Manifest } from '../src/workspace.js';

const { consumer } = inject('packaging');

/** Copies a fixture app into the consumer project (so it resolves the installed packages) and bundles it. */
async function bundleFixture(name: string, input: string): Promise<Bundle> {
  const root = join(consumer, 'apps', name);
  mkdirSync(root, { recursive: true });
  cpSync(join(FIXTURES_DIR, name), root, { recursive: true });
  return bundleForBrowser(root, input);
}

const bundledFrom = (bundle: Bundle, pattern: RegExp) =>
  bundle.chunks.flatMap((c) => c.moduleIds).filter((id) => pattern.test(id.replaceAll('\\', '/')));

describe('a browser app bundled with Vite from the installed packages', () => {
  let app: Bundle;
  beforeAll(async () => {
    app = await bundleFixture('browser', 'index.html');
  });

  it('builds with no warnings, and no Node built-in stubbed out for the browser', () => {
    expect(nodeBuiltinLeaks(app)).toEqual([]);
    expect(app.warnings).toEqual([]);
  });

  it('bundles the packages built output (dist), never their TypeScript sources', () => {
    for (const name of ['core', 'seqpack', 'flash-attn', 'webgpu', 'autograd']) {
      expect(bundledFrom(app, new RegExp(`/node_modules/@fa/${name}/dist/.+\\.js$`)), name).not.toEqual([]);
    }
    expect(bundledFrom(app, /\/node_modules\/@fa\/[^/]+\/src\//)).toEqual([]);
  });

  it('leaves out the `webgpu` package (Dawn for Node) even where it is installed', () => {
    expect(existsSync(join(consumer, 'node_modules/webgpu/package.json'))).toBe(true);
    expect(bundledFrom(app, /\/node_modules\/webgpu\//)).toEqual([]);
    expect(app.assets.filter((a) => a.endsWith('.node'))).toEqual([]);
  });

  it('the leak check does see a Node built-in imported by browser code', async () => {
    const leaky = await bundleFixture('leak', 'main.js');
    expect(nodeBuiltinLeaks(leaky).length).toBeGreaterThan(0);
  });
});

describe('@fa/seqpack alone', () => {
  let typical: Bundle;
  let everything: Bundle;
  beforeAll(async () => {
    typical = await bundleFixture('size', 'typical.js');
    everything = await bundleFixture('size', 'everything.js');
  });

  const gzipped = (bundle: Bundle) => bundle.chunks.reduce((sum, c) => sum + gzipBytes(c.code), 0);

  // Measured when this was written: 3.4 KB for the typical import, 6.5 KB for the whole package; 8.2 KB since
  // `tileMap` runs core's tile planner (the very one the kernels' work lists come from) and every options bag
  // checks its keys, with suggestions. The bounds leave room to grow while catching what would make it large: a
  // kernel, a backend or WASM dragged in by an import.
  it('is a few KB, minified and gzipped', () => {
    const sizes = { typical: gzipped(typical), everything: gzipped(everything) };
    console.log(
      `@fa/seqpack bundled for the browser, minified + gzip (with what it uses of @fa/core): ` +
        `cuSeqlensFromLengths + unpadInput + packDocuments ${sizes.typical} B, every export ${sizes.everything} B`,
    );
    expect(sizes.typical).toBeGreaterThan(500);
    expect(sizes.typical).toBeLessThan(5 * 1024);
    expect(sizes.everything).toBeLessThan(10 * 1024);
  });

  it('depends on @fa/core and nothing else, once installed', () => {
    const closure = new Set<string>();
    const visit = (name: string) => {
      const manifest = JSON.parse(
        readFileSync(join(consumer, 'node_modules', name, 'package.json'), 'utf8'),
      ) as Manifest;
      const deps = { ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies };
      for (const dep of Object.keys(deps)) {
        if (!closure.has(dep)) {
          closure.add(dep);
          visit(dep);
        }
      }
    };
    visit('@fa/seqpack');
    expect([...closure]).toEqual(['@fa/core']);
  });

  it('pulls in no GPU, kernel or WebAssembly code', () => {
    expect(everything.chunks).toHaveLength(1);
    const foreign = bundledFrom(everything, /\/node_modules\//).filter(
      (id) => !/\/node_modules\/@fa\/(seqpack|core)\/dist\//.test(id),
    );
    expect(foreign).toEqual([]);
    const code = everything.chunks.map((c) => c.code).join('\n');
    const markers = ['@fa/webgpu', '@fa/flash-attn', '@compute', '@workgroup_size', 'var<storage', 'navigator.gpu'];
    for (const marker of [...markers, 'WebAssembly', 'AGFzbQ', 'node:']) {
      expect(code.includes(marker), marker).toBe(false);
    }
  });
});
