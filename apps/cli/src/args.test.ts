import { describe, expect, it } from 'vitest';
import { describeFlags, type FlagSpec, parseArgs, UsageError } from './args.js';

const SPECS: FlagSpec[] = [
  { name: 'tokens', type: 'int', min: 1, max: 100, default: 10, description: 'tokens' },
  { name: 'sigma', type: 'number', min: 0, default: 1, description: 'shape' },
  { name: 'causal', type: 'boolean', default: true, description: 'causal' },
  { name: 'json', type: 'boolean', description: 'json' },
  { name: 'dtype', type: 'enum', values: ['f32', 'f16'], default: 'f32', description: 'dtype' },
  { name: 'backend', type: 'string', description: 'backend' },
];

function usage(argv: string[]): string {
  try {
    parseArgs(argv, SPECS);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseArgs', () => {
  it('applies defaults and records what was given', () => {
    const { values, given, positionals } = parseArgs(['--tokens', '5', 'extra'], SPECS);
    expect(values).toMatchObject({ tokens: 5, sigma: 1, causal: true, dtype: 'f32' });
    expect(values.json).toBeUndefined();
    expect([...given]).toEqual(['tokens']);
    expect(positionals).toEqual(['extra']);
  });

  it('accepts --name=value, --no-name and bare booleans', () => {
    const { values } = parseArgs(['--sigma=0.5', '--no-causal', '--json', '--dtype=f16', '--backend', 'cpu'], SPECS);
    expect(values).toMatchObject({ sigma: 0.5, causal: false, json: true, dtype: 'f16', backend: 'cpu' });
  });

  it('treats everything after -- as positionals', () => {
    expect(parseArgs(['--', '--tokens'], SPECS).positionals).toEqual(['--tokens']);
  });

  it('names the flag at fault in every error', () => {
    expect(usage(['--tokens', 'abc'])).toBe('--tokens expects an integer, received "abc".');
    expect(usage(['--tokens', '1.5'])).toBe('--tokens expects an integer, received "1.5".');
    expect(usage(['--tokens', '0'])).toBe('--tokens expects a value of at least 1, received 0.');
    expect(usage(['--tokens', '101'])).toBe('--tokens expects a value of at most 100, received 101.');
    expect(usage(['--tokens'])).toBe('--tokens expects a value.');
    expect(usage(['--tokens', '--json'])).toBe('--tokens expects a value.');
    expect(usage(['--dtype', 'f64'])).toBe('--dtype expects one of f32, f16, received "f64".');
    expect(usage(['--tokens', '1', '--tokens', '2'])).toBe('--tokens is given more than once.');
    expect(usage(['--no-json=1'])).toBe('--no-json takes no value.');
    expect(usage(['-t'])).toMatch(/Unknown option "-t"/);
  });

  it('suggests the closest flag for a typo', () => {
    expect(usage(['--token', '5'])).toBe('Unknown option --token. Did you mean --tokens?');
    expect(usage(['--frobnicate'])).toBe('Unknown option --frobnicate.');
  });

  it('describes flags in aligned help lines', () => {
    const lines = describeFlags(SPECS);
    expect(lines).toHaveLength(SPECS.length);
    expect(lines[2]).toContain('--[no-]causal');
    const columns = lines.map((l, i) => l.lastIndexOf(SPECS[i]?.description as string));
    expect(new Set(columns).size).toBe(1);
  });
});
