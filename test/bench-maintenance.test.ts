/**
 * `partkit bench --section maintenance` smoke test at a small size, on a server with pg_partman
 * (so both strategies run, and pg_partman's partition_data_proc as the anchor): the --json shape
 * with every figure there, every partkit drain placing every row, and --svg a well-formed stall
 * curve. No speed is asserted.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { createTestDatabase, describeTarget, runPartkit } from './helpers/targets.js';
import { xmlProblem } from './helpers/xml.js';

const SIZES = [10_000, 20_000];

describeTarget('pg17-partman5', 'partkit bench --section maintenance', () => {
  it(`drains ${SIZES.join(' and ')} default rows per strategy under a writer and a reader: the JSON figures and the SVG stall curve`, { timeout: 240_000 }, async () => {
    const db = await createTestDatabase('pg17-partman5', { kit: true });
    const svgFile = path.join(mkdtempSync(path.join(tmpdir(), 'partkit-bench-')), 'stalls.svg');
    try {
      const result = await runPartkit(
        ['bench', '--section', 'maintenance', '--drain-rows', ...SIZES.map(String), '--writer-ops', '50', '--reader-ops', '10', '--json', '--svg', svgFile, '--database-url', db.url],
        { timeoutMs: 230_000 },
      );
      expect(result.exitCode, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { sections: string[]; maintenance: Record<string, any> };
      expect(report.sections).toEqual(['maintenance']);
      const m = report.maintenance;
      expect(m).toMatchObject({ partman: expect.stringMatching(/^5\./), sizes: SIZES, writerOpsPerS: 50, readerOpsPerS: 10, lockTimeout: '500ms', server: expect.stringMatching(/^PostgreSQL 17/) });
      const runs = m.runs as Record<string, any>[];
      expect(runs.map((run) => `${run.strategy}|${run.method}|${run.rows}`).sort()).toEqual(
        SIZES.flatMap((rows) => [`plpgsql|partkit maintain|${rows}`, `partman|partkit maintain|${rows}`, `partman|pg_partman partition_data_proc|${rows}`]).sort(),
      );
      for (const run of runs) {
        const what = `${run.strategy} ${run.method} ${run.rows}`;
        expect(run.drainSeconds, what).toBeGreaterThan(0);
        for (const who of ['writer', 'reader']) {
          expect(run[who].statements, `${what} ${who}`).toBeGreaterThan(0);
          expect(run[who].errors, `${what} ${who}`).toBe(0);
          expect(run[who].longestMs, `${what} ${who}`).toBeGreaterThan(0);
          expect(run[who].p99Ms, `${what} ${who}`).toBeLessThanOrEqual(run[who].longestMs);
        }
        if (run.method === 'partkit maintain') {
          // partkit's drain places every row, and says how long its swap held the parent.
          expect(run.leftInDefault, what).toBe(0);
          expect(run.lockedMs, what).toBeGreaterThan(0);
        } else {
          expect(run.lockedMs, what).toBeNull();
        }
      }
      expect(result.stdout).not.toContain('"failed"');
      // The section cleans up after itself.
      expect((await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'bench_maintenance'`)).rows).toHaveLength(0);

      const svg = readFileSync(svgFile, 'utf8');
      expect(xmlProblem(svg)).toBeNull();
      expect(svg).toMatch(/^<\?xml[^>]*\?>\s*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      // A writer line and a reader line per strategy and method, a point per size on each.
      expect(svg.match(/<polyline /g)).toHaveLength(6);
      expect(svg.match(/<circle /g)).toHaveLength(6 * SIZES.length);
      expect(svg).toContain('pg_partman partition_data_proc');
    } finally {
      await db.drop();
    }
  });
});
