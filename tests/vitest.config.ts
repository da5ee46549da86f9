import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // One file at a time: each starts worker processes with sandboxes, and two suites at once on
    // a 2-core machine starve the nodes' lock renewals (short locks make them stall on purpose).
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
