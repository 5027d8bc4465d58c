/**
 * A small seeded generator (mulberry32). Every workload the CLI builds comes from a seed, so a run that looks
 * odd can be reproduced exactly with the same flags; Math.random would make each run a different batch.
 */
export class Random {
  #state: number;
  #spare: number | undefined;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Standard normal (Box–Muller, both values used: input tensors need millions of draws). */
  normal(): number {
    if (this.#spare !== undefined) {
      const value = this.#spare;
      this.#spare = undefined;
      return value;
    }
    const u = 1 - this.next();
    const v = 2 * Math.PI * this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(v);
    return r * Math.cos(v);
  }

  /** Lognormal with the given median (exp μ) and shape σ: the usual model of document lengths in a corpus. */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** `n` standard normals as float32. */
  normalsF32(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }
}
