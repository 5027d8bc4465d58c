/**
 * Progress on stderr, so that stdout carries only the report (and stays parseable with --json).
 * On a terminal it is one bar redrawn in place; anywhere else (CI logs, pipes, tests) it is one plain line per
 * step, since carriage returns turn a log file into noise.
 */

export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export type ProgressMode = 'bar' | 'lines' | 'off';

export function progressModeFor(stream: ProgressStream, quiet: boolean): ProgressMode {
  if (quiet) return 'off';
  return stream.isTTY ? 'bar' : 'lines';
}

const BAR_WIDTH = 24;

export class Progress {
  readonly #stream: ProgressStream;
  readonly #mode: ProgressMode;
  #total = 0;
  #done = 0;
  #label = '';
  #title = '';
  #started = 0;
  #drawn = false;

  constructor(stream: ProgressStream, mode: ProgressMode) {
    this.#stream = stream;
    this.#mode = mode;
  }

  /** Begins a task of `total` steps; `title` names the whole task. */
  start(title: string, total: number): void {
    this.#title = title;
    this.#total = Math.max(1, total);
    this.#done = 0;
    this.#label = '';
    this.#started = performance.now();
    if (this.#mode === 'lines') this.#stream.write(`${title} (${total} steps)\n`);
  }

  /** Announces the step about to run. */
  step(label: string): void {
    this.#label = label;
    if (this.#mode === 'lines') {
      const width = String(this.#total).length;
      this.#stream.write(`  [${String(this.#done + 1).padStart(width)}/${this.#total}] ${label}\n`);
    } else if (this.#mode === 'bar') this.#draw();
  }

  /** Marks the current step finished. */
  tick(): void {
    this.#done = Math.min(this.#total, this.#done + 1);
    if (this.#mode === 'bar') this.#draw();
  }

  /** Ends the task; the bar is erased so that the report that follows starts on a clean line. */
  finish(): void {
    const seconds = (performance.now() - this.#started) / 1000;
    if (this.#mode === 'bar' && this.#drawn) this.#stream.write('\r\x1b[2K');
    if (this.#mode !== 'off') this.#stream.write(`${this.#title}: done in ${seconds.toFixed(1)} s\n`);
    this.#drawn = false;
  }

  #draw(): void {
    const fraction = this.#done / this.#total;
    const filled = Math.round(fraction * BAR_WIDTH);
    const elapsed = ((performance.now() - this.#started) / 1000).toFixed(1);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
    let line = `${this.#title} ${bar} ${this.#done}/${this.#total} ${elapsed} s  ${this.#label}`;
    const columns = this.#stream.columns ?? 80;
    if (line.length > columns - 1) line = `${line.slice(0, columns - 2)}…`;
    this.#stream.write(`\r\x1b[2K${line}`);
    this.#drawn = true;
  }
}
