/**
 * Maintenance drains a default partition holding many rows (a scheduler down for longer than
 * premake: the last months and the current one are missing, so their rows and every current write
 * land in the default) while a writer inserts, updates (moving rows between months, into the
 * default and out of it) and deletes, each change recorded in a truth table in the same
 * transaction, and readers read: a month's row count that must never change, the table's count
 * against the truth's in one snapshot (a row missing or twice at any instant), and recent rows.
 * On pg_partman 4.7 and 5.2 and the plpgsql fallback, on a table whose name needs quoting.
 *
 * Afterwards: nothing missing, resurrected, stale or duplicated; no writer or reader error; every
 * reader answer right; no writer or reader statement waited 1 s; the parent's ACCESS EXCLUSIVE lock
 * was held only in the swap (measured inside it, and seen from pg_locks). A second maintain does
 * nothing. A drain killed mid-copy (CLI SIGKILLed, its backend terminated) or stopped right after
 * its swap is finished by the next maintain, leaving no copy, capture or trigger behind.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { maintain } from '../src/maintain/maintain.js';
import { provision } from '../src/provision/provision.js';
import { resolveConfig, type Config } from '../src/core/config.js';
import { resolveConnection } from '../src/core/connection.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../src/core/db.js';
import { silentLogger } from '../src/core/log.js';
import { configFiles, count } from './helpers/cli.js';
import { compareWithTruth, createTruthTable, startLiveReader, startLiveWriter, TRUTH_TABLE, watchExclusiveLocks } from './helpers/live-writer.js';
import { createTestDatabase, describeTarget, spawnPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

/**
 * Rows waiting in the default partition when maintenance starts: a few hundred thousand (issue 20),
 * divisible by 3 (a third of them is the month the counting reader checks).
 */
const ROWS = 210_000;
/** A wait longer than this is a stall the application notices. */
const STALL_MS = 1000;
const LOCK_TIMEOUT = '300ms';
const TABLE = 'public."Drain ""Odd"" Messages"';
const DEFAULT = 'public."Drain ""Odd"" Messages_default"';

const TARGETS: { name: TargetName; strategy: 'partman' | 'plpgsql' }[] = [
  { name: 'pg15-partman4', strategy: 'partman' },
  { name: 'pg17-partman5', strategy: 'partman' },
  { name: 'bare18', strategy: 'plpgsql' },
];

/** Inserts `rows` rows from `months_back` months ago (spread over its first 25 days) and records them in the truth table. */
async function seed(db: TestDatabase, rows: number, monthsBack: number, content: string): Promise<void> {
  await db.query(
    `WITH ins AS (INSERT INTO ${TABLE} (id, session_id, role, content, created_at)
                  SELECT gen_random_uuid(), gen_random_uuid(), 'user', $3, date_trunc('month', now()) - make_interval(months => $2) + (g % 25) * interval '1 day' + g * interval '1 ms'
                    FROM generate_series(1, $1) g RETURNING id, content)
     INSERT INTO ${TRUTH_TABLE} (id, content) SELECT id, content FROM ins`,
    [rows, monthsBack, content],
  );
}

/** What a drain leaves behind if it does not finish: its row, copies and capture in the kit's schema, its triggers on the default. */
async function drainLeftovers(db: TestDatabase): Promise<{ rows: number; tables: number; functions: number; triggers: number }> {
  return {
    rows: await count(db, 'SELECT count(*) FROM partkit.default_drain'),
    tables: await count(db, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'partkit' AND c.relname LIKE 'drain\\_%'`),
    functions: await count(db, `SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'partkit' AND p.proname LIKE 'drain\\_%\\_capture'`),
    triggers: await count(db, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'partkit\\_drain\\_%'`),
  };
}

async function expectOracleClean(db: TestDatabase): Promise<void> {
  const archived = await db.query<{ name: string }>(`SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = 'partkit_archive'`);
  const oracle = await compareWithTruth(db.url, [TABLE, ...archived.rows.map((row) => row.name)]);
  expect({ missing: oracle.missing.length, resurrected: oracle.resurrected.length, stale: oracle.stale.length, duplicated: oracle.duplicated.length }).toEqual({ missing: 0, resurrected: 0, stale: 0, duplicated: 0 });
}

function connectExecutor(db: TestDatabase): Promise<Database> {
  return Database.connect(resolveConnection(db.url), { ...DEFAULT_EXECUTOR_OPTIONS, lockTimeout: LOCK_TIMEOUT, log: silentLogger });
}

