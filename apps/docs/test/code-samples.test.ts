import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every ```ts / ```typescript sample in the Markdown the project publishes is type-checked against the workspace
 * sources, so a sample cannot drift from the API it shows. A sample that uses names from the code around it (an
 * excerpt of a model, a training loop) names a context on its fence line:
 *
 *     ```ts context="seqpack-loader"
 *
 * and is checked with `test/sample-contexts/seqpack-loader.ts` prepended: `import`s and `declare`s of the names it
 * uses, typed with the packages' real exported types, so an excerpt cannot drift from the API either.
 *
 * Each sample becomes a virtual module inside apps/docs, so `@fa/*` imports resolve through apps/docs/node_modules
 * (apps/docs depends on every package a sample imports) and the `@fa/source` condition picks the TypeScript sources.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const APP = fileURLToPath(new URL('../', import.meta.url));
const SAMPLES_DIR = join(APP, 'test', '__samples__');
const CONTEXTS_DIR = join(APP, 'test', 'sample-contexts');

interface Sample {
  /** Where it is, as `path:line` of the opening fence, relative to the repository root. */
  readonly where: string;
  readonly code: string;
  /** The `context="NAME"` of the fence: `test/sample-contexts/NAME.ts` is prepended when checking it. */
  readonly context: string | undefined;
}

function markdownFiles(): string[] {
  const list = (dir: string, pattern: RegExp) =>
    readdirSync(join(ROOT, dir))
      .filter((f) => pattern.test(f))
      .sort()
      .map((f) => join(dir, f));
  const packages = readdirSync(join(ROOT, 'packages'))
    .sort()
    .map((p) => join('packages', p, 'README.md'))
    .filter((p) => {
      try {
        readFileSync(join(ROOT, p));
        return true;
      } catch {
        return false;
      }
    });
  return ['README.md', ...list('docs', /\.md$/), ...list('apps/docs/src/content/pages', /\.mdx?$/), ...packages];
}

function extractSamples(file: string, text: string): Sample[] {
  const samples: Sample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+)(ts|typescript)\b(.*)$/.exec(lines[i] as string);
    if (!open) continue;
    const [, indent, fence, , meta] = open as unknown as [string, string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !(lines[j] as string).startsWith(`${indent}${fence}`)) {
      body.push((lines[j] as string).slice(indent.length));
      j++;
    }
    samples.push({
      where: `${file}:${i + 1}`,
      code: body.join('\n'),
      context: /\bcontext="([\w-]+)"/.exec(meta)?.[1],
    });
    i = j;
  }
  return samples;
}

const samples = markdownFiles().flatMap((file) => extractSamples(file, readFileSync(join(ROOT, file), 'utf8')));

/** The text prepended to a sample: its context file, or nothing. */
function prelude(sample: Sample): string {
  return sample.context === undefined ? '' : readFileSync(join(CONTEXTS_DIR, `${sample.context}.ts`), 'utf8');
}

function virtualName(sample: Sample): string {
  return join(SAMPLES_DIR, `${sample.where.replace(/[^\w]+/g, '_')}.ts`);
}

/** One program over every sample, built once: the workspace sources are parsed and checked a single time. */
const diagnosticsBySample = (() => {
  let cache: Map<Sample, string[]> | undefined;
  return () => {
    cache ??= typeCheck();
    return cache;
  };
})();

function typeCheck(): Map<Sample, string[]> {
  const base = ts.readConfigFile(join(ROOT, 'tsconfig.base.json'), ts.sys.readFile);
  if (base.error) throw new Error(ts.flattenDiagnosticMessageText(base.error.messageText, '\n'));
  const { options } = ts.parseJsonConfigFileContent(base.config, ts.sys, APP);
  const compilerOptions: ts.CompilerOptions = {
    ...options,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['@fa/source'],
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: ['node', '@webgpu/types'],
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
  };
  const files = new Map<string, string>();
  for (const sample of samples) {
    // A sample without imports is still a module (top-level await, no global leaks between samples).
    const code = `${prelude(sample)}${sample.code}`;
    files.set(virtualName(sample), /^\s*(import|export)\s/m.test(code) ? code : `${code}\nexport {};\n`);
  }
  const host = ts.createCompilerHost(compilerOptions);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = files.get(fileName);
    return text !== undefined
      ? ts.createSourceFile(fileName, text, languageVersion, true)
      : getSourceFile(fileName, languageVersion, onError, shouldCreate);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => files.has(fileName) || fileExists(fileName);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => files.get(fileName) ?? readFile(fileName);
  host.getCurrentDirectory = () => APP;

  const program = ts.createProgram([...files.keys()], compilerOptions, host);
  const result = new Map<Sample, string[]>();
  for (const sample of samples) {
    // Diagnostics are reported at the sample's own lines; a negative line is in its context file.
    const offset = prelude(sample).split('\n').length - 1;
    const source = program.getSourceFile(virtualName(sample))!;
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    result.set(
      sample,
      diagnostics.map((d) => {
        const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        if (d.start === undefined) return `TS${d.code}: ${message}`;
        const { line, character } = source.getLineAndCharacterOfPosition(d.start);
        return `line ${line + 1 - offset}:${character + 1} TS${d.code}: ${message}`;
      }),
    );
  }
  return result;
}

describe('code samples in the Markdown type-check against the workspace sources', () => {
  it('finds the samples', () => {
    expect(samples.length).toBeGreaterThanOrEqual(10);
    // Excerpts are the exception: most samples must be complete programs.
    expect(samples.filter((s) => s.context).length).toBeLessThan(samples.length / 2);
  });

  for (const sample of samples) {
    it(`${sample.where}${sample.context ? ` (context: ${sample.context})` : ''}`, () => {
      const errors = diagnosticsBySample().get(sample)!;
      expect(errors, `${sample.where} (${relative(ROOT, dirname(virtualName(sample)))})\n${sample.code}`).toEqual([]);
    }, 120_000);
  }
});
