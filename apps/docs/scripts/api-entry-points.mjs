/**
 * The packages' public entry points, one API reference page each: the import specifier, its TypeScript source
 * (relative to the repository root) and the page's slug under /api/. Shared by the generator and its test.
 */
export const ENTRY_POINTS = [
  { specifier: '@fa/core', source: 'packages/core/src/index.ts', slug: 'core' },
  { specifier: '@fa/seqpack', source: 'packages/seqpack/src/index.ts', slug: 'seqpack' },
  { specifier: '@fa/flash-attn', source: 'packages/flash-attn/src/index.ts', slug: 'flash-attn' },
  { specifier: '@fa/flash-attn/cpu', source: 'packages/flash-attn/src/cpu/index.ts', slug: 'flash-attn-cpu' },
  { specifier: '@fa/webgpu', source: 'packages/webgpu/src/index.ts', slug: 'webgpu' },
  { specifier: '@fa/autograd', source: 'packages/autograd/src/index.ts', slug: 'autograd' },
  { specifier: '@fa/autograd/tfjs', source: 'packages/autograd/src/tfjs.ts', slug: 'autograd-tfjs' },
];
