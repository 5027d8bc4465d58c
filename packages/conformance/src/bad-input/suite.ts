import {
  createReferenceBackend,
  type FloatDType,
  referenceAttnBackward,
  registerBackend,
  unregisterBackend,
} from '@fa/core';
import { Random, randomHostTensor } from '@fa/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareToReference, type Quantity, withinStorageSteps } from '../compare.js';
import type { Facade, FacadeTensor, Target } from '../facade.js';
import { type AttnCall, buildCall, type CallSpec, numHeadsOf, sumOf } from './calls.js';
import { forwardMutations, type Mutation } from './mutations.js';
import { outcomeOf, rejectionProblem } from './outcome.js';

export interface BadInputOptions extends Target {
  /** Random calls per property (default 300; the FA_FUZZ_RUNS environment variable overrides it). */
  readonly runs?: number;
  /** Storage dtypes the backend computes (default all three). */
  readonly dtypes?: readonly FloatDType[];
}

function specArbitrary(dtypes: readonly FloatDType[]): fc.Arbitrary<CallSpec> {
  const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  return fc
    .record({
      lengths: fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })), {
        minLength: 1,
        maxLength: 3,
      }),
      numHeadsK: fc.integer({ min: 1, max: 2 }),
      groups: fc.integer({ min: 1, max: 3 }),
      headDim: fc.integer({ min: 1, max: 13 }),
      headDimV: fc.integer({ min: 1, max: 13 }),
      dtype: fc.constantFrom(...dtypes),
      causal: fc.boolean(),
      window: optional(fc.tuple(fc.integer({ min: -1, max: 4 }), fc.integer({ min: -1, max: 4 }))),
      softcap: optional(fc.constantFrom(0, 2.5, 20)),
      alibi: fc.boolean(),
      dropoutP: optional(fc.constantFrom(0, 0.2)),
    })
    .map(({ lengths, ...rest }) => ({
      ...rest,
      lengthsQ: lengths.map(([q]) => q),
      lengthsK: lengths.map(([, k]) => k),
    }));
}

/** Host gradient inputs of the right shapes for `spec`: validation must run before anything reads them. */
function backwardExtras(spec: CallSpec, random: Random) {
  const totalQ = sumOf(spec.lengthsQ);
  const numHeads = numHeadsOf(spec);
  return {
    dout: randomHostTensor(random, [totalQ, numHeads, spec.headDimV], spec.dtype),
    out: randomHostTensor(random, [totalQ, numHeads, spec.headDimV], spec.dtype),
    lse: randomHostTensor(random, [numHeads, totalQ], 'f32'),
  };
}

interface BackwardMutation {
  readonly name: string;
  readonly argument: string;
  readonly codes: Mutation['codes'];
  readonly applies?: (spec: CallSpec) => boolean;
  readonly mutate: (extras: Record<string, unknown>, call: AttnCall, spec: CallSpec, random: Random) => void;
}

const otherDtype = (dtype: FloatDType): FloatDType => (dtype === 'f32' ? 'bf16' : 'f32');

const backwardMutations: readonly BackwardMutation[] = [
  {
    name: 'dout: one column more',
    argument: 'dout',
    codes: ['E_SHAPE'],
    mutate: (x, _c, s, r) =>
      void (x.dout = randomHostTensor(r, [sumOf(s.lengthsQ), numHeadsOf(s), s.headDimV + 1], s.dtype)),
  },
  {
    name: 'dout: another dtype',
    argument: 'dout',
    codes: ['E_DTYPE'],
    mutate: (x, _c, s, r) =>
      void (x.dout = randomHostTensor(r, [sumOf(s.lengthsQ), numHeadsOf(s), s.headDimV], otherDtype(s.dtype))),
  },
  {
    name: 'dout: missing',
    argument: 'dout',
    codes: ['E_VALUE', 'E_SHAPE'],
    mutate: (x) => void (x.dout = undefined),
  },
  {
    name: 'out: rank 2',
    argument: 'out',
    codes: ['E_SHAPE'],
    mutate: (x, _c, s, r) =>
      void (x.out = randomHostTensor(r, [sumOf(s.lengthsQ), numHeadsOf(s) * s.headDimV], s.dtype)),
  },
  {
    name: 'lse: one row more',
    argument: 'lse',
    codes: ['E_SHAPE'],
    mutate: (x, _c, s, r) => void (x.lse = randomHostTensor(r, [numHeadsOf(s), sumOf(s.lengthsQ) + 1], 'f32')),
  },
  {
    name: 'lse: (total_q, nheads) instead of (nheads, total_q)',
    argument: 'lse',
    codes: ['E_SHAPE'],
    applies: (s) => sumOf(s.lengthsQ) !== numHeadsOf(s),
    mutate: (x, _c, s, r) => void (x.lse = randomHostTensor(r, [sumOf(s.lengthsQ), numHeadsOf(s)], 'f32')),
  },
  {
    name: 'lse: f16 instead of f32',
    argument: 'lse',
    codes: ['E_DTYPE'],
    mutate: (x, _c, s, r) => void (x.lse = randomHostTensor(r, [numHeadsOf(s), sumOf(s.lengthsQ)], 'f16')),
  },
  {
    name: 'seed: missing while dropout is on',
    argument: 'seed',
    codes: ['E_VALUE'],
    mutate: (_x, call) => {
      call.options.dropoutP = 0.25;
      delete call.options.seed;
    },
  },
];

