import { defineConfig } from 'vitest/config';

/**
 * `make test` runs both projects; `npx vitest run --project unit` (or
 * `npx vitest run test/unit`) is the fast loop, without root or namespaces.
 * The soak campaigns have their own config (vitest.soak.config.ts).
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Unit files share nothing (temp directories, port 0), so they run side by side,
          // one worker per core: vitest's default leaves one core idle, half of a 2-core machine.
          maxWorkers: '100%',
        },
      },
      {
        extends: true,
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          // Lab files share the kernel's namespaces and daemons; one at a time keeps their timing
          // honest. Vitest runs such a project after the parallel one, so no unit file overlaps them.
          fileParallelism: false,
        },
      },
    ],
  },
});
