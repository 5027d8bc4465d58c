/**
 * Flag parsing. Written by hand rather than taken from a library so that the CLI has no runtime dependency
 * outside the workspace, and so that every mistake gets one precise message (a `UsageError`, exit code 2).
 */

/** A mistake in how the command was called: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface BaseFlag {
  /** Long name without the dashes, e.g. `head-dim`. */
  readonly name: string;
  readonly description: string;
  /** Shown in `--help` after the flag, e.g. `N`. */
  readonly placeholder?: string;
}

export type FlagSpec =
  | (BaseFlag & { readonly type: 'boolean'; readonly default?: boolean })
  | (BaseFlag & { readonly type: 'int'; readonly default?: number; readonly min?: number; readonly max?: number })
  | (BaseFlag & { readonly type: 'number'; readonly default?: number; readonly min?: number; readonly max?: number })
  | (BaseFlag & { readonly type: 'string'; readonly default?: string })
  | (BaseFlag & { readonly type: 'enum'; readonly values: readonly string[]; readonly default?: string });

export type FlagValue = boolean | number | string;

export interface ParsedArgs {
  /** Every flag of the spec, with its default when not given (absent when it has no default). */
  readonly values: Record<string, FlagValue | undefined>;
  /** The flags the user actually wrote, so that e.g. `--quick` can change defaults only where none was given. */
  readonly given: ReadonlySet<string>;
  readonly positionals: string[];
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  // A typo such as --head-dims should point at --head-dim: smallest edit distance, if it is small.
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

function convert(spec: FlagSpec, raw: string): FlagValue {
  const flag = `--${spec.name}`;
  switch (spec.type) {
    case 'boolean': {
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new UsageError(`${flag} expects true or false, received "${raw}".`);
    }
    case 'int':
    case 'number': {
      const value = raw.trim() === '' ? Number.NaN : Number(raw);
      if (!Number.isFinite(value) || (spec.type === 'int' && !Number.isInteger(value))) {
        throw new UsageError(`${flag} expects ${spec.type === 'int' ? 'an integer' : 'a number'}, received "${raw}".`);
      }
      if (spec.min !== undefined && value < spec.min) {
        throw new UsageError(`${flag} expects a value of at least ${spec.min}, received ${raw}.`);
      }
      if (spec.max !== undefined && value > spec.max) {
        throw new UsageError(`${flag} expects a value of at most ${spec.max}, received ${raw}.`);
      }
      return value;
    }
    case 'enum': {
      if (!spec.values.includes(raw)) {
        throw new UsageError(`${flag} expects one of ${spec.values.join(', ')}, received "${raw}".`);
      }
      return raw;
    }
    case 'string':
      if (raw === '') throw new UsageError(`${flag} expects a value.`);
      return raw;
  }
}

/**
 * Parses `--name value`, `--name=value`, boolean `--name` / `--no-name`, and positionals. `--` ends the flags.
 * Unknown flags, missing values and out-of-range numbers throw a `UsageError` naming the flag.
 */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: Record<string, FlagValue | undefined> = {};
  for (const spec of specs) values[spec.name] = spec.default;
  const given = new Set<string>();
  const positionals: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      throw new UsageError(`Unknown option "${arg}". Options are spelled out, e.g. --help.`);
    }
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let spec = byName.get(name);
    if (!spec && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value.`);
      name = name.slice(3);
      spec = byName.get(name);
      inline = 'false';
    }
    if (!spec) {
      const suggestion = closest(name, [...byName.keys()]);
      throw new UsageError(`Unknown option --${name}.${suggestion ? ` Did you mean --${suggestion}?` : ''}`);
    }
    if (given.has(name)) throw new UsageError(`--${name} is given more than once.`);
    given.add(name);
    if (spec.type === 'boolean') {
      values[name] = inline === undefined ? true : convert(spec, inline);
      continue;
    }
    if (inline === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`--${name} expects a value${spec.placeholder ? ` (${spec.placeholder})` : ''}.`);
      }
      inline = next;
      i++;
    }
    values[name] = convert(spec, inline);
  }
  return { values, given, positionals };
}

/** Help lines for a list of flags, aligned: `  --head-dim D   head dimension (default 64)`. */
export function describeFlags(specs: readonly FlagSpec[]): string[] {
  const left = specs.map((s) => {
    if (s.type === 'boolean') return s.default === true ? `--[no-]${s.name}` : `--${s.name}`;
    const placeholder = s.placeholder ?? (s.type === 'enum' ? s.values.join('|') : 'VALUE');
    return `--${s.name} ${placeholder}`;
  });
  const width = Math.max(...left.map((l) => l.length));
  return specs.map((s, i) => {
    const shown = s.default === undefined || s.default === false ? '' : ` (default: ${s.default})`;
    return `  ${(left[i] as string).padEnd(width)}  ${s.description}${shown}`;
  });
}
