import { type FloatDType, isFaError } from '@fa/core';
import { forEachTile } from '@fa/seqpack';
import { registerWebGpuBackend } from '@fa/webgpu';
import {
  attentionWeights,
  computeLayout,
  formatFlops,
  type Layout,
  type PlaygroundInput,
  PRESETS,
  TOLERANCE,
} from './model.js';
import { runOnBackend } from './run.js';

const COLORS = ['#4c6ef5', '#f59f00', '#37b24d', '#e64980', '#15aabf', '#7950f2', '#fd7e14', '#82c91e'];

function $<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

function readInput(form: HTMLFormElement): PlaygroundInput & { backend: string } {
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
  return {
    lengths: value('lengths'),
    heads: Number(value('heads')),
    headDim: Number(value('headDim')),
    causal: (form.elements.namedItem('causal') as HTMLInputElement).checked,
    windowLeft: Number(value('windowLeft')),
    windowRight: Number(value('windowRight')),
    softcap: Number(value('softcap')),
    dtype: value('dtype') as FloatDType,
    block: Number(value('block')),
    backend: value('backend'),
  };
}

/** A time in milliseconds, with its number in `data-value` for the tests. */
function ms(id: string, value: number): string {
  return `<span id="${id}" data-value="${value}">${value.toFixed(1)} ms</span>`;
}

function ratio(padded: number, packed: number): string {
  return packed > 0 ? `(${(padded / packed).toFixed(2)}× the packed time)` : '';
}

/** Typed library errors are expected input problems: shown inline with their code, never thrown. */
function showError(error: unknown): void {
  const box = $('pg-error');
  box.hidden = false;
  box.textContent = isFaError(error) ? `${error.code}: ${error.message}` : `Unexpected error: ${String(error)}`;
}

function renderLayout(layout: Layout): void {
  const total = layout.cuSeqlens[layout.cuSeqlens.length - 1] as number;
  const svg = layout.lengths
    .map((length, b) => {
      const x = ((layout.cuSeqlens[b] as number) / Math.max(total, 1)) * 100;
      const w = (length / Math.max(total, 1)) * 100;
      return `<rect x="${x}%" y="0" width="${w}%" height="24" fill="${COLORS[b % COLORS.length]}" stroke="#fff"><title>sequence ${b}: ${length} tokens</title></rect>`;
    })
    .join('');
  $('pg-layout').innerHTML = `<svg role="img" aria-label="${total} packed tokens">${svg}</svg>`;
  const cu = Array.from(layout.cuSeqlens);
  $('pg-cu').textContent = `[${cu.length > 65 ? `${cu.slice(0, 64).join(', ')}, …, ${cu.at(-1)}` : cu.join(', ')}]`;
}

/** The whole batch's score matrix: one block per sequence on the diagonal, its tiles coloured by the tile map. */
function renderTiles(layout: Layout): void {
  const canvas = $<HTMLCanvasElement>('pg-tiles');
  const ctx = canvas.getContext('2d')!;
  const { map, cuSeqlens } = layout;
  const total = Math.max(cuSeqlens[cuSeqlens.length - 1] as number, 1);
  const scale = canvas.width / total;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const tile = (b: number, qTile: number, kTile: number, color: string) => {
    const start = cuSeqlens[b] as number;
    const length = (cuSeqlens[b + 1] as number) - start;
    const y0 = start + qTile * map.blockM;
    const x0 = start + kTile * map.blockN;
    const h = Math.min(map.blockM, start + length - y0);
    const w = Math.min(map.blockN, start + length - x0);
    ctx.fillStyle = color;
    // A hairline gap keeps neighbouring tiles distinguishable when they are large enough to see.
    const gap = scale * map.blockM > 4 ? 0.5 : 0;
    ctx.fillRect(x0 * scale + gap, y0 * scale + gap, w * scale - 2 * gap, h * scale - 2 * gap);
  };
  for (let b = 0; b < map.batch; b++) {
    const qTiles = (map.cuQTiles[b + 1] as number) - (map.cuQTiles[b] as number);
    for (let m = 0; m < qTiles; m++) for (let n = 0; n < (map.kTiles[b] as number); n++) tile(b, m, n, '#dee2e6');
  }
  forEachTile(map, (b, qTile, kTile, full) => tile(b, qTile, kTile, full ? '#4c6ef5' : '#91a7ff'));

  const c = map.counts;
  const rows: [string, string, string][] = [
    ['tiles computed', `${c.computedTiles} (${c.fullTiles} full, ${c.partialTiles} masked)`, 'pg-computed'],
    ['tiles skipped', String(c.skippedTiles), 'pg-skipped'],
    ['tiles of the padded grid', String(c.paddedTiles), 'pg-padded-tiles'],
    ['forward FLOPs, packed', formatFlops(layout.packedFlops), 'pg-flops-packed'],
    ['forward FLOPs, padded', formatFlops(layout.paddedFlops), 'pg-flops-padded'],
    [
      'padding overhead',
      layout.packedFlops > 0 ? `${(layout.paddedFlops / layout.packedFlops).toFixed(2)}×` : '–',
      'pg-overhead',
    ],
  ];
  $('pg-counts').innerHTML = rows.map(([k, v, id]) => `<tr><th>${k}</th><td id="${id}">${v}</td></tr>`).join('');
  $('pg-flops-packed').dataset.value = String(layout.packedFlops);
  $('pg-flops-padded').dataset.value = String(layout.paddedFlops);
}

