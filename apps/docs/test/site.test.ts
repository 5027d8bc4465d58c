import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { attentionFlops, cuSeqlensFromLengths } from '@fa/seqpack';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from './static-server.js';

const CHROMIUM = '/usr/bin/chromium';
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

describe.skipIf(!existsSync(CHROMIUM))('docs site in headless Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serveStatic>>;

  beforeAll(async () => {
    // turbo builds the site before this task; a bare `vitest run` builds it if it is missing.
    if (!existsSync(`${DIST}playground/index.html`)) execFileSync('pnpm', ['run', 'build'], { stdio: 'inherit' });
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await serveStatic(DIST);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // SwiftShader gives headless Chromium a WebGPU adapter on the CPU.
      args: [
        '--enable-unsafe-webgpu',
        '--use-webgpu-adapter=swiftshader',
        '--no-sandbox',
        '--headless',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A page that records console errors, uncaught exceptions and any request that leaves 127.0.0.1. */
  async function openPage(): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    // blob: URLs of the page's own origin are the code editor's in-memory modules, not network requests.
    const local = (url: string) => url.startsWith(server.url) || url.startsWith(`blob:${server.url}`);
    page.on('request', (r) => !local(r.url()) && problems.push(`offsite request: ${r.url()}`));
    page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
    return { page, problems };
  }

  it('every page loads cleanly and every internal link resolves', async () => {
    const { page, problems } = await openPage();
    const seen = new Set<string>();
    const queue = ['/'];
    const anchors = new Set<string>();
    const broken: string[] = [];
    while (queue.length > 0) {
      const path = queue.shift()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const response = await page.goto(server.url + path);
      if (!response?.ok()) {
        broken.push(`${path}: HTTP ${response?.status()}`);
        continue;
      }
      const links = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')!));
      for (const href of links) {
        if (!href.startsWith('/') || href.startsWith('//')) continue;
        const [target, hash] = href.split('#') as [string, string | undefined];
        if (!seen.has(target)) queue.push(target);
        if (hash) anchors.add(href);
      }
      if (path === '/concepts/') await page.screenshot({ path: `${ARTIFACTS}concepts.png`, fullPage: true });
    }
    // A link to a heading must land on it: the target page has an element with that id.
    for (const href of anchors) {
      const [target, hash] = href.split('#') as [string, string];
      await page.goto(server.url + target);
      const id = decodeURIComponent(hash);
      if ((await page.locator(`[id="${id}"]`).count()) === 0) broken.push(`${href}: no element with id "${id}"`);
    }
    expect(broken).toEqual([]);
    expect(seen.size).toBeGreaterThanOrEqual(9); // home, getting started, concepts, playground, 4 guides, results
    expect(seen.has('/benchmark-results/')).toBe(true);
    // The API reference (one page per public entry point) is reached from the sidebar.
    for (const slug of ['core', 'seqpack', 'flash-attn', 'flash-attn-cpu', 'webgpu', 'autograd', 'autograd-tfjs']) {
      expect(seen.has(`/api/${slug}/`), `/api/${slug}/`).toBe(true);
    }
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('benchmark results: one bar chart per committed run, drawn at build time', async () => {
    const { page, problems } = await openPage();
    await page.goto(`${server.url}/benchmark-results/`);
    const charts = page.locator('svg.bench-chart');
    expect(await charts.count()).toBeGreaterThanOrEqual(1);
    const values = await page.$$eval('rect.bench-bar', (rects) => rects.map((r) => Number(r.dataset.value)));
    expect(values.length).toBeGreaterThan(4);
    for (const v of values) expect(v).toBeGreaterThan(0);
    const series = new Set(await page.$$eval('rect.bench-bar', (rects) => rects.map((r) => r.dataset.series)));
    expect([...series]).toEqual(expect.arrayContaining(['fa varlen', 'fa padded']));
    await page.screenshot({ path: `${ARTIFACTS}benchmark-results.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('playground code editor: runs the default sample as a module and shows its console output', async () => {
    const { page, problems } = await openPage();
    await page.goto(`${server.url}/playground/`);
    expect(await page.locator('#pg-code').inputValue()).toContain("from '@fa/flash-attn'");
    await page.click('#pg-code-run');
    const output = page.locator('#pg-console');
    await page.waitForFunction(() => document.getElementById('pg-console')!.dataset.state === 'done', undefined, {
      timeout: 60_000,
    });
    const text = (await output.textContent()) ?? '';
    expect(text).toContain('cu_seqlens 0, 5, 5, 8 max 5');
    expect(text).toContain('plain-array offsets give the same out: true');
    expect(text).toContain('out shape 8 × 2 × 16');
    expect(text).toMatch(/out\[0, 0, :4\] -?\d\.\d{4}, /);

    // An error in the sample is shown in the output, not thrown at the page.
    await page.fill('#pg-code', "import { nope } from 'left-pad';");
    await page.click('#pg-code-run');
    await page.waitForFunction(() => document.getElementById('pg-console')!.dataset.state === 'error');
    expect(await output.textContent()).toMatch(/can import only @fa\/flash-attn and @fa\/seqpack/);
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);

  it('playground: layout, tile map, runs and inline errors', async () => {
    const { page, problems } = await openPage();
    await page.goto(`${server.url}/playground/`);
    const status = page.locator('#pg-status');
    const waitForRun = async (backend?: string) => {
      await page.waitForFunction(
        (b) => {
          const s = document.getElementById('pg-status')!;
          return s.dataset.state !== 'running' && s.dataset.state !== 'idle' && (!b || s.dataset.backend === b);
        },
        backend,
        { timeout: 90_000 },
      );
      expect(await status.getAttribute('data-state'), (await page.locator('#pg-error').textContent()) ?? '').toBe(
        'done',
      );
      return Number(await page.locator('#pg-max-error').getAttribute('data-value'));
    };

    // The first run starts on page load, on WebGPU when the browser has an adapter (SwiftShader here).
    await waitForRun();
    const hasGpu = (await status.getAttribute('data-backend')) === 'webgpu';

    await page.fill('input[name="lengths"]', '5, 0, 3');
    await page.selectOption('select[name="backend"]', 'cpu'); // a backend change starts a run
    expect(await page.locator('#pg-cu').textContent()).toBe('[0, 5, 5, 8]');
    const cu = cuSeqlensFromLengths([5, 0, 3]);
    const flops = attentionFlops({ cuSeqlensQ: cu, cuSeqlensK: cu, numHeads: 2, headDim: 32, causal: true });
    expect(Number(await page.locator('#pg-flops-packed').getAttribute('data-value'))).toBe(flops);
    expect(await waitForRun('cpu')).toBeLessThan(1e-4);

    // A preset with one long and many short sequences: packing saves most of the padded FLOPs.
    await page.click('button[data-preset="one long + many short"]');
    expect(await waitForRun('cpu')).toBeLessThan(1e-4);
    const packed = Number(await page.locator('#pg-flops-packed').getAttribute('data-value'));
    const padded = Number(await page.locator('#pg-flops-padded').getAttribute('data-value'));
    expect(padded / packed).toBeGreaterThan(10);
    // The run times the packed batch and its padded equivalent (flashAttn on the batch padded to the longest).
    const times = Object.fromEntries(
      await Promise.all(
        ['pg-forward-ms', 'pg-backward-ms', 'pg-padded-forward-ms', 'pg-padded-backward-ms'].map(
          async (id) => [id, await page.locator(`#${id}`).getAttribute('data-value')] as const,
        ),
      ),
    );
    for (const [id, value] of Object.entries(times)) {
      expect(Number.isFinite(Number(value)) && Number(value) >= 0, `${id} = ${value}`).toBe(true);
    }
    expect(await page.locator('#pg-padded-forward-ms').textContent()).toMatch(/^\d+\.\d ms$/);
    expect(await page.locator('#pg-forward-ms').textContent()).toMatch(/^\d+\.\d ms$/);
    await page.screenshot({ path: `${ARTIFACTS}playground-cpu.png`, fullPage: true });

    if (hasGpu) {
      await page.fill('input[name="lengths"]', '64, 7, 33, 1');
      await page.selectOption('select[name="dtype"]', 'f16');
      await page.selectOption('select[name="backend"]', 'webgpu');
      expect(await waitForRun('webgpu')).toBeLessThan(1e-2);
      await page.screenshot({ path: `${ARTIFACTS}playground-webgpu.png`, fullPage: true });
    }

    // Bad input is a typed message on the page, not an exception.
    await page.fill('input[name="lengths"]', '5, -1');
    await expect.poll(() => page.locator('#pg-error').textContent()).toMatch(/^E_\w+: .*lengths/);
    await page.fill('input[name="lengths"]', '5, 3');
    await page.fill('input[name="headDim"]', '300');
    await expect.poll(() => page.locator('#pg-error').textContent()).toMatch(/^E_\w+: /);
    await page.screenshot({ path: `${ARTIFACTS}playground-error.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);
});
