// @ts-check
import starlight from '@astrojs/starlight';
import { defineConfig, passthroughImageService } from 'astro/config';

// The site is served from the root of whatever static host gets `dist/`; every link is root-relative.
export default defineConfig({
  // No image optimisation: the site has no raster images, and this keeps sharp's native build out of the way.
  image: { service: passthroughImageService() },
  integrations: [
    starlight({
      title: 'fa',
      description: 'FlashAttention for packed variable-length batches, in TypeScript.',
      favicon: '/favicon.svg',
      // Offline by design: no social links, no edit links to a remote, system fonts only (Starlight's default).
      sidebar: [
        { label: 'Start here', items: ['getting-started', 'concepts', { label: 'Playground', link: '/playground/' }] },
        {
          label: 'Guides',
          items: [
            'semantics',
            'architecture',
            'backends',
            'cuda-kernels',
            'benchmarks',
            { label: 'Benchmark results', link: '/benchmark-results/' },
            'autograd',
          ],
        },
        // Generated from the packages' types by scripts/api-reference.mjs (run before `astro build`/`astro dev`).
        {
          label: 'API reference',
          items: [
            'api/core',
            'api/seqpack',
            'api/flash-attn',
            'api/flash-attn-cpu',
            'api/webgpu',
            'api/autograd',
            'api/autograd-tfjs',
          ],
        },
      ],
    }),
  ],
  vite: {
    // The playground imports the workspace packages' TypeScript sources, as the tests do, so nothing has to be
    // built first. Vite replaces its default conditions when this is set, hence the full list.
    resolve: { conditions: ['@fa/source', 'module', 'browser', 'development|production'] },
  },
});