/** Calls that look unusual but are valid: each must be computed, and computed right. */
const acceptedVariations: ReadonlyArray<{ name: string; vary: (call: AttnCall, spec: CallSpec) => void }> = [
  {
    name: 'maxSeqlen above the longest sequence',
    vary: (call, spec) => {
      call.options.maxSeqlenQ = Math.max(...spec.lengthsQ) + 5;
      call.options.maxSeqlenK = Math.max(...spec.lengthsK) + 1;
    },
  },
  {
    name: 'every default written out',
    vary: (call) => {
      call.options.softcap ??= 0;
      call.options.dropoutP ??= 0;
      call.options.windowSize ??= [-1, -1];
      call.options.deterministic = false;
    },
  },
  {
    name: 'a window wider than every sequence',
    vary: (call) => {
      call.options.windowSize = [1000, 1000];
    },
  },
  {
    name: 'cu_seqlens as plain number[] (Q) and a Float64Array of integers (K)',
    vary: (call) => {
      call.options.cuSeqlensQ = Array.from(call.options.cuSeqlensQ as Int32Array);
      call.options.cuSeqlensK = Float64Array.from(call.options.cuSeqlensK as Int32Array);
    },
  },
  { name: 'as drawn', vary: () => {} },
];

function disposeAll(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  for (const item of Object.values(value)) {
    if (item && typeof (item as FacadeTensor).dispose === 'function') (item as FacadeTensor).dispose();
  }
}

/** The façade's forward on a call whose arguments are loosely typed on purpose. */
function forwardOf(facade: Facade, call: AttnCall, backend: string) {
  return facade.flashAttnVarlen(call.q, call.k, call.v, { ...call.options, backend });
}

/** The float64 reference (or the same-precision one) for a call and an output gradient. */
function referenceOf(call: AttnCall, dout: unknown, precision?: FloatDType) {
  const config = precision === undefined ? undefined : { precision };
  return referenceAttnBackward(
    dout as never,
    call.q as never,
    call.k as never,
    call.v as never,
    call.options as never,
    config,
  );
}

/**
 * Declares the bad-input properties for one backend: random wrong calls are rejected with a typed error naming the
 * argument (never a crash, a hang or an answer), and random unusual-but-valid calls are computed right.
 */
