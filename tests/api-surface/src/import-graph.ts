import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** How one module names another: `import`/`export … from` (type-only ones too), `import('…')`, `typeof import('…')`. */
export type ImportKind = 'static' | 'type' | 'dynamic';

export interface ImportEdge {
  /** The imported file, absolute. */
  readonly to: string;
  readonly kind: ImportKind;
  /** As written in the source. */
  readonly specifier: string;
  readonly line: number;
}

/** Every module specifier of a TypeScript source, found by the parser (so none in comments, strings or WGSL). */
export function moduleSpecifiers(file: string): { specifier: string; kind: ImportKind; line: number }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { specifier: string; kind: ImportKind; line: number }[] = [];
  const add = (literal: ts.StringLiteral, kind: ImportKind) =>
    found.push({ specifier: literal.text, kind, line: source.getLineAndCharacterOfPosition(literal.pos).line + 1 });
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) {
        const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
        add(node.moduleSpecifier, typeOnly ? 'type' : 'static');
      }
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteral(argument)) add(argument, 'dynamic');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      if (ts.isStringLiteral(node.argument.literal)) add(node.argument.literal, 'type');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The TypeScript files under `dir`, build output and dependencies left out. */
export function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) {
        if (!['node_modules', 'dist', 'build'].includes(name)) walk(path);
      } else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) files.push(path);
    }
  };
  if (existsSync(dir)) walk(dir);
  return files;
}

/** `./x.js` as TypeScript resolves it on sources: `./x.ts`, `./x.tsx`, `./x/index.ts`, or the file itself. */
function resolveRelative(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  const stem = base.replace(/\.(m?js|jsx)$/, '');
  const candidates = [`${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, base, join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/**
 * `@fa/name` and `@fa/name/sub` resolved to the sources through each workspace package's `@fa/source` export
 * condition, the way tests and typecheck see them.
 */
export function workspaceResolver(root: string): (specifier: string) => string | undefined {
  const entries = new Map<string, string>();
  for (const group of ['packages', 'tests', 'apps']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const manifest = join(dir, name, 'package.json');
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
        name: string;
        exports?: Record<string, string | Record<string, string>>;
      };
      for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
        const source = typeof target === 'string' ? undefined : target['@fa/source'];
        if (source) entries.set(join(pkg.name, subpath), join(dir, name, source));
      }
    }
  }
  return (specifier) => entries.get(specifier);
}

/** The import graph of `files`: edges to other files (relative imports and workspace packages), nothing else. */
export function importGraph(files: readonly string[], root: string): Map<string, ImportEdge[]> {
  const workspace = workspaceResolver(root);
  const graph = new Map<string, ImportEdge[]>();
  for (const file of files) {
    const edges: ImportEdge[] = [];
    for (const { specifier, kind, line } of moduleSpecifiers(file)) {
      const to = specifier.startsWith('.') ? resolveRelative(file, specifier) : workspace(specifier);
      if (to) edges.push({ to, kind, specifier, line });
    }
    graph.set(file, edges);
  }
  return graph;
}

/**
 * The import cycles of a graph: each strongly connected component of more than one module (or a module that
 * imports itself), as the modules of one cycle through it, from its first module back to it. Tarjan's algorithm.
 */
export function findCycles(graph: ReadonlyMap<string, readonly { to: string }[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v)!, index.get(to)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfImport = (graph.get(v) ?? []).some((e) => e.to === v);
      if (component.length > 1 || selfImport) components.push(component);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return components.map((component) => cycleThrough(graph, new Set(component)));
}

/** One cycle inside a strongly connected component, found by a breadth-first walk back to its first module. */
function cycleThrough(graph: ReadonlyMap<string, readonly { to: string }[]>, component: ReadonlySet<string>): string[] {
  const start = [...component].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const { to } of graph.get(v) ?? []) {
      if (!component.has(to)) continue;
      if (to === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(to)) {
        previous.set(to, v);
        queue.push(to);
      }
    }
  }
  return [start];
}

/** A cycle as `a.ts → b.ts → a.ts`, paths relative to `root`. */
export function formatCycle(cycle: readonly string[], root: string): string {
  return cycle.map((file) => relative(root, file)).join(' → ');
}
