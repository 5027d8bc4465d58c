import { type Outcome, outcomeOf, rejectionProblem } from '@fa/conformance';
import type { FaError } from '@fa/core';

/** A function that validates its arguments: every wrong one must earn a typed error naming it. */
export interface CheckedSpec {
  readonly kind: 'checked';
  readonly call: (...args: never[]) => unknown;
  /** Valid arguments, made fresh for every call. */
  readonly args: () => unknown[];
  /**
   * The name errors must give each argument (or the names, when a bad bag is named by the field it lacks); null
   * for a position not swept.
   */
  readonly names: readonly (string | readonly string[] | null)[];
  /** Junk values that are in fact valid at a position (an omitted options bag, an empty batch). */
  readonly valid?: Readonly<Record<number, readonly unknown[]>>;
  /**
   * Plain objects among the valid arguments that are not options bags, by the path errors would give them
   * (`problem`, `options.env`), each with why: a result of another function, an environment such as
   * process.env. Every other plain object but a host tensor `{ data, shape }` is an options bag, found by
   * `optionsBags`, and the sweep misspells each of its keys in turn.
   */
  readonly notOptions?: Readonly<Record<string, string>>;
}

/**
 * A total function: scalar math with IEEE semantics, type guards, formatters. It must answer every input it is
 * given with a well-typed result (NaN in, NaN out) rather than throw.
 */
export interface TotalSpec {
  readonly kind: 'total';
  readonly call: (...args: never[]) => unknown;
  readonly samples: readonly (readonly unknown[])[];
  readonly returns: (result: unknown) => boolean;
}

/** Exported for a reason that makes sweeping it meaningless; the reason is written down. */
export interface ExemptSpec {
  readonly kind: 'exempt';
  readonly reason: string;
}

export type Spec = CheckedSpec | TotalSpec | ExemptSpec;

/** Values no argument of this library should take without a typed complaint. */
export const JUNK: readonly unknown[] = [
  undefined,
  null,
  Number.NaN,
  -1,
  1.5,
  2 ** 40,
  'junk',
  {},
  [],
  [Number.NaN],
  1n,
  Symbol('junk'),
  new Float64Array(3),
  () => 1,
];

