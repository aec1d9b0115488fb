import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The slowest test files, slowest first, as .ci/run measured them (seconds on 2 cores, 3 workers).
 * A fresh clone has no vitest cache to order files by, so it would start them by file size and a
 * long file could start last; started first, the short ones fill in around them.
 */
const SLOWEST = ['clock', 'demo', 'drain-live', 'verify', 'lock-waits', 'maintain-live', 'citus', 'migrate-online', 'archive-s3', 'citus-migrate', 'stop', 'readme', 'id-ranges', 'provision-partman', 'bench', 'orm', 'migration-file'];

class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const index = SLOWEST.indexOf(path.basename(spec.moduleId, '.test.ts'));
      return index === -1 ? SLOWEST.length : index;
    };
    // Projects keep the order vitest gives them; within one, the known slow files go first.
    const projects = [...new Set(sorted.map((spec) => spec.project.name))];
    return projects.flatMap((name) => sorted.filter((spec) => spec.project.name === name).map((spec, index) => ({ spec, index })).sort((a, b) => rank(a.spec) - rank(b.spec) || a.index - b.index).map(({ spec }) => spec));
  }
}

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    // The machines have 2 cores, and every worker drives real servers. A third worker fills the time
    // the others spend waiting (live writers, lock timeouts, back-offs, server starts).
    pool: 'forks',
    sequence: { sequencer: SlowestFirst },
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
