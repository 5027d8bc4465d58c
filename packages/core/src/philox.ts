import { describeValue, expectationError } from './errors.js';

/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based generator,
 * so any backend can compute the dropout decision of one score from its coordinates alone, in any order, with
 * no state to carry between kernels. Every backend must reproduce `philox4x32` bit for bit.
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers, exact in float64 arithmetic. */
export function mulhi32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const lowLow = al * bl;
  const lowHigh = al * bh;
  const highLow = ah * bl;
  const carry = (lowLow >>> 16) + (lowHigh & 0xffff) + (highLow & 0xffff);
  return (ah * bh + (lowHigh >>> 16) + (highLow >>> 16) + (carry >>> 16)) >>> 0;
}

/**
 * Writes the four 32-bit outputs for counter (c0, c1, c2, c3) and key (k0, k1) into `out[0..3]`.
 * `out` is passed in so that hot loops allocate nothing.
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(PHILOX_M0, x0);
    const lo0 = Math.imul(PHILOX_M0, x0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, x2);
    const lo1 = Math.imul(PHILOX_M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
    key0 = (key0 + PHILOX_W0) >>> 0;
    key1 = (key1 + PHILOX_W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** The dropout seed as the two 32-bit words of Philox's key. Seeds are integers in [0, 2^53). */
export interface DropoutSeed {
  readonly lo: number;
  readonly hi: number;
}

export function splitSeed(seed: number): DropoutSeed {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw expectationError('E_VALUE', 'seed', 'an integer in [0, 2^53)', describeValue(seed));
  }
  return { lo: seed >>> 0, hi: Math.floor(seed / 4294967296) >>> 0 };
}

/**
 * The 32-bit threshold below which a random word drops its score: keep iff `word >= threshold`.
 * Computed once on the host and handed to kernels as an integer so that no backend's float rounding can move
 * a decision.
 */
export function dropoutThreshold(dropoutP: number): number {
  if (typeof dropoutP !== 'number' || !(dropoutP >= 0 && dropoutP < 1)) {
    throw expectationError('E_VALUE', 'dropoutP', 'a probability in [0, 1)', describeValue(dropoutP));
  }
  return Math.min(4294967295, Math.floor(dropoutP * 4294967296));
}

/**
 * Generates keep/drop decisions for one row of scores with the library's dropout rule:
 * counter = (floor(col / 4), row, head, batch), key = seed, the score at `col` uses output word `col % 4`.
 * `row`/`col` are positions inside the sequence, `head` the query head, `batch` the sequence index.
 */
export class DropoutMask {
  private readonly words = new Uint32Array(4);
  private cachedGroup = -1;
  private cachedRow = -1;
  private cachedHead = -1;
  private cachedBatch = -1;

  constructor(
    readonly seed: DropoutSeed,
    readonly threshold: number,
  ) {
    const isWord = (w: unknown) => typeof w === 'number' && Number.isInteger(w) && w >= 0 && w <= 4294967295;
    if (seed === null || typeof seed !== 'object' || !isWord(seed.lo) || !isWord(seed.hi)) {
      throw expectationError(
        'E_VALUE',
        'seed',
        'a DropoutSeed { lo, hi } of 32-bit words (see splitSeed)',
        describeValue(seed),
      );
    }
    if (!isWord(threshold)) {
      throw expectationError(
        'E_VALUE',
        'threshold',
        'a 32-bit threshold (see dropoutThreshold)',
        describeValue(threshold),
      );
    }
  }

  keep(batch: number, head: number, row: number, col: number): boolean {
    const group = col >>> 2;
    if (
      group !== this.cachedGroup ||
      row !== this.cachedRow ||
      head !== this.cachedHead ||
      batch !== this.cachedBatch
    ) {
      philox4x32(group, row, head, batch, this.seed.lo, this.seed.hi, this.words);
      this.cachedGroup = group;
      this.cachedRow = row;
      this.cachedHead = head;
      this.cachedBatch = batch;
    }
    return (this.words[col & 3] as number) >= this.threshold;
  }
}