export function describeJunk(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Where an options bag sits in the arguments: the path errors give it, its argument and the keys down to it. */
export interface OptionsBag {
  readonly path: string;
  readonly position: number;
  readonly within: readonly (string | number)[];
  readonly keys: readonly string[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Host tensors are plain objects too, but tensors, not options. */
const isHostTensor = (value: Record<string, unknown>) => 'data' in value && 'shape' in value;

/**
 * The options bags among `args`: every plain object that is not a host tensor nor listed in `spec.notOptions`,
 * nested ones (`options.tilingLimits`, `options.tilingLimits.shapes.forward[0]`) included. A bag at a position
 * the spec does not name cannot be swept under its name, which is a problem of the spec, returned as such.
 */
export function optionsBags(spec: CheckedSpec, args: readonly unknown[]): { bags: OptionsBag[]; unnamed: number[] } {
  const bags: OptionsBag[] = [];
  const unnamed: number[] = [];
  const walk = (value: unknown, path: string, position: number, within: (string | number)[]): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`, position, [...within, i]));
    } else if (isPlainObject(value) && !isHostTensor(value) && !(path in (spec.notOptions ?? {}))) {
      bags.push({ path, position, within, keys: Object.keys(value) });
      for (const [key, item] of Object.entries(value)) walk(item, `${path}.${key}`, position, [...within, key]);
    }
  };
  args.forEach((arg, position) => {
    const name = spec.names[position];
    const found = bags.length;
    walk(arg, typeof name === 'string' ? name : (name?.[0] ?? `<argument ${position}>`), position, []);
    if ((name === null || name === undefined) && bags.length > found) {
      bags.length = found;
      unnamed.push(position);
    }
  });
  return { bags, unnamed };
}

/** `causal` → `cuasal`: two neighbouring letters swapped, one edit from the key meant. */
export function misspell(key: string): string {
  const at = [1, 0].find((i) => i + 1 < key.length && key[i] !== key[i + 1]);
  if (at === undefined) return `${key}${key.slice(-1)}`;
  return key.slice(0, at) + key[at + 1] + key[at] + key.slice(at + 2);
}

/** What is wrong with the answer to a call whose `argument` is a misspelling of `meant` (undefined: nothing). */
function misspeltKeyProblem(outcome: Outcome, argument: string, meant: string | undefined): string | undefined {
  const problem = rejectionProblem(outcome, { argument, codes: ['E_VALUE'] });
  if (problem !== undefined || outcome.kind !== 'error') return problem;
  const error = outcome.error as FaError;
  // rejectionProblem accepts a field below the argument; a misspelt key has none.
  if (error.argument !== argument) return `named \`${error.argument}\`: ${error.message}`;
  if (meant !== undefined && !error.message.includes(`did you mean \`${meant}\`?`)) {
    return `does not suggest \`${meant}\`: ${error.message}`;
  }
  return undefined;
}

/**
 * For every options bag of the valid arguments, every key renamed to a misspelling of itself (a bag without keys
 * gains an unknown one): each call must be refused with E_VALUE naming the misspelt key by its path, and (when
 * a key was misspelt) suggesting the key meant.
 */
async function sweepMisspeltKeys(spec: CheckedSpec): Promise<string[]> {
  const problems: string[] = [];
  const { bags, unnamed } = optionsBags(spec, spec.args());
  for (const position of unnamed) {
    problems.push(`argument ${position} holds an options bag but has no name in the spec to sweep it under`);
  }
  for (const bag of bags) {
    for (const key of bag.keys.length > 0 ? bag.keys : [undefined]) {
      const typo = key === undefined ? 'unknownOption' : misspell(key);
      const args = spec.args();
      const target = bag.within.reduce<unknown>(
        (value, step) => (value as Record<string | number, unknown>)[step],
        args[bag.position],
      ) as Record<string, unknown>;
      target[typo] = key === undefined ? true : target[key];
      if (key !== undefined) delete target[key];
      const outcome = await outcomeOf(() => (spec.call as (...a: unknown[]) => unknown)(...args), 10_000);
      const problem = misspeltKeyProblem(outcome, `${bag.path}.${typo}`, key);
      if (problem) problems.push(`options bag \`${bag.path}\` with \`${key}\` misspelt as \`${typo}\`: ${problem}`);
    }
  }
  return problems;
}

/**
 * Every wrong-argument call of `spec`, with the problem found in each (empty when all were answered right):
 * junk at each named position, then a misspelt key in each options bag.
 */
export async function sweepChecked(spec: CheckedSpec): Promise<string[]> {
  const problems: string[] = [];
  // The valid arguments must work, or every rejection below could be the fixture's fault rather than the junk's.
  const baseline = await outcomeOf(() => (spec.call as (...a: unknown[]) => unknown)(...spec.args()), 10_000);
  if (baseline.kind !== 'value') {
    const why = baseline.kind === 'hang' ? 'hung' : `threw ${String(baseline.error)}`;
    return [`the valid arguments ${why}`];
  }
  const positions = spec.names.length;
  for (let i = 0; i < positions; i++) {
    const name = spec.names[i];
    if (name === null || name === undefined) continue;
    for (const junk of JUNK) {
      // Compared by description: `{}` written in a spec is not the JUNK object, but it is the same value.
      if (spec.valid?.[i]?.some((v) => typeof v === typeof junk && describeJunk(v) === describeJunk(junk))) continue;
      const args = spec.args();
      args[i] = junk;
      const outcome = await outcomeOf(() => (spec.call as (...a: unknown[]) => unknown)(...args), 10_000);
      const accepted = typeof name === 'string' ? [name] : name;
      const found = accepted.map((argument) => rejectionProblem(outcome, { argument }));
      if (found.every((p) => p !== undefined)) {
        problems.push(`argument ${i} (\`${accepted.join('` or `')}\`) = ${describeJunk(junk)}: ${found[0]}`);
      }
    }
  }
  return [...problems, ...(await sweepMisspeltKeys(spec))];
}

export async function sweepTotal(spec: TotalSpec): Promise<string[]> {
  const problems: string[] = [];
  for (const sample of spec.samples) {
    const outcome = await outcomeOf(() => (spec.call as (...a: unknown[]) => unknown)(...sample), 10_000);
    const shown = sample.map(describeJunk).join(', ');
    if (outcome.kind === 'hang') problems.push(`(${shown}) hung`);
    else if (outcome.kind === 'error') problems.push(`(${shown}) threw ${String(outcome.error)}`);
    else if (!spec.returns(outcome.value)) problems.push(`(${shown}) returned ${describeJunk(outcome.value)}`);
  }
  return problems;
}