export function describeBadInputs(options: BadInputOptions): void {
  const { facade, backend, dtypes = ['f32', 'f16', 'bf16'] } = options;
  // FA_FUZZ_RUNS turns the same properties into a longer hunt without editing tests.
  const runs = Number(process.env.FA_FUZZ_RUNS) || options.runs || 300;
  const specs = specArbitrary(dtypes);
  const seeds = fc.integer({ min: 0, max: 2 ** 31 - 1 });

  describe(`bad input: ${backend}`, () => {
    const foreign = `bad-input-foreign-${backend}`;
    beforeAll(() => registerBackend(foreign, () => createReferenceBackend(foreign)));
    afterAll(() => void unregisterBackend(foreign));

    it('rejects every wrong forward call with a typed error naming the argument', async () => {
      const property = fc.asyncProperty(specs, fc.constantFrom(...forwardMutations), seeds, async (spec, m, seed) => {
        fc.pre(m.applies === undefined || m.applies(spec));
        const random = new Random(seed);
        const call = buildCall(spec, random);
        call.options.backend = backend;
        m.mutate(call, spec, random);
        const outcome = await outcomeOf(() => facade.flashAttnVarlen(call.q, call.k, call.v, call.options));
        if (outcome.kind === 'value') disposeAll(outcome.value);
        expect(rejectionProblem(outcome, m), m.name).toBeUndefined();
      });
      await fc.assert(property, { numRuns: runs });
    });

    it('rejects every wrong backward call, through the same validation and its own', async () => {
      const all = [
        ...forwardMutations.map((m) => ({
          ...m,
          mutate: (_x: Record<string, unknown>, c: AttnCall, s: CallSpec, r: Random) => m.mutate(c, s, r),
        })),
        ...backwardMutations,
      ];
      const property = fc.asyncProperty(specs, fc.constantFrom(...all), seeds, async (spec, m, seed) => {
        fc.pre(m.applies === undefined || m.applies(spec));
        const random = new Random(seed);
        const call = buildCall(spec, random);
        call.options.backend = backend;
        const extras: Record<string, unknown> = backwardExtras(spec, random);
        m.mutate(extras, call, spec, random);
        const outcome = await outcomeOf(() =>
          facade.flashAttnVarlenBackward(extras.dout, call.q, call.k, call.v, extras.out, extras.lse, call.options),
        );
        if (outcome.kind === 'value') disposeAll(outcome.value);
        expect(rejectionProblem(outcome, m), m.name).toBeUndefined();
      });
      await fc.assert(property, { numRuns: runs });
    });

    it('rejects a disposed tensor and a result of another backend, and stays usable', async () => {
      const spec: CallSpec = {
        lengthsQ: [3, 0, 5],
        lengthsK: [4, 2, 5],
        numHeadsK: 1,
        groups: 2,
        headDim: 5,
        headDimV: 5,
        dtype: 'f32',
        causal: true,
        window: undefined,
        softcap: undefined,
        alibi: false,
        dropoutP: undefined,
      };
      const random = new Random(Date.now() >>> 0);
      const call = buildCall(spec, random);
      const q = facade.tensor(call.q);
      q.dispose();
      const disposed = await outcomeOf(() => facade.flashAttnVarlen(q, call.k, call.v, { ...call.options, backend }));
      expect(rejectionProblem(disposed, { argument: 'q', codes: ['E_DISPOSED'] })).toBeUndefined();

      // Tensors made from host data go to any backend; results of another backend are refused, naming the move.
      const inputs = { ...call, q: facade.tensor(call.q), k: facade.tensor(call.k), v: facade.tensor(call.v) };
      const elsewhere = await forwardOf(facade, inputs, foreign);
      const { dout } = backwardExtras(spec, random);
      const mismatch = await outcomeOf(() =>
        facade.flashAttnVarlenBackward(dout, inputs.q, inputs.k, inputs.v, elsewhere.out, elsewhere.lse, {
          ...call.options,
          backend,
        }),
      );
      expect(rejectionProblem(mismatch, { argument: 'out', codes: ['E_BACKEND_MISMATCH'] })).toBeUndefined();
      expect(String(mismatch.kind === 'error' && mismatch.error)).toContain('await out.to(');
      elsewhere.out.dispose();
      elsewhere.out.dispose();
      elsewhere.lse.dispose();

      // The same call with the same tensors, now valid, still computes: the rejections left nothing behind.
      const exact = referenceOf(call, dout);
      const result = await forwardOf(facade, inputs, backend);
      try {
        const c = compareToReference('out', 'f32', await result.out.toArray(), exact.out, null);
        expect(c.pass, `${c.maxError} > ${c.tolerance}`).toBe(true);
      } finally {
        for (const t of [result.out, result.lse, inputs.q, inputs.k, inputs.v]) t.dispose();
      }
    });

    it('computes unusual but valid calls exactly as the reference does', async () => {
      const property = fc.asyncProperty(
        specs,
        fc.constantFrom(...acceptedVariations),
        seeds,
        async (spec, variation, seed) => {
          const random = new Random(seed);
          const call = buildCall(spec, random);
          variation.vary(call, spec);
          const { dout } = backwardExtras(spec, random);
          const precision = spec.dtype === 'f32' ? null : spec.dtype;
          const exact = referenceOf(call, dout);
          const low = precision ? referenceOf(call, dout, precision) : null;
          const forward = await forwardOf(facade, call, backend);
          try {
            const grads = await facade.flashAttnVarlenBackward(dout, call.q, call.k, call.v, forward.out, forward.lse, {
              ...call.options,
              backend,
            });
            try {
              const compare = (quantity: Quantity, actual: ArrayLike<number>) =>
                withinStorageSteps(
                  compareToReference(quantity, spec.dtype, actual, exact[quantity], low?.[quantity] ?? null),
                  spec.dtype,
                  exact[quantity],
                );
              const comparisons = [
                compare('out', await forward.out.toArray()),
                compare('lse', await forward.lse.toArray()),
                compare('dq', await grads.dq.toArray()),
                compare('dk', await grads.dk.toArray()),
                compare('dv', await grads.dv.toArray()),
              ];
              for (const c of comparisons) {
                expect(
                  c.pass,
                  `${variation.name}: ${c.quantity} error ${c.maxError} > ${c.tolerance} (${c.rule})`,
                ).toBe(true);
              }
            } finally {
              disposeAll(grads);
            }
          } finally {
            disposeAll(forward);
          }
        },
      );
      await fc.assert(property, { numRuns: Math.max(10, Math.floor(runs / 5)) });
    });
  });
}
