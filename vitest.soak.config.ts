import { defineConfig } from 'vitest/config';

/** `make soak`: the reliability campaigns of test/soak, one file at a time (they share the kernel). */
export default defineConfig({
  test: {
    include: ['test/soak/**/*.soak.ts'],
    passWithNoTests: true,
    fileParallelism: false,
    testTimeout: 60 * 60_000,
    hookTimeout: 120_000,
  },
});
