import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // These tests run real worker nodes and CPU-bound jobs: one file at a time, so they do not starve each other.
    fileParallelism: false,
  },
});
