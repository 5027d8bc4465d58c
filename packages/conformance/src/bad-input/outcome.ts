import { type FaErrorCode, isFaError } from '@fa/core';

/** What one call did: returned, threw, or neither within the time allowed. */
export type Outcome = { kind: 'value'; value: unknown } | { kind: 'error'; error: unknown } | { kind: 'hang' };

/**
 * Runs `call` (sync or async) and reports what happened. A call that neither settles nor throws within
 * `timeoutMs` is a hang: bad input must be answered, never left waiting.
 */
export async function outcomeOf(call: () => unknown, timeoutMs = 20_000): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'hang' }), timeoutMs);
  });
  const settled = (async (): Promise<Outcome> => {
    try {
      return { kind: 'value', value: await call() };
    } catch (error) {
      return { kind: 'error', error };
    }
  })();
  try {
    return await Promise.race([settled, hang]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ExpectedRejection {
  /** The argument the error must name, e.g. `cuSeqlensQ`, or a prefix such as `q` for `q.shape`. */
  readonly argument: string;
  /** Acceptable codes; any FaError code when omitted. */
  readonly codes?: readonly FaErrorCode[];
}

/**
 * Why `outcome` is not the typed rejection expected, or undefined when it is. The error must be an FaError with an
 * allowed code, name the argument in `argument` (or a dotted path under it) and quote it in the message.
 */
export function rejectionProblem(outcome: Outcome, expected: ExpectedRejection): string | undefined {
  if (outcome.kind === 'hang') return 'the call hung';
  if (outcome.kind === 'value') return 'the call was accepted';
  const { error } = outcome;
  if (!isFaError(error)) return `threw a non-FaError: ${String(error)}`;
  if (expected.codes && !expected.codes.includes(error.code)) {
    return `threw ${error.code} (expected ${expected.codes.join(' or ')}): ${error.message}`;
  }
  const named = error.argument;
  if (named === undefined || !(named === expected.argument || named.startsWith(`${expected.argument}.`))) {
    return `named \`${String(named)}\` instead of \`${expected.argument}\`: ${error.message}`;
  }
  if (!error.message.includes(`\`${named}\``)) return `the message does not quote \`${named}\`: ${error.message}`;
  return undefined;
}
