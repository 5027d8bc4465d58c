import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Loader, LoaderContext } from 'astro/loaders';

/**
 * Loads plain Markdown pages (no frontmatter) for Starlight: the title is the first `# ` heading, which is removed
 * from the body because Starlight renders the title itself, and the description is the first paragraph. This lets
 * the guides in the repository's docs/ folder stay ordinary GitHub Markdown and still be the pages of the site.
 * A folder given with an `idPrefix` puts its pages under that path (`api/` for the generated API reference).
 */
export function markdownPagesLoader(folders: (URL | PagesFolder)[]): Loader {
  const sources = folders.map((f) => (f instanceof URL ? { dir: fileURLToPath(f), idPrefix: '' } : toSource(f)));
  const dirs = sources.map((source) => source.dir);
  return {
    name: 'fa-markdown-pages',
    async load(context) {
      await loadAll(context, sources);
      // In `astro dev`, edits to a guide reload it.
      context.watcher?.add(dirs);
      context.watcher?.on('change', (path) => {
        if (path.endsWith('.md') && dirs.some((dir) => path.startsWith(dir))) void loadAll(context, sources);
      });
    },
  };
}

export interface PagesFolder {
  readonly url: URL;
  /** Prepended to each page's id, hence to its URL: `api/` makes `core.md` the page `/api/core/`. */
  readonly idPrefix: string;
}

function toSource({ url, idPrefix }: PagesFolder): { dir: string; idPrefix: string } {
  return { dir: fileURLToPath(url), idPrefix };
}

async function loadAll(
  { store, parseData, renderMarkdown, generateDigest, config }: LoaderContext,
  sources: { dir: string; idPrefix: string }[],
) {
  const root = fileURLToPath(config.root);
  store.clear();
  for (const { dir, idPrefix } of sources) {
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.md')).sort()) {
      const filePath = join(dir, file);
      const source = await readFile(filePath, 'utf8');
      const { title, body } = splitTitle(source, filePath);
      const id = idPrefix + basename(file, '.md');
      const text = rewriteLinks(body);
      const data = await parseData({ id, data: { title, description: firstParagraph(text) } });
      // Astro wants paths relative to the project root, even for files outside it.
      store.set({
        id,
        data,
        body: text,
        filePath: relative(root, filePath),
        digest: generateDigest(source),
        rendered: await renderMarkdown(text),
      });
    }
  }
}

function splitTitle(source: string, filePath: string): { title: string; body: string } {
  const match = /^# (.+)\n/.exec(source);
  if (!match) throw new Error(`${filePath} must start with a "# Title" line.`);
  return { title: match[1]!.trim(), body: source.slice(match[0].length) };
}

/** The first prose paragraph as plain text, for the page's meta description. */
function firstParagraph(text: string): string | undefined {
  const paragraph = text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .find((p) => p && !/^[#|<`\-*>!]/.test(p));
  if (!paragraph) return undefined;
  const plain = paragraph
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/[`*_]/g, '')
    .replace(/\s+/g, ' ');
  return plain.length > 200 ? `${plain.slice(0, 197)}...` : plain;
}

/**
 * The guides link to each other as `semantics.md#anchor`, which becomes the page URL `/semantics/#anchor`. Links into
 * the rest of the repository (`../apps/cli/...`) have no page on the site, so they become plain code text.
 */
export function rewriteLinks(markdown: string): string {
  return markdown.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (whole, text: string, href: string) => {
    if (/^(https?:|mailto:|#|\/)/.test(href)) return whole;
    const page = /^(?:\.\/)?([\w-]+)\.md(#.*)?$/.exec(href);
    if (page) return `[${text}](/${page[1] === 'index' ? '' : `${page[1]}/`}${page[2] ?? ''})`;
    return text.startsWith('`') ? text : `\`${text}\``;
  });
}
