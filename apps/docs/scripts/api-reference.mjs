// Generates the API reference: one Markdown page per public entry point, from the packages' types and TSDoc, with
// typedoc and typedoc-plugin-markdown. It writes apps/docs/api-reference/<slug>.md (ignored by git), which
// src/content.config.ts loads as the pages /api/<slug>/. Run by `build` and `dev` before Astro; takes a few seconds.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application } from 'typedoc';
import { ENTRY_POINTS } from './api-entry-points.mjs';

const APP = fileURLToPath(new URL('../', import.meta.url));
const ROOT = resolve(APP, '../..');
const OUT = resolve(APP, 'api-reference');
const RAW = resolve(OUT, '.typedoc');

const started = Date.now();
await rm(OUT, { recursive: true, force: true });
const app = await Application.bootstrapWithPlugins({
  entryPoints: ENTRY_POINTS.map((entry) => resolve(ROOT, entry.source)),
  entryPointStrategy: 'resolve',
  tsconfig: resolve(APP, 'tsconfig.api.json'),
  plugin: ['typedoc-plugin-markdown'],
  out: RAW,
  readme: 'none',
  outputFileStrategy: 'modules',
  hidePageHeader: true,
  hideBreadcrumbs: true,
  parametersFormat: 'table',
  interfacePropertiesFormat: 'table',
  classPropertiesFormat: 'table',
  typeDeclarationFormat: 'table',
  enumMembersFormat: 'table',
  excludePrivate: true,
  excludeInternal: true,
  disableSources: true,
  // The packages' own typecheck guards their types; this only documents them.
  skipErrorChecking: true,
  logLevel: 'Warn',
});
const project = await app.convert();
if (!project) throw new Error('typedoc could not convert the entry points');
await app.generateOutputs(project);

// typedoc names each module by its path (`flash-attn/src/cpu`) and writes it to `<path>.md`; its links are relative
// between those files. Each becomes `<slug>.md`, titled with its import specifier, its links `/api/<slug>/#anchor`.
const moduleFile = (entry) =>
  resolve(RAW, `${entry.source.replace(/^packages\//, '').replace(/\/index\.ts$|\.ts$/, '')}.md`);
const slugOf = new Map(ENTRY_POINTS.map((entry) => [moduleFile(entry), entry.slug]));
await mkdir(OUT, { recursive: true });
for (const entry of ENTRY_POINTS) {
  const file = moduleFile(entry);
  const markdown = (await readFile(file, 'utf8'))
    .replace(/^# .*\n+/, '')
    .replace(/\]\(([^)\s#]+\.md)(#[^)\s]*)?\)/g, (_whole, target, hash = '') => {
      const slug = slugOf.get(resolve(dirname(file), target));
      if (!slug) throw new Error(`${relative(RAW, file)}: link to ${target}, which is no entry point's page`);
      return `](/api/${slug}/${hash})`;
    });
  const intro = `The exports of \`${entry.specifier}\`, generated from its types and TSDoc comments.`;
  await writeFile(resolve(OUT, `${entry.slug}.md`), `# ${entry.specifier}\n\n${intro}\n\n${markdown}`);
}
await rm(RAW, { recursive: true, force: true });
console.log(`API reference: ${ENTRY_POINTS.length} pages in ${Date.now() - started} ms`);
