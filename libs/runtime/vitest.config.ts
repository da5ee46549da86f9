import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 10_000,
    // Tests of isolated processes measure CPU shares and timer lag: no other test file may load the cores meanwhile.
    fileParallelism: false,
  },
});
