/**
 * `partkit bench --section citus` on the citus target (a coordinator and two workers): the same
 * rows in a local and a distributed table, both queries timed, and the plan facts read from
 * EXPLAIN (tasks on the workers, months one task scans). And its refusals: a server without
 * Citus, a worker instead of the coordinator, a schema of its own already there.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { citusTarget, createCitusDatabase, describeCitus, type CitusDatabase } from './helpers/citus.js';
import { createTestDatabase, describeTarget, runPartkit } from './helpers/targets.js';

const ROWS = 20_000;

function positive(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

interface PlanFacts {
  tasks: number | null;
  monthsInPlan: number;
  monthsScanned: number;
}
interface QueryFigures {
  name: string;
  oneNodeMs: number;
  distributedMs: number;
  oneNodeSamplesMs: number[];
  distributedSamplesMs: number[];
  ratio: number;
  oneNode: PlanFacts;
  distributed: PlanFacts;
}
interface CitusReport {
  rows: number;
  reps: number;
  activeWorkers: number;
  shards: number;
  partitions: number;
  rowCounts: { oneNode: number; distributed: number };
  month: string;
  session: string;
  queries: QueryFigures[];
  note: string;
}

/** Every user schema and table of the database, to show that a refused run changed nothing. */
async function catalogue(query: (sql: string) => Promise<{ rows: Array<{ name: string }> }>): Promise<string[]> {
  const { rows } = await query(
    `SELECT n.nspname || '.' || coalesce(c.relname, '') AS name
       FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1`,
  );
  return rows.map((row) => row.name);
}

