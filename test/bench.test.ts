/**
 * `partkit bench` smoke test on its own throwaway embedded server: the --json shape (every query in
 * its three forms, the production shape, the growth steps, the ids section) with every figure a
 * positive number, --svg well-formed charts, and "by id alone opens at most 2 partitions" from
 * EXPLAIN. No speed is asserted, so a few thousand rows a month are enough: what is asserted is
 * the plans' shape (months pruned, partitions opened) and the report's, not a size.
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

const FORMS = ['literal', 'now', 'param'];

it('partkit bench --section queries --rows 24000 --json --svg: every query in its three forms with positive figures, the production shape, by id alone in at most 2 partitions, and a valid SVG', { timeout: 300_000 }, async () => {
  const svgFile = path.join(mkdtempSync(path.join(tmpdir(), 'partkit-bench-')), 'bench.svg');
  const result = await runPartkit(['bench', '--section', 'queries', '--rows', '24000', '--reps', '1', '--insert-rows', '1000', '--json', '--svg', svgFile], { timeoutMs: 290_000 });
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stderr).toMatch(/loading: 100%|\] 100%/);
  const report = JSON.parse(result.stdout) as Record<string, unknown>;
  expect(report).toMatchObject({ rows: 24000, months: 24, cold: false, server: expect.stringMatching(/^PostgreSQL \d+/), sections: ['queries'] });
  expect(report.migrate).toBeUndefined();

  const queries = report.queries as Record<string, unknown>[];
  const production = report.production as { hotMonths: number; archivedMonths: number; partitions: number; partitionedRows: number; plainIndexedRows: number; queries: Record<string, unknown>[] };
  expect(queries.map((q) => `${String(q.name)}|${String(q.bounds)}`).sort()).toEqual(NAMES.flatMap((name) => FORMS.map((form) => `${name}|${form}`)).sort());
  // At the production shape the tables hold different rows, so the whole-table count is left out.
  expect(production.queries.map((q) => `${String(q.name)}|${String(q.bounds)}`).sort()).toEqual(NAMES.filter((name) => name !== 'whole-table count').flatMap((name) => FORMS.map((form) => `${name}|${form}`)).sort());
  for (const q of [...queries, ...production.queries]) {
    expect(['time-range', 'point', 'whole']).toContain(q.kind);
    for (const key of ['plainMs', 'plainIndexedMs', 'partitionedMs', 'partitionsScanned', 'partitionedPlanningMs']) expect(positive(q[key]), `${String(q.name)} ${String(q.bounds)} ${key} = ${String(q[key])}`).toBe(true);
  }
  // A one-week bound prunes to one month at plan time, as a literal and as a bound parameter.
  for (const form of ['literal', 'param']) expect(queries.find((q) => q.name === 'one-week count' && q.bounds === form)!.partitionsScanned).toBe(1);
  // By id alone: the id's month and the default (EXPLAIN ANALYZE), as a literal and as a bound parameter, at both shapes.
  for (const q of [...queries, ...production.queries].filter((q) => q.name === 'by id alone' && q.bounds !== 'now')) expect(q.partitionsScanned, `by id alone, ${String(q.bounds)}`).toBeLessThanOrEqual(2);
  // Retention 12 months on 24 months of history: 12 months archived, 12 + the current + 4 premade + the default attached.
  expect(production).toMatchObject({ hotMonths: 12, archivedMonths: 11, partitions: 18 });
  expect(production.partitionedRows).toBeLessThan(production.plainIndexedRows);

  const retention = report.retention as Record<string, unknown>;
  for (const key of ['deleteMs', 'dropMs', 'deleteWalBytes', 'dropWalBytes', 'vacuumMs']) expect(positive(retention[key]), `retention.${key} = ${String(retention[key])}`).toBe(true);
  const inserts = report.inserts as Record<string, unknown>;
  for (const key of ['plainRowsPerS', 'plainIndexedRowsPerS', 'partitionedRowsPerS']) expect(positive(inserts[key]), `inserts.${key} = ${String(inserts[key])}`).toBe(true);

  const svg = readFileSync(svgFile, 'utf8');
  expect(xmlProblem(svg)).toBeNull();
  expect(svg).toMatch(/^<\?xml[^>]*\?>\s*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  // One bar per query per non-baseline layout (the plain table is the 1x line).
  expect(svg.match(/<rect [^>]*fill="#(4477aa|cc6677)"><title>/g)).toHaveLength((queries.length + production.queries.length) * 2);
  for (const form of ['literal', 'now()', 'param']) expect(svg).toContain(`a session&apos;s last 30 days (${form})`);
});

it('--svg without a charted section (queries, maintenance, growth) is refused before anything starts', async () => {
  const result = await runPartkit(['bench', '--section', 'migrate', '--svg', path.join(tmpdir(), 'never.svg')]);
  expect(result.exitCode).toBe(2);
  expect(result.stderr).toMatch(/--svg charts the queries, maintenance and growth sections, and this run has none of them/);
});

describeTarget('bare18', 'partkit bench against a given database', () => {
  it('--growth: every step measures inserts, the application\'s queries (median and p95) and index sizes; a line chart; by id alone in at most 2 partitions', { timeout: 180_000 }, async () => {
    // On a given database: the throwaway server's start is covered above, and takes most of a small run.
    const db = await createTestDatabase('bare18');
    try {
      const svgFile = path.join(mkdtempSync(path.join(tmpdir(), 'partkit-bench-')), 'growth.svg');
      const result = await runPartkit(['bench', '--growth', '--growth-steps', '5000,12500', '--growth-month-rows', '2500', '--reps', '20', '--insert-rows', '500', '--json', '--svg', svgFile, '--database-url', db.url], { timeoutMs: 170_000 });
      expect(result.exitCode, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { sections: string[]; growth: Record<string, any> };
      expect(report.sections).toEqual(['growth']);
      const growth = report.growth;
      expect(growth).toMatchObject({ monthRows: 2500, reps: 20, shares: { messages: 1, execution_logs: 0.5, api_key_logs: 0.25, usage_records: 0.1 } });
      expect(positive(growth.sharedBuffersBytes)).toBe(true);
      expect(growth.steps.map((step: { rows: number; months: number }) => [step.rows, step.months])).toEqual([[5000, 2], [12500, 5]]);
      for (const step of growth.steps) {
        expect(step.totalRows).toBe(Math.round(step.rows * 1.85));
        for (const layout of ['plainIndexed', 'partitioned']) expect(positive(step.inserts[layout]) && positive(step.indexBytes[layout])).toBe(true);
        expect(positive(step.indexBytes.partitionedCurrentMonth)).toBe(true);
        expect(step.queries.map((q: { name: string }) => q.name)).toEqual(["a session's newest 50 messages", 'a message by id', 'messages of the last 7 days, counted', "an execution's log lines", "an API key's requests last month", "an organization's usage last month"]);
        for (const q of step.queries) {
          for (const layout of ['plainIndexed', 'partitioned']) {
            expect(positive(q[layout].medianMs) && positive(q[layout].p95Ms), `${q.name} ${layout}`).toBe(true);
            expect(q[layout].p95Ms).toBeGreaterThanOrEqual(q[layout].medianMs);
          }
          expect(q.sql).toMatch(/\$1/);
        }
        expect(step.queries.find((q: { name: string }) => q.name === 'a message by id').partitionsScanned).toBeLessThanOrEqual(2);
        expect(step.queries.find((q: { name: string }) => q.name === 'messages of the last 7 days, counted').partitionsScanned).toBe(1);
      }
      const svg = readFileSync(svgFile, 'utf8');
      expect(xmlProblem(svg)).toBeNull();
      // A line per layout (median and p95) in each of the six query panels, and in the inserts and index panels.
      expect(svg.match(/<polyline /g)).toHaveLength(6 * 4 + 2 + 3);
      expect(svg).toContain('shared_buffers');
    } finally {
      await db.drop();
    }
  });

  it('--section ids: the four tables\' figures, by id alone opening 2 partitions with "ids": "uuidv7", every one with "random", 1 plain', { timeout: 120_000 }, async () => {
    const db = await createTestDatabase('bare18');
    try {
      const result = await runPartkit(['bench', '--section', 'ids', '--rows', '10000', '--months', '6', '--reps', '1', '--insert-rows', '500', '--json', '--database-url', db.url], { timeoutMs: 110_000 });
      expect(result.exitCode, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { sections: string[]; ids: { rows: number; months: number; server: string; tables: Record<string, Record<string, number>> } };
      expect(report.sections).toEqual(['ids']);
      expect(report.ids).toMatchObject({ rows: 10000, months: 6, server: expect.stringMatching(/^PostgreSQL \d+.*given database/) });
      expect(Object.keys(report.ids.tables).sort()).toEqual(['partitionedRandom', 'partitionedV7', 'plainRandom', 'plainV7']);
      for (const [table, figures] of Object.entries(report.ids.tables)) {
        for (const key of ['loadRowsPerS', 'insertRowsPerS', 'primaryKeyBytes', 'indexBytes', 'idLookupOpens']) expect(positive(figures[key]), `${table}.${key} = ${String(figures[key])}`).toBe(true);
      }
      // From EXPLAIN of WHERE id = $1: its month and the default; without id ranges, every partition.
      const partitions = async (schema: string) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = $1::regclass`, [`${schema}.messages`])).rows[0]!.n;
      expect(await partitions('bench_ids_partitioned_v7')).toBeGreaterThanOrEqual(8);
      expect(report.ids.tables.partitionedV7!.idLookupOpens).toBe(2);
      expect(report.ids.tables.partitionedRandom!.idLookupOpens).toBe(await partitions('bench_ids_partitioned_random'));
      expect(report.ids.tables.plainV7!.idLookupOpens).toBe(1);
      expect(report.ids.tables.plainRandom!.idLookupOpens).toBe(1);
      // The tables stay in a given database, and it says how to remove them.
      expect(result.stderr).toContain('DROP SCHEMA bench_ids_partitioned_v7, bench_ids_partitioned_random, bench_ids_plain_v7, bench_ids_plain_random, bench_ids_archive CASCADE;');
    } finally {
      await db.drop();
    }
  });

  it('--cold with --database-url says plainly that it cannot measure cold, and reports warm figures only; the migrate section runs by default', { timeout: 180_000 }, async () => {
    const db = await createTestDatabase('bare18');
    try {
      const result = await runPartkit(['bench', '--cold', '--rows', '10000', '--months', '6', '--reps', '1', '--writer-ops', '100', '--fill-reps', '1', '--json', '--database-url', db.url], { timeoutMs: 170_000 });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/cannot measure cold: the server was given with --database-url/);
      const report = JSON.parse(result.stdout) as { cold: boolean; coldQueries: unknown; coldNote: string; queries: unknown[]; sections: string[]; migrate: Record<string, any> };
      expect(report).toMatchObject({ cold: false, coldQueries: null, coldNote: expect.stringMatching(/cannot measure cold/), sections: ['queries', 'migrate'] });
      expect(report.queries).toHaveLength(24);

      // The migrate section: fill and the single statement on the same 10,000 rows with the capture
      // triggers on, then a swap that really swapped under a writer that got its writes through.
      const m = report.migrate;
      expect(m).toMatchObject({ rows: 10000, reps: 1, captureTriggers: 4 });
      for (const key of ['medianMs', 'rowsPerS']) {
        expect(positive(m.single[key]), `single.${key} = ${String(m.single[key])}`).toBe(true);
        expect(positive(m.fill[key]), `fill.${key} = ${String(m.fill[key])}`).toBe(true);
      }
      expect(m.single.samplesMs).toHaveLength(1);
      expect(m.fill.samplesMs).toHaveLength(1);
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
      expect(again.stderr).toMatch(/DROP SCHEMA bench_plain, bench_plain_indexed, bench_partitioned, bench_archive CASCADE/);
    } finally {
      await db.drop();
    }
  });
});
