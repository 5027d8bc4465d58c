import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startSourceServer } from './source-server.js';

const CHROMIUM = '/usr/bin/chromium';

// A page that imports the backend's sources, runs one forward and backward on navigator.gpu (SwiftShader here)
// and compares with @fa/core's float64 reference in the page itself.
const PAGE = /* html */ `<!doctype html>
<script type="importmap">{ "imports": { "@fa/core": "/pkg/core/src/index.js" } }</script>
<script type="module">
  import { referenceAttnBackward, resolveAttnProblem } from '@fa/core';
  import { createWebGpuBackend } from '/pkg/webgpu/src/index.js';
  import { Random } from '/pkg/testkit/src/random.js';
  try {
    const backend = await createWebGpuBackend();
    const lengths = [9, 0, 23];
    const cu = Int32Array.of(0, 9, 9, 32);
    const [T, H, D] = [32, 2, 24];
    const random = new Random(1);
    const rand = () => random.next() - 0.5;
    const tensor = () => ({ data: Float32Array.from({ length: T * H * D }, rand), shape: [T, H, D], dtype: 'f32' });
    const [q, k, v, dout] = [tensor(), tensor(), tensor(), tensor()];
    const options = { cuSeqlensQ: cu, cuSeqlensK: cu, causal: true, dropoutP: 0.1, seed: 5 };
    const problem = resolveAttnProblem(q, k, v, options);
    const [hq, hk, hv, hd] = await Promise.all([q, k, v, dout].map((t) => backend.upload(t)));
    const { out, lse } = await backend.forward(hq, hk, hv, problem);
    const grads = await backend.backward(hd, hq, hk, hv, out, lse, problem);
    const got = {
      out: (await backend.download(out, [T, H, D], 'f32')).data,
      dq: (await backend.download(grads.dq, [T, H, D], 'f32')).data,
      dk: (await backend.download(grads.dk, [T, H, D], 'f32')).data,
    };
    const ref = referenceAttnBackward(dout, q, k, v, options);
    const err = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    window.__result = {
      adapter: backend.adapterInfo,
      out: err(got.out, ref.out),
      dq: err(got.dq, ref.dq),
      dk: err(got.dk, ref.dk),
    };
    backend.destroy();
  } catch (error) {
    window.__result = { error: String(error && error.stack || error) };
  }
</script>`;

describe.skipIf(!existsSync(CHROMIUM))('webgpu in headless Chromium (navigator.gpu, SwiftShader)', () => {
  it('runs forward and backward from the sources and matches the reference', async () => {
    const server = await startSourceServer(PAGE);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--enable-unsafe-webgpu',
        '--use-webgpu-adapter=swiftshader',
        '--no-sandbox',
        '--headless',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    });
    try {
      const page = await browser.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(String(e)));
      await page.goto(server.url);
      await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, undefined, {
        timeout: 60_000,
      });
      const result = (await page.evaluate(() => (window as { __result?: unknown }).__result)) as Record<
        string,
        number | string
      >;
      expect(result.error, `${result.error}\n${logs.join('\n')}`).toBeUndefined();
      expect(result.out).toBeLessThan(1e-5);
      expect(result.dq).toBeLessThan(1e-4);
      expect(result.dk).toBeLessThan(1e-4);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 120_000);
});