describeCitus('partkit bench --section citus on a coordinator with two workers', () => {
  let db: CitusDatabase;
  beforeAll(async () => {
    db = await createCitusDatabase();
  });
  afterAll(() => db?.drop());

  it(`${ROWS} rows: the aggregate runs as one task per shard, each scanning one month; a session's history is one router task; the schema is dropped`, { timeout: 180_000 }, async () => {
    // The shard count a new distributed table gets in this database, read from pg_dist_shard.
    await db.query('CREATE TABLE shard_probe (session_id uuid)');
    await db.query(`SELECT create_distributed_table('shard_probe', 'session_id')`);
    const shards = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM pg_dist_shard WHERE logicalrelid = 'shard_probe'::regclass`)).rows[0]!.n);
    expect(shards).toBe(4);
    await db.query('DROP TABLE shard_probe');
    const before = await catalogue((sql) => db.query<{ name: string }>(sql));

    const result = await runPartkit(['bench', '--section', 'citus', '--rows', String(ROWS), '--reps', '2', '--json', '--database-url', db.url], { timeoutMs: 170_000 });
    expect(result.exitCode, result.stderr).toBe(0);
    const run = JSON.parse(result.stdout) as { sections: string[]; citus: CitusReport; queries?: unknown; migrate?: unknown };
    expect(run.sections).toEqual(['citus']);
    expect(run.queries).toBeUndefined();
    expect(run.migrate).toBeUndefined();

    const report = run.citus;
    expect(report).toMatchObject({ rows: ROWS, reps: 2, activeWorkers: 2, shards, partitions: 14 });
    expect(report.rowCounts).toEqual({ oneNode: ROWS, distributed: ROWS });
    expect(report.note).toMatch(/show the plan .*not the speed-up/);
    // The aggregate's month is the last whole one on the server's clock.
    const { rows: lastMonth } = await db.query<{ m: string }>(`SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month', 'YYYY-MM') AS m`);
    expect(report.month).toBe(lastMonth[0]!.m);
    expect(report.session).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    expect(report.queries.map((query) => query.name)).toEqual(['monthAggregate', 'sessionHistory']);
    for (const query of report.queries) {
      expect(positive(query.oneNodeMs) && positive(query.distributedMs) && positive(query.ratio), JSON.stringify(query)).toBe(true);
      expect(query.oneNodeSamplesMs).toHaveLength(2);
      expect(query.distributedSamplesMs).toHaveLength(2);
      expect(query.oneNodeSamplesMs.every(positive) && query.distributedSamplesMs.every(positive)).toBe(true);
      expect(query.ratio).toBeCloseTo(query.oneNodeMs / query.distributedMs, 2);
      expect(query.oneNode.tasks).toBeNull();
    }
    const [aggregate, history] = report.queries as [QueryFigures, QueryFigures];
    // One task per shard, pushed to the workers; on the worker, one month of the shard is scanned.
    expect(aggregate.distributed.tasks).toBe(shards);
    expect(aggregate.distributed.monthsScanned).toBe(1);
    expect(aggregate.distributed.monthsInPlan).toBe(1);
    expect(aggregate.oneNode.monthsScanned).toBe(1);
    // A router query: one task, on the worker holding the session, over its months newest first.
    expect(history.distributed.tasks).toBe(1);
    expect(history.distributed.monthsInPlan).toBe(report.partitions);
    expect(history.oneNode.monthsInPlan).toBe(report.partitions);
    expect(history.distributed.monthsScanned).toBeGreaterThan(1);

    expect(result.stderr).toMatch(/bench citus: loading 20,000 rows/);
    // The section drops its schema, and with it the shards on the workers.
    expect(await catalogue((sql) => db.query<{ name: string }>(sql))).toEqual(before);
    for (const worker of [0, 1]) {
      const { rows } = await db.workerQuery<{ n: number }>(worker, `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'bench_citus'`);
      expect(rows[0]!.n).toBe(0);
    }

    // The text report: one line per query with the task count.
    const text = await runPartkit(['bench', '--section', 'citus', '--rows', '10000', '--reps', '1', '--database-url', db.url], { timeoutMs: 170_000 });
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`one month's aggregate .* ${shards} +1 +1\\n`));
    expect(text.stdout).toMatch(/one session's history .* 1 +\d+/);
    expect(text.stdout).toMatch(/show the plan/);
  });

  it('refuses a worker (exit 4) and a database that already has its schema (exit 2), changing nothing', { timeout: 60_000 }, async () => {
    const worker = citusTarget().workers[0]!;
    const workerUrl = `postgresql://postgres:${encodeURIComponent(worker.password)}@${worker.host}:${worker.port}/${encodeURIComponent(db.name)}`;
    const workerBefore = (await db.workerQuery<{ n: number }>(0, 'SELECT count(*)::int AS n FROM pg_class')).rows[0]!.n;
    const onWorker = await runPartkit(['bench', '--section', 'citus', '--rows', '10000', '--database-url', workerUrl]);
    expect(onWorker.exitCode, onWorker.stderr).toBe(4);
    expect(onWorker.stderr).toMatch(/is a Citus worker, not the coordinator \(nothing was changed\)/);
    expect(onWorker.stderr).toMatch(/on the Citus coordinator/);
    expect((await db.workerQuery<{ n: number }>(0, 'SELECT count(*)::int AS n FROM pg_class')).rows[0]!.n).toBe(workerBefore);

    await db.query('CREATE SCHEMA bench_citus');
    await db.query('CREATE TABLE bench_citus.mine (id int)');
    const before = await catalogue((sql) => db.query<{ name: string }>(sql));
    const taken = await runPartkit(['bench', '--section', 'citus', '--rows', '10000', '--database-url', db.url]);
    expect(taken.exitCode, taken.stderr).toBe(2);
    expect(taken.stderr).toMatch(/DROP SCHEMA bench_citus CASCADE/);
    expect(await catalogue((sql) => db.query<{ name: string }>(sql))).toEqual(before);
    await db.query('DROP SCHEMA bench_citus CASCADE');
  });
});

describeTarget('bare18', 'partkit bench --section citus on a server without Citus', () => {
  it('exits 4 with a hint and changes nothing', { timeout: 60_000 }, async () => {
    const db = await createTestDatabase('bare18');
    try {
      const before = await catalogue((sql) => db.query<{ name: string }>(sql));
      const result = await runPartkit(['bench', '--section', 'citus', '--section', 'queries', '--rows', '10000', '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(4);
      expect(result.stderr).toMatch(/has no citus extension \(nothing was changed\)/);
      expect(result.stderr).toMatch(/Point --database-url at a scratch database on a Citus coordinator/);
      expect(result.stdout).toBe('');
      expect(await catalogue((sql) => db.query<{ name: string }>(sql))).toEqual(before);
    } finally {
      await db.drop();
    }
  });
});

it('without --database-url: exit 4 before a throwaway server is started (it would have no Citus)', { timeout: 30_000 }, async () => {
  const result = await runPartkit(['bench', '--section', 'citus', '--rows', '10000']);
  expect(result.exitCode, result.stderr).toBe(4);
  expect(result.stderr).toMatch(/needs a Citus coordinator; the throwaway server partkit bench starts has no Citus \(nothing was started or changed\)/);
  expect(result.stderr).toMatch(/partkit bench --section citus --database-url /);
  expect(result.stdout).toBe('');
});
