// Tests import sibling packages from source through the `@fa/source` export condition,
// so no package has to be built before its dependents are tested.
import { defineConfig } from 'vitest/config';

export const sharedConfig = defineConfig({
  resolve: { conditions: ['@fa/source', 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: ['@fa/source', 'module', 'node', 'import', 'default'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'threads',
  },
});