for (const { name, strategy } of TARGETS) {
  describeTarget(name, `maintenance drains ${ROWS.toLocaleString('en-US')} default rows under live traffic on ${name} (${strategy})`, () => {
    let db: TestDatabase;
    let executor: Database;
    let config: Config;
    /** Seeded rows of the month three months back, which the writer never touches. */
    const staticMonth = ROWS / 3;

    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      await db.query(`CREATE TABLE ${TABLE} (
          id uuid NOT NULL DEFAULT gen_random_uuid(), session_id uuid NOT NULL, role varchar(20) NOT NULL, content text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
      await db.query(`CREATE INDEX ON ${TABLE} (session_id, created_at)`);
      await db.query(`CREATE INDEX ON ${TABLE} (created_at)`);
      config = resolveConfig({ strategy, tables: [{ name: TABLE }], defaults: { premake: 4, retention: '12 months' } }, 'test');
      executor = await connectExecutor(db);
      await provision(executor, config, { scheduler: 'external' });
      // Downtime: the current month is missing too, so every current write lands in the default.
      const [current] = (await db.query<{ name: string }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE i.inhparent = $1::regclass
            AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz = date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
        [TABLE],
      )).rows;
      expect(current, 'the current month after provision').toBeDefined();
      await db.query(`DROP TABLE ${current!.name}`);
      await createTruthTable(db.url);
      await seed(db, staticMonth, 3, 'seed -3');
      await seed(db, staticMonth, 2, 'seed -2');
      await seed(db, ROWS - 2 * staticMonth - 1000, 1, 'seed -1');
      await seed(db, 1000, 0, 'seed 0');
      await db.query(`VACUUM ANALYZE ${TABLE}`);
      expect(await count(db, `SELECT count(*) FROM ONLY ${DEFAULT}`)).toBe(ROWS);
    }, 300_000);
    afterAll(async () => {
      await executor?.close();
      await db?.drop();
    });

    it(`drains every waiting row into its month while a writer and readers run: nothing lost or doubled at any instant, no wait of ${STALL_MS} ms`, async () => {
      const writer = await startLiveWriter({
        url: db.url,
        table: TABLE,
        extraColumns: 'session_id, role',
        extraValues: `gen_random_uuid(), 'user'`,
        // Current rows (into the default until the drain's swap), a drained month, a premade month.
        createdAt: ['now()', 'now()', `now() - interval '1 month'`, `now() + interval '2 months'`],
        moveOnUpdate: true,
        opsPerSecond: 100,
      });
      const month = `created_at >= date_trunc('month', now()) - interval '3 months' AND created_at < date_trunc('month', now()) - interval '2 months'`;
      // Two readers that check counts (each reads a whole month or the whole table: their own time
      // is no wait, so only their answers are checked) and one that reads recent rows, as an application does.
      const counters = await Promise.all([
        startLiveReader(db.url, `SELECT count(*)::int AS n FROM ${TABLE} WHERE ${month}`, {
          pauseMs: 100,
          check: (row) => (row.n === staticMonth ? null : `month -3 counted ${String(row.n)} rows, not ${staticMonth}`),
        }),
        startLiveReader(db.url, `SELECT (SELECT count(*) FROM ${TABLE})::int AS n, (SELECT count(*) FROM ${TRUTH_TABLE} WHERE NOT deleted)::int AS truth`, {
          pauseMs: 100,
          check: (row) => (row.n === row.truth ? null : `the table held ${String(row.n)} rows while the truth said ${String(row.truth)}`),
        }),
      ]);
      const recent = await startLiveReader(db.url, `SELECT count(*)::int AS n FROM ${TABLE} WHERE created_at > now() - interval '1 minute'`, { pauseMs: 20 });
      const locks = await watchExclusiveLocks(db.url, [TABLE]);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const started = Date.now();
      const result = await maintain(executor, config);
      const tookMs = Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const writes = await writer.stop();
      const counts = await Promise.all(counters.map((reader) => reader.stop()));
      const reads = await recent.stop();
      const longestLockMs = await locks.stop();

      const drained = result.events.find((event) => event.action === 'drained');
      const p99 = (samples: readonly number[]) => Math.round([...samples].sort((a, b) => a - b)[Math.ceil(0.99 * samples.length) - 1] ?? 0);
      console.log(
        `[${name}] drain of ${ROWS} rows took ${tookMs} ms; swap held the parent ${drained?.lockedMs} ms (inside), longest ACCESS EXCLUSIVE seen in pg_locks ${longestLockMs} ms; ` +
          `writer: ${writes.inserts} inserts, ${writes.updates} updates, ${writes.deletes} deletes, ${writes.errors} errors, longest ${writes.longestMs} ms; ` +
          `recent-rows reader: ${reads.queries} queries, p99 ${p99(reads.samplesMs)} ms, longest ${Math.round(reads.longestMs)} ms; ` +
          `counting readers: ${counts.map((r) => `${r.queries} answers`).join(', ')}`,
      );
      expect(result.failed, JSON.stringify(result.events)).toBe(0);
      expect(drained?.rows).toBeGreaterThanOrEqual(ROWS);
      expect(writes.errors, writes.lastError).toBe(0);
      expect(writes.inserts).toBeGreaterThan(100);
      for (const read of [...counts, reads]) {
        expect(read.errors, read.lastError).toBe(0);
        expect(read.wrong).toEqual([]);
        expect(read.queries).toBeGreaterThan(10);
      }
      expect(writes.longestMs).toBeLessThan(STALL_MS);
      expect(reads.longestMs).toBeLessThan(STALL_MS);
      expect(drained!.lockedMs!).toBeLessThan(STALL_MS);
      expect(longestLockMs).toBeLessThan(STALL_MS);
      // One swap: the lock's holder was seen only for about as long as the swap says it held it.
      expect(longestLockMs).toBeLessThan(drained!.lockedMs! + 300);

      await expectOracleClean(db);
      // Rows hide nowhere: every row has its month (the writer's current rows included).
      expect(await count(db, `SELECT count(*) FROM ONLY ${DEFAULT}`)).toBe(0);
      expect(await drainLeftovers(db)).toEqual({ rows: 0, tables: 0, functions: 0, triggers: 0 });
    });

    it('a second maintain does nothing', async () => {
      const again = await maintain(executor, config);
      expect(again.events).toEqual([]);
    });

    it('a drain killed mid-copy (CLI SIGKILLed, its backend terminated) is finished by the next maintain', async () => {
      // Rows of a month that retention keeps but no partition holds: they wait in the default.
      await seed(db, ROWS / 3, 5, 'seed -5');
      // The CLI's run needs the run lock this file's executor holds while it is connected.
      await executor.close();
      const file = configFiles('drain').write('partkit', { strategy, tables: [{ name: TABLE }], defaults: { premake: 4, retention: '12 months' } });
      const child = spawnPartkit(['maintain', '--lock-timeout', LOCK_TIMEOUT, '--database-url', db.url, '--config', file]);
      const deadline = Date.now() + 60_000;
      while ((await count(db, 'SELECT coalesce(max(rows_copied), 0) FROM partkit.default_drain')) === 0) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the drain did not start copying: ${(await child).stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.kill('SIGKILL');
      // The statement would go on without its client; terminating the backend is the other kill.
      await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'CALL %run_maintenance_proc%' AND pid <> pg_backend_pid()`);
      expect((await child).signal).toBe('SIGKILL');
      const left = await drainLeftovers(db);
      expect(left.rows).toBe(1);
      expect(left.triggers).toBe(2);

      executor = await connectExecutor(db);
      const resumed = await maintain(executor, config);
      expect(resumed.failed, JSON.stringify(resumed.events)).toBe(0);
      expect(resumed.events.filter((event) => event.action === 'drained').map((event) => event.rows)).toEqual([ROWS / 3]);
      expect(await count(db, `SELECT count(*) FROM ONLY ${DEFAULT}`)).toBe(0);
      expect(await drainLeftovers(db)).toEqual({ rows: 0, tables: 0, functions: 0, triggers: 0 });
      await expectOracleClean(db);
    });

    it('a drain stopped right after its swap is finished by the next maintain', async () => {
      await seed(db, 20_000, 6, 'seed -6');
      // The procedure's steps, one transaction each, until the swap has committed; then nothing.
      const run = await count(db, 'SELECT partkit.maintenance_run_begin()');
      for (let step = 0; step < 1000 && (await count(db, `SELECT count(*) FROM partkit.default_drain WHERE phase = 'swapped'`)) === 0; step += 1) {
        await db.query(`SELECT (partkit.drain_step($1, m, '1s')).next FROM partkit.managed_table m`, [run]);
      }
      expect(await count(db, `SELECT count(*) FROM partkit.default_drain WHERE phase = 'swapped'`)).toBe(1);
      expect(await count(db, `SELECT count(*) FROM ONLY ${DEFAULT}`)).toBe(0);
      await expectOracleClean(db);

      const finished = await maintain(executor, config);
      expect(finished.failed, JSON.stringify(finished.events)).toBe(0);
      expect(finished.events.filter((event) => event.action === 'drained')).toHaveLength(1);
      expect(await drainLeftovers(db)).toEqual({ rows: 0, tables: 0, functions: 0, triggers: 0 });
      await expectOracleClean(db);
    });
  });
}


