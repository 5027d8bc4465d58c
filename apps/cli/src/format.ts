/**
 * Text formatting for reports. Numbers are formatted for people (thousands separators, 3 significant digits,
 * milliseconds or seconds as fits); the JSON reports keep raw numbers.
 */

export function formatInt(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** 0.0123 → "12.3 ms", 1.5 → "1.50 s". */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 1e-3) return `${(seconds * 1e6).toPrecision(3)} µs`;
  if (seconds < 1) return `${(seconds * 1e3).toPrecision(3)} ms`;
  return `${seconds.toPrecision(3)} s`;
}

/** Three significant digits without exponent for everyday magnitudes. */
export function formatNumber(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return n > 0 ? '∞' : n < 0 ? '-∞' : '—';
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 10 ** digits) return formatInt(n);
  if (abs < 1e-3) return n.toExponential(digits - 1);
  return Number(n.toPrecision(digits)).toString();
}

/** Errors and tolerances: always exponent form so that columns line up, e.g. "1.23e-6". */
export function formatError(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : '∞';
  if (n === 0) return '0';
  return n.toExponential(2);
}

export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

export interface Column<Row> {
  readonly header: string;
  readonly align?: 'left' | 'right';
  readonly value: (row: Row) => string;
}

/** A plain-text table: a header, a rule and one line per row, columns padded to their widest cell. */
export function renderTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[], indent = ''): string[] {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((r) => width(r[i] as string))));
  const line = (values: readonly string[]) =>
    indent +
    values
      .map((v, i) => pad(v, widths[i] as number, columns[i]?.align ?? 'left'))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), indent + widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)];
}

/** The same table in GitHub Markdown, columns padded as the repository's formatter (Biome) lays them out. */
export function renderMarkdownTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string[] {
  const escapeCell = (v: string) => v.replace(/\|/g, '\\|');
  const cells = rows.map((row) => columns.map((c) => escapeCell(c.value(row))));
  const headers = columns.map((c) => escapeCell(c.header));
  const widths = columns.map((_, i) =>
    Math.max(3, width(headers[i] as string), ...cells.map((r) => width(r[i] as string))),
  );
  const line = (values: readonly string[]) =>
    `| ${values.map((v, i) => pad(v, widths[i] as number, columns[i]?.align ?? 'left')).join(' | ')} |`;
  const rule = columns.map((c, i) => {
    const w = widths[i] as number;
    return c.align === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w);
  });
  return [line(headers), `| ${rule.join(' | ')} |`, ...cells.map(line)];
}

/** Key–value lines with the keys padded to one width. */
export function renderPairs(pairs: ReadonlyArray<readonly [string, string]>, indent = '  '): string[] {
  const keyWidth = Math.max(...pairs.map(([k]) => width(k)));
  return pairs.map(([k, v]) => `${indent}${pad(k, keyWidth, 'left')}  ${v}`);
}

/** Display width: code points, since the reports use a few non-ASCII symbols (×, µ, ─, —). */
function width(s: string): number {
  return [...s].length;
}

function pad(s: string, w: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, w - width(s)));
  return align === 'right' ? fill + s : s + fill;
}
