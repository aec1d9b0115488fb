/**
 * `partkit bench` smoke test on its own throwaway embedded server: the --json shape of issue 11
 * with every figure a positive number, and --svg a well-formed chart. No speed is asserted.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { createTestDatabase, describeTarget, runPartkit } from './helpers/targets.js';
import { xmlProblem } from './helpers/xml.js';

const NAMES = ['one-week count', 'one-week newest 50', 'one-month aggregate by role', 'three-month count', "a session's last 30 days", 'by id + time window (±1 h)', 'by id alone', 'whole-table count'];

function positive(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

it('partkit bench --section queries --rows 200000 --json --svg: every query in both bound forms with positive figures, and a valid SVG', { timeout: 240_000 }, async () => {
  const svgFile = path.join(mkdtempSync(path.join(tmpdir(), 'partkit-bench-')), 'bench.svg');
  const result = await runPartkit(['bench', '--section', 'queries', '--rows', '200000', '--reps', '3', '--json', '--svg', svgFile]);
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stderr).toMatch(/loading: 100%|\] 100%/);
  const report = JSON.parse(result.stdout) as Record<string, unknown>;
  expect(report).toMatchObject({ rows: 200000, months: 24, cold: false, server: expect.stringMatching(/^PostgreSQL \d+/), sections: ['queries'] });
  expect(report.migrate).toBeUndefined();

  const queries = report.queries as Record<string, unknown>[];
  expect(queries.map((q) => `${String(q.name)}|${String(q.bounds)}`).sort()).toEqual(NAMES.flatMap((name) => [`${name}|literal`, `${name}|now`]).sort());
  for (const q of queries) {
    expect(['time-range', 'point', 'whole']).toContain(q.kind);
    for (const key of ['plainMs', 'plainIndexedMs', 'partitionedMs', 'partitionsScanned']) expect(positive(q[key]), `${String(q.name)} ${String(q.bounds)} ${key} = ${String(q[key])}`).toBe(true);
  }
  // A literal one-week bound prunes to one month at plan time; by id alone opens every partition.
  expect(queries.find((q) => q.name === 'one-week count' && q.bounds === 'literal')!.partitionsScanned).toBe(1);
  expect(queries.find((q) => q.name === 'by id alone' && q.bounds === 'literal')!.partitionsScanned).toBeGreaterThan(24);

  const retention = report.retention as Record<string, unknown>;
  for (const key of ['deleteMs', 'dropMs', 'deleteWalBytes', 'dropWalBytes', 'vacuumMs']) expect(positive(retention[key]), `retention.${key} = ${String(retention[key])}`).toBe(true);
  const inserts = report.inserts as Record<string, unknown>;
  for (const key of ['plainRowsPerS', 'plainIndexedRowsPerS', 'partitionedRowsPerS']) expect(positive(inserts[key]), `inserts.${key} = ${String(inserts[key])}`).toBe(true);

  const svg = readFileSync(svgFile, 'utf8');
  expect(xmlProblem(svg)).toBeNull();
  expect(svg).toMatch(/^<\?xml[^>]*\?>\s*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  // One bar per query per non-baseline layout (the plain table is the 1x line).
  expect(svg.match(/<rect [^>]*fill="#(4477aa|cc6677)"><title>/g)).toHaveLength(queries.length * 2);
  expect(svg).toContain('a session&apos;s last 30 days (literal)');
});

it('--svg without the queries section is refused before anything starts', async () => {
  const result = await runPartkit(['bench', '--section', 'migrate', '--svg', path.join(tmpdir(), 'never.svg')]);
  expect(result.exitCode).toBe(2);
  expect(result.stderr).toMatch(/--svg charts the queries section or the maintenance section/);
});

describeTarget('bare18', 'partkit bench against a given database', () => {
  it('--cold with --database-url says plainly that it cannot measure cold, and reports warm figures only; the migrate section runs by default', { timeout: 180_000 }, async () => {
    const db = await createTestDatabase('bare18');
    try {
      const result = await runPartkit(['bench', '--cold', '--rows', '10000', '--months', '6', '--reps', '1', '--writer-ops', '100', '--json', '--database-url', db.url], { timeoutMs: 170_000 });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/cannot measure cold: the server was given with --database-url/);
      const report = JSON.parse(result.stdout) as { cold: boolean; coldQueries: unknown; coldNote: string; queries: unknown[]; sections: string[]; migrate: Record<string, any> };
      expect(report).toMatchObject({ cold: false, coldQueries: null, coldNote: expect.stringMatching(/cannot measure cold/), sections: ['queries', 'migrate'] });
      expect(report.queries).toHaveLength(16);

      // The migrate section: fill and the single statement on the same 10,000 rows with the capture
      // triggers on, then a swap that really swapped under a writer that got its writes through.
      const m = report.migrate;
      expect(m).toMatchObject({ rows: 10000, reps: 2, captureTriggers: 4 });
      for (const key of ['medianMs', 'rowsPerS']) {
        expect(positive(m.single[key]), `single.${key} = ${String(m.single[key])}`).toBe(true);
        expect(positive(m.fill[key]), `fill.${key} = ${String(m.fill[key])}`).toBe(true);
      }
      expect(m.single.samplesMs).toHaveLength(2);
      expect(m.fill.samplesMs).toHaveLength(2);
      expect(positive(m.fill.batches) && positive(m.fill.longestBatchMs)).toBe(true);
      expect(m.ratio).toBeCloseTo(m.single.medianMs / m.fill.medianMs, 2);
      expect(m.swap).toMatchObject({ lockTimeout: '500ms', writerOpsPerS: 100, writerErrors: 0 });
      expect(m.swap.writerOps).toBeGreaterThan(100);
      expect(positive(m.swap.lockHeldMs) && positive(m.swap.swapMs) && positive(m.swap.longestWriterWaitMs)).toBe(true);
      expect(m.swap.lockHeldMs).toBeLessThanOrEqual(m.swap.swapMs);
      // The section cleans up after itself (the queries section's schemas stay, below).
      expect((await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'bench_migrate'`)).rows).toHaveLength(0);
      // The tables stay for inspection, so a second run refuses rather than measuring over them.
      const again = await runPartkit(['bench', '--rows', '10000', '--database-url', db.url]);
      expect(again.exitCode).toBe(2);
      expect(again.stderr).toMatch(/DROP SCHEMA bench_plain, bench_plain_indexed, bench_partitioned CASCADE/);
    } finally {
      await db.drop();
    }
  });
});