/** Shapes a drain must carry through: an identity column, a stored generated column, a foreign key; and one it must refuse. */
for (const { name, strategy } of [
  { name: 'bare14' as TargetName, strategy: 'plpgsql' as const },
  { name: 'pg17-partman5' as TargetName, strategy: 'partman' as const },
]) {
  describeTarget(name, `a drain of a table with identity, generated and foreign-key columns on ${name} (${strategy})`, () => {
    let db: TestDatabase;
    let executor: Database;
    const table = 'public."Ledger"';

    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      await db.query(`CREATE TABLE public.accounts (id bigint PRIMARY KEY)`);
      await db.query(`INSERT INTO public.accounts SELECT generate_series(1, 100)`);
      await db.query(`CREATE TABLE ${table} (
          id bigint GENERATED ALWAYS AS IDENTITY, account bigint NOT NULL REFERENCES public.accounts, amount numeric NOT NULL,
          doubled numeric GENERATED ALWAYS AS (amount * 2) STORED, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
      executor = await connectExecutor(db);
    });
    afterAll(async () => {
      await executor?.close();
      await db?.drop();
    });

    it('keeps every value (identity values as they were, generated ones computed again) and the foreign key; the next insert gets a new identity', async () => {
      const config = resolveConfig({ strategy, tables: [{ name: table }], defaults: { premake: 2, retention: '24 months' } }, 'test');
      await provision(executor, config, { scheduler: 'external' });
      await db.query(`INSERT INTO ${table} (account, amount, created_at) SELECT 1 + g % 100, g, date_trunc('month', now()) - interval '2 months' + g * interval '1 minute' FROM generate_series(1, 5000) g`);
      const before = await db.query(`SELECT id, account, amount, doubled, created_at FROM ${table} ORDER BY id`);
      const result = await maintain(executor, config);
      expect(result.failed, JSON.stringify(result.events)).toBe(0);
      expect(result.events.filter((event) => event.action === 'drained').map((event) => event.rows)).toEqual([5000]);
      expect(await count(db, `SELECT count(*) FROM ONLY public."Ledger_default"`)).toBe(0);
      expect((await db.query(`SELECT id, account, amount, doubled, created_at FROM ${table} ORDER BY id`)).rows).toEqual(before.rows);
      // The drained months enforce the foreign key, and the identity goes on from where it was.
      await expect(db.query(`INSERT INTO ${table} (account, amount, created_at) VALUES (999, 1, date_trunc('month', now()) - interval '2 months' + interval '1 day')`)).rejects.toThrow(/foreign key/);
      const { rows } = await db.query<{ id: string }>(`INSERT INTO ${table} (account, amount, created_at) VALUES (1, 1, date_trunc('month', now()) - interval '2 months' + interval '1 day') RETURNING id`);
      expect(Number(rows[0]!.id)).toBeGreaterThan(5000);
    });

    it('a table that other tables reference is not drained: a failed event names the foreign keys, and its rows stay where they are', async () => {
      const referenced = 'public."Referenced"';
      await db.query(`CREATE TABLE ${referenced} (id bigint NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
      await db.query(`CREATE TABLE public.pointers (id bigint, created_at timestamptz, FOREIGN KEY (id, created_at) REFERENCES ${referenced})`);
      const config = resolveConfig({ strategy, tables: [{ name: referenced }], defaults: { premake: 2, retention: '24 months' } }, 'test');
      // Only this table: the database's other managed table stays as it is (provision --table).
      await provision(executor, config, { scheduler: 'external', only: true });
      await db.query(`INSERT INTO ${referenced} SELECT g, date_trunc('month', now()) - interval '3 months' + g * interval '1 minute' FROM generate_series(1, 100) g`);
      await db.query(`INSERT INTO public.pointers SELECT id, created_at FROM ${referenced}`);
      const result = await maintain(executor, config, { table: referenced });
      expect(result.events.filter((event) => event.action === 'failed').map((event) => event.detail)).toEqual([expect.stringMatching(/foreign keys point at public\."Referenced" \(public\.pointers \(pointers_id_created_at_fkey\)\)/)]);
      expect(await count(db, `SELECT count(*) FROM ONLY public."Referenced_default"`)).toBe(100);
      expect(await drainLeftovers(db)).toEqual({ rows: 0, tables: 0, functions: 0, triggers: 0 });
    });
  });
}
