import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    // The machines have 2 cores, and every worker drives real servers. A third worker fills the time
    // the others spend waiting (live writers, lock timeouts, back-offs, server starts).
    pool: 'forks',
    maxWorkers: 3,
    // The JSON report lets .ci/run close with a plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        extends: true,
        // In-process tests of pure code (planners, identifiers, CSV): no server, so no global set-up.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/cron.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'targets',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', 'test/cron.test.ts'],
          // Starts the real PostgreSQL servers (test/targets/) once per run and stops them afterwards.
          globalSetup: ['test/targets/global-setup.ts'],
        },
      },
    ],
  },
});
