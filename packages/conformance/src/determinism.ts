import { isFaError } from '@fa/core';
import { type AttnCase, attnInputs, fixedCases, freshSeed } from '@fa/testkit';
import { describe, expect, it } from 'vitest';
import type { FacadeTensor, Target } from './facade.js';

export interface DeterminismOptions extends Target {
  /**
   * Other registered backends that must give the very same bits: the same kernels with another thread count,
   * say. Their capabilities must promise determinism too.
   */
  readonly sameBitsAs?: readonly string[];
  /** How many copies of each call run at once in the concurrent round (default 3). */
  readonly concurrent?: number;
}

type Quantity = 'out' | 'lse' | 'dq' | 'dk' | 'dv';
const QUANTITIES: readonly Quantity[] = ['out', 'lse', 'dq', 'dk', 'dv'];
/** The raw storage of every result: bits, never values, so that a one-ulp difference (or a NaN's) shows. */
export type ResultBits = Readonly<Record<Quantity, Uint8Array>>;

/**
 * Cases where order could change bits: several key tiles summed into each output row and dQ row, GQA groups
 * summed into dK/dV, dropout, every dtype.
 */
const CASE_NAMES = ['everything at once', 'long sequence over several tiles', 'f16: causal GQA', 'bf16: dropout'];

function determinismCases(): AttnCase[] {
  return CASE_NAMES.map((name) => fixedCases().find((c) => c.name === name) as AttnCase);
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

/** One forward and backward with `deterministic: true` on `backend`, from inputs drawn with `seed`. */
export async function resultBits({ facade, backend }: Target, testCase: AttnCase, seed: number): Promise<ResultBits> {
  const host = attnInputs(testCase, seed);
  const [q, k, v, dout] = [
    facade.tensor(host.q),
    facade.tensor(host.k),
    facade.tensor(host.v),
    facade.tensor(host.dout),
  ];
  const options = { ...host.options, backend, deterministic: true };
  const inputs: FacadeTensor[] = [q, k, v, dout];
  try {
    const { out, lse } = await facade.flashAttnVarlen(q, k, v, options);
    const grads = await facade.flashAttnVarlenBackward(dout, q, k, v, out, lse, options);
    const results = { out, lse, ...grads };
    inputs.push(...Object.values(results));
    const entries = await Promise.all(
      QUANTITIES.map(async (quantity) => [quantity, bytesOf((await results[quantity].toHost()).data)] as const),
    );
    return Object.fromEntries(entries) as Record<Quantity, Uint8Array>;
  } finally {
    for (const t of inputs) t.dispose();
  }
}

/** The first quantity and byte where two runs differ, or null when every bit agrees. */
export function firstDifference(a: ResultBits, b: ResultBits): string | null {
  for (const quantity of QUANTITIES) {
    const [x, y] = [a[quantity], b[quantity]];
    if (x.length !== y.length) return `${quantity}: ${x.length} bytes vs ${y.length}`;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `${quantity}: byte ${i} (${x[i]} vs ${y[i]})`;
  }
  return null;
}

/**
 * Runs `testCase` on `backend` with `deterministic: true` twice in a row, `concurrent` times at once, and once on
 * each of `sameBitsAs`, and returns where the first run's bits and another's differ, or null when none do.
 */
export async function checkDeterminism(
  target: Target,
  testCase: AttnCase,
  seed: number,
  { sameBitsAs = [], concurrent = 3 }: Omit<DeterminismOptions, keyof Target> = {},
): Promise<string | null> {
  const first = await resultBits(target, testCase, seed);
  const runs: Array<[string, () => Promise<ResultBits>]> = [
    ['the second run', () => resultBits(target, testCase, seed)],
    [
      `one of ${concurrent} concurrent runs`,
      async () => {
        const together = await Promise.all(
          Array.from({ length: concurrent }, () => resultBits(target, testCase, seed)),
        );
        return together.find((bits) => firstDifference(first, bits) !== null) ?? first;
      },
    ],
    ...sameBitsAs.map((other): [string, () => Promise<ResultBits>] => [
      `backend "${other}"`,
      () => resultBits({ facade: target.facade, backend: other }, testCase, seed),
    ]),
  ];
  for (const [which, run] of runs) {
    const difference = firstDifference(first, await run());
    if (difference) return `${which} differs from the first at ${difference}`;
  }
  return null;
}

/**
 * Declares the determinism check for one backend. When its capabilities promise `deterministic: true`, a call
 * with that option gives bit-identical out, lse, dq, dk and dv run after run, with other calls in flight, and on
 * every backend of `sameBitsAs`. When they do not, the option is refused with E_UNSUPPORTED naming it.
 */
export function describeDeterminism(options: DeterminismOptions): void {
  const { facade, backend, ...rest } = options;
  const target = { facade, backend };
  const seed = freshSeed();

  describe(`determinism: ${backend}`, () => {
    for (const testCase of determinismCases()) {
      it(`${testCase.name}: the same bits on every run`, async () => {
        if (!(await facade.getBackend(backend)).capabilities.deterministic) {
          const error = await resultBits(target, testCase, seed).catch((e: unknown) => e);
          expect(isFaError(error, 'E_UNSUPPORTED') && error.argument).toBe('deterministic');
          return;
        }
        for (const other of rest.sameBitsAs ?? []) {
          expect((await facade.getBackend(other)).capabilities.deterministic, `${other} promises determinism`).toBe(
            true,
          );
        }
        expect(await checkDeterminism(target, testCase, seed, rest), `input seed ${seed}`).toBeNull();
      });
    }
  });
}
