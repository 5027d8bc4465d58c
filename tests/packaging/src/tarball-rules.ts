import type { Manifest } from './workspace.js';

/** Files npm adds whatever `files` says. */
const ALWAYS = [/^package\.json$/, /^README\.md$/, /^CHANGELOG\.md$/, /^LICEN[CS]E(\.md|\.txt)?$/i];

/** What never belongs in a published package, whatever `files` says. */
const NEVER: readonly [RegExp, string][] = [
  [/(^|\/)(__tests__|tests?)\//, 'a test folder'],
  [/\.(test|spec)(-d)?\.[cm]?[jt]sx?(\.map)?$/, 'a test file'],
  [/(^|\/)test-(fixtures?|utils|helpers)\./, 'a test helper'],
  [/(^|\/)(tsconfig[^/]*\.json|vitest\.config\.[^/]+|turbo\.json|\.gitignore|[^/]*\.tsbuildinfo)$/, 'tooling config'],
  [/(^|\/)(node_modules|\.turbo|coverage)\//, 'a tooling folder'],
];

/** A `files` entry as a matcher: a file, a folder, or a glob with `*` and `**`. */
function filesEntryMatcher(entry: string): RegExp {
  const path = entry.replace(/^\.\//, '').replace(/\/$/, '');
  const glob = path
    .split(/(\*\*\/|\*\*|\*)/)
    .map((part) =>
      part === '**/'
        ? '(?:.*/)?'
        : part === '**'
          ? '.*'
          : part === '*'
            ? '[^/]*'
            : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${glob}(/.*)?$`);
}

/** Every path an `exports` map (any condition, nested or not), `main` or `types` points at. */
export function exportTargets(manifest: Manifest): string[] {
  const targets = new Set<string>();
  const visit = (value: unknown) => {
    if (typeof value === 'string') targets.add(value.replace(/^\.\//, ''));
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(manifest.exports);
  visit(manifest.main);
  visit(manifest.types);
  return [...targets].sort();
}

/** dist/cpu/index.d.ts.map → src/cpu/index.ts; null for a file that is not TypeScript's output. */
export function sourceOfBuildOutput(file: string): string | null {
  const match = /^dist\/(.+?)(\.d\.ts|\.js)(\.map)?$/.exec(file);
  return match ? `src/${match[1]}.ts` : null;
}

/**
 * The problems with a tarball's file list, as sentences (empty when it is fine): files no `files` entry asked
 * for, tests and tooling, export targets missing, and compiled JavaScript or declarations whose source is not
 * shipped, which is what a stale dist/ (a deleted or renamed module) or a test helper compiled into dist/ is.
 */
export function tarballProblems(manifest: Manifest, files: readonly string[]): string[] {
  const problems: string[] = [];
  const shipped = new Set(files);
  const shipsSources = files.some((f) => f.startsWith('src/'));
  const wanted = (manifest.files ?? []).filter((entry) => !entry.startsWith('!')).map(filesEntryMatcher);
  for (const file of files) {
    if (![...ALWAYS, ...wanted].some((re) => re.test(file))) problems.push(`${file}: no "files" entry asks for it`);
    for (const [re, what] of NEVER) if (re.test(file)) problems.push(`${file} is ${what}`);
    const source = sourceOfBuildOutput(file);
    if (shipsSources && source && !shipped.has(source))
      problems.push(`${file} has no source ${source} in the tarball (stale build?)`);
  }
  for (const target of exportTargets(manifest)) {
    if (!shipped.has(target)) problems.push(`${target} is exported but not in the tarball`);
  }
  if (!files.some((f) => f.startsWith('dist/') && f.endsWith('.js'))) problems.push('no dist/*.js: not built?');
  return problems;
}

/** Dependency ranges still written with pnpm's `workspace:` protocol, which no registry client understands. */
export function workspaceProtocolRanges(manifest: Manifest): string[] {
  const fields = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'] as const;
  return fields.flatMap((field) =>
    Object.entries(manifest[field] ?? {})
      .filter(([, range]) => range.startsWith('workspace:'))
      .map(([name, range]) => `${field}.${name}: ${range}`),
  );
}
