import { outcomeOf, rejectionProblem } from '@fa/conformance';

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

/** Every wrong-argument call of `spec`, with the problem found in each (empty when all were answered right). */
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
  return problems;
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
