import { defineCollection } from 'astro:content';
import { docsSchema } from '@astrojs/starlight/schema';
import { markdownPagesLoader } from './markdown-pages-loader.js';

// The repository's docs/ folder is the source of truth for the guides; the site only adds its own pages beside them,
// and the API reference that scripts/api-reference.mjs generates from the packages' types before each build.
export const collections = {
  docs: defineCollection({
    loader: markdownPagesLoader([
      new URL('../../../docs/', import.meta.url),
      new URL('./content/pages/', import.meta.url),
      { url: new URL('../api-reference/', import.meta.url), idPrefix: 'api/' },
    ]),
    schema: docsSchema(),
  }),
};