/** One head of one sequence: darker is more weight, relative to the row's largest, so long rows stay visible. */
function renderHeatmap(layout: Layout): void {
  const form = $<HTMLFormElement>('pg-heat');
  const read = (name: string) => Number((form.elements.namedItem(name) as HTMLInputElement).value);
  const sequence = Math.min(Math.max(0, Math.trunc(read('sequence'))), layout.lengths.length - 1);
  const head = Math.min(Math.max(0, Math.trunc(read('head'))), layout.problem.numHeads - 1);
  const canvas = $<HTMLCanvasElement>('pg-heatmap');
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const length = layout.lengths[sequence] ?? 0;
  const { rows, cols, values } = attentionWeights(layout, sequence, head);
  $('pg-heat-caption').textContent =
    `Sequence ${sequence} (${length} tokens), head ${head}: queries down, keys across` +
    (rows < length ? `, first ${rows} × ${cols} shown` : '') +
    '. Each row is scaled to its largest weight; grey: masked.';
  if (rows === 0) return;
  const cell = canvas.width / Math.max(rows, cols);
  for (let i = 0; i < rows; i++) {
    const row = values.subarray(i * cols, (i + 1) * cols);
    const max = row.reduce((m, w) => (Number.isNaN(w) ? m : Math.max(m, w)), 0);
    for (let j = 0; j < cols; j++) {
      const w = row[j] as number;
      ctx.fillStyle = Number.isNaN(w) ? '#e9ecef' : `rgba(59, 91, 219, ${(max > 0 ? w / max : 0).toFixed(3)})`;
      ctx.fillRect(j * cell, i * cell, cell, cell);
    }
  }
}

export async function startPlayground(): Promise<void> {
  const form = $<HTMLFormElement>('pg');
  const backendSelect = form.elements.namedItem('backend') as HTMLSelectElement;
  const webgpuOption = backendSelect.querySelector<HTMLOptionElement>('option[value="webgpu"]')!;
  // navigator.gpu can exist without an adapter (blocklisted GPU, headless without SwiftShader): offer WebGPU only
  // when an adapter is there, so the default run does not start with an error.
  const gpu = typeof navigator !== 'undefined' ? navigator.gpu : undefined;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  if (adapter) {
    registerWebGpuBackend();
    backendSelect.value = 'webgpu';
  } else {
    webgpuOption.disabled = true;
    webgpuOption.textContent = gpu ? 'webgpu (no adapter)' : 'webgpu (navigator.gpu unavailable)';
  }
  let layout: Layout | null = null;
  let runId = 0;
  const status = $('pg-status');

  const update = (): void => {
    $('pg-error').hidden = true;
    try {
      layout = computeLayout(readInput(form));
      renderLayout(layout);
      renderTiles(layout);
      renderHeatmap(layout);
    } catch (error) {
      layout = null;
      showError(error);
    }
  };

  const run = async (): Promise<void> => {
    update();
    if (!layout) return;
    const input = readInput(form);
    const id = ++runId;
    status.dataset.state = 'running';
    status.textContent = `Running on ${input.backend}…`;
    $('pg-run-results').innerHTML = '';
    try {
      const result = await runOnBackend(layout, input, input.backend);
      if (id !== runId) return; // a newer run replaced this one
      const tolerance = TOLERANCE[input.dtype];
      const ok = result.maxError <= tolerance;
      $('pg-run-results').innerHTML = [
        ['backend', result.backend],
        ['forward, packed', ms('pg-forward-ms', result.forwardMs)],
        ['backward, packed', ms('pg-backward-ms', result.backwardMs)],
        ...(result.padded
          ? [
              [
                `forward, padded (${result.padded.batch} × ${result.padded.seqlen})`,
                `${ms('pg-padded-forward-ms', result.padded.forwardMs)} ${ratio(result.padded.forwardMs, result.forwardMs)}`,
              ],
              [
                `backward, padded (${result.padded.batch} × ${result.padded.seqlen})`,
                `${ms('pg-padded-backward-ms', result.padded.backwardMs)} ${ratio(result.padded.backwardMs, result.backwardMs)}`,
              ],
            ]
          : [['padded', 'not run: the padded batch is too large for the page']]),
        [
          'max error vs reference',
          `<span id="pg-max-error" data-value="${result.maxError}">${result.maxError.toExponential(2)}</span> ` +
            `${ok ? '≤' : '>'} ${tolerance} (${input.dtype}), over out, dq, dk, dv of the first ${result.sampled} ` +
            `sequence(s), ${result.sampledTokens} tokens`,
        ],
      ]
        .map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`)
        .join('');
      status.dataset.state = ok ? 'done' : 'mismatch';
      status.dataset.backend = result.backend;
      status.textContent = ok ? 'Done: matches the reference.' : 'Done, but the error is above tolerance.';
    } catch (error) {
      if (id !== runId) return;
      status.dataset.state = 'error';
      status.textContent = 'The run failed.';
      showError(error);
    }
  };

  form.addEventListener('input', update);
  $('pg-heat').addEventListener('input', update);
  form.addEventListener('change', (event) => {
    if ((event.target as HTMLElement).getAttribute('name') === 'backend') void run();
  });
  for (const button of form.querySelectorAll<HTMLButtonElement>('[data-preset]')) {
    button.addEventListener('click', () => {
      (form.elements.namedItem('lengths') as HTMLInputElement).value = PRESETS[button.dataset.preset!]!;
      void run();
    });
  }
  $('pg-run').addEventListener('click', () => void run());
  update();
  void run();
}
