export interface RandomOptions {
  /**
   * Box–Muller turns two uniforms into two normals. Left `false`, `normal()` keeps the first and drops the second:
   * what the conformance suite and the backends' tests have always drawn, so a seed printed by a failure still
   * reproduces the same inputs. `true` returns both (the second on the next call), half the uniforms per normal:
   * what the CLI's workloads and the benchmark data were drawn with, so their batches stay the same.
   */
  readonly normalPairs?: boolean;
}

/**
 * The one seeded generator of the tests, benchmarks and tools (mulberry32): every failure prints a seed that
 * reproduces it, while each run may still draw fresh inputs from `freshSeed()`. The same numbers in every JS
 * engine. Not for cryptography; `@fa/autograd` ships its own `Rng` for users, seeded differently.
 */
export class Random {
  readonly seed: number;
  #state: number;
  readonly #pairs: boolean;
  #spare: number | undefined;

  constructor(seed: number, options: RandomOptions = {}) {
    this.seed = seed;
    this.#state = seed >>> 0;
    this.#pairs = options.normalPairs ?? false;
  }

  /** Uniform 32-bit unsigned integer: arbitrary bit patterns. */
  uint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Integer uniform in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Standard normal (Box–Muller; see `RandomOptions.normalPairs`). Zero has probability 0: never a test of zeros. */
  normal(): number {
    if (this.#spare !== undefined) {
      const spare = this.#spare;
      this.#spare = undefined;
      return spare;
    }
    const u = 1 - this.next();
    const v = 2 * Math.PI * this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    if (this.#pairs) this.#spare = r * Math.sin(v);
    return r * Math.cos(v);
  }

  /** `n` normals with standard deviation `scale`. */
  normals(n: number, scale = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * scale;
    return out;
  }

  /** `n` standard normals, rounded to float32. */
  normalsF32(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** Lognormal with the given median (exp μ) and shape σ: the usual model of document lengths in a corpus. */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }
}

/** A seed for inputs drawn fresh each run; print it with a failure so that the run can be replayed. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}
