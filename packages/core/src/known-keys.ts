import { describeValue, expectationError, FaError, isOptionsBag } from './errors.js';

/**
 * Unknown keys in options bags. A misspelt option (`{ casual: true }`) that is read as "not given" runs the call
 * with the default: a wrong answer that looks right. So every public function rejects keys it does not know, and
 * names the nearest one it does.
 */

/** The keys of `T` a key list leaves out; `never` when it lists them all. */
type MissingKeys<T, K extends readonly PropertyKey[]> = Exclude<keyof T, K[number]>;

/**
 * Every key of the options interface `T` as a frozen runtime list that the compiler holds to the interface: a
 * name `T` lacks does not compile, and neither does a list that leaves one of `T`'s keys out (the error shows
 * `missingKeys`). Curried so that `T` is written and the list inferred:
 *
 * ```ts
 * export const ATTN_OPTION_KEYS = optionKeys<AttnOptions>()(['cuSeqlensQ', 'cuSeqlensK', 'causal', ...]);
 * ```
 */
export function optionKeys<T extends object>(): <const K extends readonly (keyof T & string)[]>(
  keys: K & ([MissingKeys<T, K>] extends [never] ? unknown : { readonly missingKeys: MissingKeys<T, K> }),
) => K {
  return (keys) => Object.freeze([...keys]) as unknown as typeof keys;
}

/**
 * Edits between two strings, counting an insertion, a deletion, a substitution or a swap of two neighbours as
 * one (optimal string alignment, the restricted Damerau–Levenshtein distance): `casual` is one edit from `causal`.
 */
export function editDistance(a: string, b: string): number {
  // Three rows of the dynamic programme: a swap looks two rows back.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (before[j - 2] as number) + 1);
      }
      current[j] = best;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length] as number;
}

/**
 * The known key `key` was most likely meant to be, or undefined when none is close: at most max(2, length / 3)
 * edits, ignoring case, and fewer edits than the longer of the two has characters (so that `x` does not suggest
 * `lr`). Ties go to the key listed first.
 */
export function nearestKey(key: string, knownKeys: readonly string[]): string | undefined {
  let nearest: string | undefined;
  let nearestDistance = Number.POSITIVE_INFINITY;
  for (const known of knownKeys) {
    const distance = editDistance(key.toLowerCase(), known.toLowerCase());
    const close = distance <= Math.max(2, Math.floor(key.length / 3)) && distance < Math.max(key.length, known.length);
    if (close && distance < nearestDistance) [nearest, nearestDistance] = [known, distance];
  }
  return nearest;
}

/** `options.casual`, or `options["max-len"]` for a key that is not an identifier. */
function keyPath(argument: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${argument}.${key}` : `${argument}[${JSON.stringify(key)}]`;
}

/**
 * Throws `E_VALUE` when the options bag `bag` (named `argument` in errors) has an own enumerable string key that is
 * not in `knownKeys`. The error names the key with its path (`options.casual`, `options.tilingLimits.shape`),
 * `expected` lists the known keys, `received` is the key, and the message suggests the nearest known key ("did
 * you mean `causal`?") or, when none is close, lists them all.
 *
 * A key whose value is `undefined` is still unknown: a typo is a typo. Symbol keys are ignored: nobody misspells
 * a symbol, and libraries tag objects with them (`util.inspect.custom`, brands), so a bag built by spreading such
 * an object stays valid. Inherited keys are ignored too, as they are by object spread.
 */
export function checkKnownKeys(bag: unknown, argument: string, knownKeys: readonly string[]): void {
  if (!isOptionsBag(bag)) throw expectationError('E_VALUE', argument, 'an options object', describeValue(bag));
  for (const key of Object.keys(bag)) {
    if (knownKeys.includes(key)) continue;
    const path = keyPath(argument, key);
    const suggestion = nearestKey(key, knownKeys);
    const hint =
      suggestion !== undefined
        ? `did you mean \`${suggestion}\`?`
        : knownKeys.length === 0
          ? `\`${argument}\` takes no keys.`
          : `expected one of ${knownKeys.map((k) => `\`${k}\``).join(', ')}.`;
    throw new FaError('E_VALUE', `Unknown key \`${path}\`: ${hint}`, {
      argument: path,
      expected: knownKeys.length === 0 ? 'no keys' : `one of ${knownKeys.join(', ')}`,
      received: key,
    });
  }
}
