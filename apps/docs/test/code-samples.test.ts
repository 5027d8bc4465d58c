import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every ```ts / ```typescript sample in the Markdown the project publishes is type-checked against the workspace
 * sources, so a sample cannot drift from the API it shows. A sample that is deliberately a fragment (it uses names
 * from the surrounding prose, or pseudo-code) says so on its fence line, with the reason:
 *
 *     ```ts fragment="uses `tokens` and `concat` from the training loop"
 *
 * Each sample becomes a virtual module inside apps/docs, so `@fa/*` imports resolve through apps/docs/node_modules
 * (apps/docs depends on every package a sample imports) and the `@fa/source` condition picks the TypeScript sources.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const APP = fileURLToPath(new URL('../', import.meta.url));
const SAMPLES_DIR = join(APP, 'test', '__samples__');

interface Sample {
  /** Where it is, as `path:line` of the opening fence, relative to the repository root. */
  readonly where: string;
  readonly code: string;
  /** Set when the fence marks the sample as a fragment: the reason given. */
  readonly fragment: string | undefined;
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
    const fragment = /\bfragment(?:="([^"]*)")?/.exec(meta);
    samples.push({
      where: `${file}:${i + 1}`,
      code: body.join('\n'),
      fragment: fragment ? (fragment[1] ?? 'marked as a fragment') : undefined,
    });
    i = j;
  }
  return samples;
}

const samples = markdownFiles().flatMap((file) => extractSamples(file, readFileSync(join(ROOT, file), 'utf8')));
const checked = samples.filter((s) => s.fragment === undefined);

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
  for (const sample of checked) {
    // A sample without imports is still a module (top-level await, no global leaks between samples).
    const code = /^\s*(import|export)\s/m.test(sample.code) ? sample.code : `${sample.code}\nexport {};\n`;
    files.set(virtualName(sample), code);
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
  for (const sample of checked) {
    const source = program.getSourceFile(virtualName(sample))!;
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    result.set(
      sample,
      diagnostics.map((d) => {
        const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        if (d.start === undefined) return `TS${d.code}: ${message}`;
        const { line, character } = source.getLineAndCharacterOfPosition(d.start);
        return `line ${line + 1}:${character + 1} TS${d.code}: ${message}`;
      }),
    );
  }
  return result;
}

describe('code samples in the Markdown type-check against the workspace sources', () => {
  it('finds the samples', () => {
    expect(checked.length).toBeGreaterThanOrEqual(10);
    // Fragments are the exception: most samples must be complete programs.
    expect(samples.filter((s) => s.fragment).length).toBeLessThan(checked.length);
  });

  for (const sample of samples) {
    if (sample.fragment !== undefined) {
      it.skip(`${sample.where} (fragment: ${sample.fragment})`, () => {});
      continue;
    }
    it(sample.where, () => {
      const errors = diagnosticsBySample().get(sample)!;
      expect(errors, `${sample.where} (${relative(ROOT, dirname(virtualName(sample)))})\n${sample.code}`).toEqual([]);
    }, 120_000);
  }
});
