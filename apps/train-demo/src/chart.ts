/** A hand-written SVG line chart of loss curves: no dependency, readable output. */

export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  readonly color: string;
  /** Draw dots instead of a line (sparse series such as validation losses). */
  readonly dots?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  readonly series: readonly Series[];
  /** Horizontal reference lines, e.g. the unigram baseline. */
  readonly baselines?: ReadonlyArray<{ readonly name: string; readonly value: number; readonly color: string }>;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly width?: number;
  readonly height?: number;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

export function renderChart(options: ChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 420;
  const margin = { top: 48, right: 24, bottom: 56, left: 64 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const xs = options.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [
    ...options.series.flatMap((s) => s.points.map((p) => p[1])),
    ...(options.baselines ?? []).map((b) => b.value),
  ];
  const finite = (values: number[]) => values.filter(Number.isFinite);
  const [x0, x1] = [Math.min(0, ...finite(xs)), Math.max(1, ...finite(xs))];
  const yLo = Math.min(...finite(ys), Number.POSITIVE_INFINITY);
  const yHi = Math.max(...finite(ys), Number.NEGATIVE_INFINITY);
  const [y0, y1] = Number.isFinite(yLo)
    ? [Math.max(0, yLo - 0.1 * (yHi - yLo || 1)), yHi + 0.05 * (yHi - yLo || 1)]
    : [0, 1];
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => margin.top + (1 - (y - y0) / (y1 - y0)) * plotH;
  const f = (n: number) => n.toFixed(1);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(options.title)}</text>`,
  ];
  for (const t of niceTicks(y0, y1)) {
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${f(sy(t))}" y2="${f(sy(t))}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 8}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#444">${t}</text>`,
    );
  }
  for (const t of niceTicks(x0, x1, 6)) {
    parts.push(
      `<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 5}" stroke="#444"/>`,
      `<text x="${f(sx(t))}" y="${margin.top + plotH + 20}" text-anchor="middle" fill="#444">${t}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel ?? 'step')}</text>`,
    `<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel ?? 'loss (nats per byte)')}</text>`,
  );
  const legend: Array<{ name: string; color: string; dashed: boolean }> = [];
  for (const b of options.baselines ?? []) {
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${f(sy(b.value))}" y2="${f(sy(b.value))}" stroke="${b.color}" stroke-dasharray="6 4" stroke-width="1.5"/>`,
    );
    legend.push({ name: `${b.name} (${b.value.toFixed(3)})`, color: b.color, dashed: true });
  }
  for (const s of options.series) {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (s.dots) {
      for (const [x, y] of pts) parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="3.5" fill="${s.color}"/>`);
    } else if (pts.length > 0) {
      const d = pts.map(([x, y]) => `${f(sx(x))},${f(sy(y))}`).join(' ');
      parts.push(`<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    }
    legend.push({ name: s.name, color: s.color, dashed: false });
  }
  legend.forEach((item, i) => {
    const y = margin.top + 14 + i * 18;
    const x = margin.left + plotW - 250;
    parts.push(
      `<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${item.color}" stroke-width="2"${item.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${x + 30}" y="${y}">${escapeXml(item.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
