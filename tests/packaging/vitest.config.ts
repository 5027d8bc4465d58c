import { defineConfig } from 'vitest/config';

// Packing and installing happen once, in the global setup; each step here runs real tools (npm, Vite, attw,
// changesets) on two cores, hence the long timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
