/**
 * Timing: warm-up runs first (JIT compilation, worker start-up and first-touch allocation would otherwise land
 * in the first sample), then repeated runs whose median is reported, since the median ignores the odd run slowed
 * by a garbage collection or a noisy neighbour. A time budget caps the repeats of slow runs so that a big
 * workload on a slow machine still finishes; the number of runs actually taken is always reported.
 */

export interface TimingOptions {
  readonly warmup: number;
  /** Runs taken at least (after warm-up)… */
  readonly minRepeats: number;
  /** …and at most. */
  readonly maxRepeats: number;
  /** Stop adding runs past `minRepeats` once this many seconds of timed runs have accumulated. */
  readonly budgetSeconds: number;
}

export interface Timing {
  readonly medianSeconds: number;
  readonly minSeconds: number;
  readonly samples: number[];
  readonly warmup: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Times `run` (which must await its own completion). `afterEach` runs outside the timed region, e.g. to free the
 * results of a call. `onRun` is called before each run for progress reporting.
 */
export async function measure<T>(
  run: () => Promise<T>,
  options: TimingOptions,
  afterEach: (result: T) => void | Promise<void> = () => undefined,
  onRun: (index: number, warm: boolean) => void = () => undefined,
): Promise<Timing> {
  for (let i = 0; i < options.warmup; i++) {
    onRun(i, true);
    await afterEach(await run());
  }
  const samples: number[] = [];
  let spent = 0;
  while (
    samples.length < options.maxRepeats &&
    (samples.length < options.minRepeats || spent < options.budgetSeconds)
  ) {
    onRun(samples.length, false);
    const start = performance.now();
    const result = await run();
    const seconds = (performance.now() - start) / 1000;
    samples.push(seconds);
    spent += seconds;
    await afterEach(result);
  }
  return { medianSeconds: median(samples), minSeconds: Math.min(...samples), samples, warmup: options.warmup };
}
