import { describe, expect, it } from 'vitest';
import { Progress, progressModeFor } from './progress.js';

function sink(isTTY: boolean) {
  const out = { text: '', isTTY, columns: 60, write: (s: string) => (out.text += s) };
  return out;
}

function drive(progress: Progress): void {
  progress.start('task', 2);
  progress.step('first');
  progress.tick();
  progress.step('second');
  progress.tick();
  progress.finish();
}

describe('progress', () => {
  it('draws a bar in place on a terminal and erases it at the end', () => {
    const stream = sink(true);
    expect(progressModeFor(stream, false)).toBe('bar');
    drive(new Progress(stream, 'bar'));
    expect(stream.text).toContain('\r\x1b[2Ktask ████████████░░░░░░░░░░░░ 1/2');
    const erased = '\r\x1b[2K';
    expect(stream.text.slice(stream.text.lastIndexOf(erased) + erased.length)).toMatch(/^task: done in \d+\.\d s\n$/);
    for (const line of stream.text.split('\r')) expect(line.length).toBeLessThan(60 + 8);
  });

  it('prints plain lines elsewhere', () => {
    const stream = sink(false);
    expect(progressModeFor(stream, false)).toBe('lines');
    drive(new Progress(stream, 'lines'));
    expect(stream.text).not.toContain('\r');
    expect(stream.text.split('\n').slice(0, 3)).toEqual(['task (2 steps)', '  [1/2] first', '  [2/2] second']);
  });

  it('prints nothing when quiet', () => {
    const stream = sink(true);
    expect(progressModeFor(stream, true)).toBe('off');
    drive(new Progress(stream, 'off'));
    expect(stream.text).toBe('');
  });
});
