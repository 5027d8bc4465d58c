import { describeValue, expectationError } from '@fa/core';
import { checkNumber, isCount, MAX_ELEMENTS } from './checks.js';

/**
 * A small seeded generator (Mulberry32) for reproducible initialisation and
 * tests. Not for cryptography.
 */
export class Rng {
  #state: number;
  #spare: number | undefined;

  constructor(seed = 0) {
    checkNumber(seed, 'seed', 'a safe integer', Number.isSafeInteger);
    // The low 32 bits seed the state as they always have; the high bits are mixed in too, so that seeds 2^32
    // apart (or -1 and 2^32 − 1) give different streams instead of silently the same one.
    const high = Math.floor(seed / 2 ** 32);
    this.#state = ((seed >>> 0) ^ 0x9e3779b9 ^ (high === 0 ? 0 : Math.imul(high, 0x85ebca6b))) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box–Muller, two at a time). */
  normal(): number {
    if (this.#spare !== undefined) {
      const spare = this.#spare;
      this.#spare = undefined;
      return spare;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    checkNumber(n, 'n', 'a positive safe integer', (v) => Number.isSafeInteger(v) && v > 0);
    return this.#int(n);
  }

  #int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Float32 data drawn from N(0, std²). */
  normalArray(n: number, std = 1): Float32Array {
    checkNumber(n, 'n', `an element count in [0, ${MAX_ELEMENTS}]`, isCount);
    checkNumber(std, 'std', 'a finite number', Number.isFinite);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * std;
    return out;
  }

  /** Fisher–Yates shuffle of `items`, in place. */
  shuffle<T>(items: T[]): T[] {
    if (!Array.isArray(items)) throw expectationError('E_VALUE', 'items', 'an array', describeValue(items));
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.#int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
