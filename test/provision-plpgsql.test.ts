import path from 'node:path';
import { loadMigrationFiles } from 'postgres-migrations';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/core/config.js';
import { tableTemplate } from '../src/core/table-templates.js';
import { adminQuery, attachedPartitions, createTestDatabase, describeTarget, REPO_DIR, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';
import { midMonth, monthOf } from './helpers/clock.js';
import { configFiles, count, provisionJson, type ProvisionJson } from './helpers/cli.js';

const TABLES = ['messages', 'execution_logs', 'api_key_logs', 'usage_records'];
const { write: writeConfig } = configFiles('plpgsql');

interface MaintainJson {
  ok: boolean;
  created: number;
  detached: number;
  failed: number;
  events: { table: string; action: string; partition: string | null; rows: number | null }[];
}

async function maintainJson(url: string, args: string[] = []): Promise<MaintainJson> {
  const result = await runPartkit(['maintain', '--json', '--database-url', url, ...args]);
  if (result.exitCode !== 0) throw new Error(`maintain failed (${result.exitCode}): ${result.stderr}\n${result.stdout}`);
  return JSON.parse(result.stdout) as MaintainJson;
}

/** A test database whose sessions print timestamps in UTC. */
async function utcDatabase(name: TargetName): Promise<TestDatabase> {
  const db = await createTestDatabase(name);
  await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
  return db;
}

for (const name of ['bare14', 'bare18'] as TargetName[]) {
  describeTarget(name, `provision with the plpgsql fallback on ${name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await utcDatabase(name);
    });
    afterAll(() => db?.drop());

    it('creates the four tables with the current month through premake, a default, and the kit registry', async () => {
      const result = await provisionJson(db.url);
      expect(result).toMatchObject({ strategy: 'plpgsql', scheduler: 'external', schedule: { job: null } });
      expect(result.schedule.externalCommand).toMatch(/partkit maintain/);
      expect(result.changes).toBeGreaterThan(20);
      for (const table of TABLES) {
        const kids = await attachedPartitions(db, `public.${table}`);
        const months = kids.filter((k) => k.lower !== null);
        expect(months.map((k) => k.lower)).toEqual([0, 1, 2, 3, 4].map((offset) => monthOf(offset).start));
        expect(months.map((k) => k.upper)).toEqual([1, 2, 3, 4, 5].map((offset) => monthOf(offset).start));
        expect(months.map((k) => k.name)).toEqual([0, 1, 2, 3, 4].map((i) => `${table}${monthOf(i).plpgsqlSuffix}`));
        expect(kids.at(-1)).toEqual({ name: `${table}_default`, schema: 'public', bound: 'DEFAULT', lower: null, upper: null });
        expect(kids).toHaveLength(6);
      }
      const { rows } = await db.query(
        `SELECT parent_schema, parent_table, control_column, control_type, premake, retention::text AS retention, archive_schema, time_zone, strategy, partman_schema
           FROM partkit.managed_table ORDER BY parent_table`,
      );
      expect(rows).toEqual(
        [...TABLES].sort().map((table) => ({
          parent_schema: 'public',
          parent_table: table,
          control_column: 'created_at',
          control_type: 'timestamptz',
          premake: 4,
          retention: '1 year',
          archive_schema: 'partkit_archive',
          time_zone: 'UTC',
          strategy: 'plpgsql',
          partman_schema: null,
        })),
      );
      expect(await count(db, `SELECT count(*) FROM pg_namespace WHERE nspname = 'partkit_archive'`)).toBe(1);
    });

    it('a second run changes nothing, and --dry-run plans nothing', async () => {
      const result = await provisionJson(db.url);
      expect(result.changes).toBe(0);
      expect(result.steps).toEqual([]);
      expect(result.tables.every((t) => t.changes.length === 0)).toBe(true);
      const dry = await runPartkit(['provision', '--dry-run', '--database-url', db.url]);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/partkit plan: 0 step\(s\)/);
    });

    it('maintain archives months 13-15 into partkit_archive, keeps months 1-12 attached, loses no row', async () => {
      for (let back = 1; back <= 15; back += 1) {
        const { year, month } = monthOf(-back);
        await db.query(`SELECT partkit.create_monthly_partition('public.usage_records', $1, $2)`, [year, month]);
        await db.query(
          `INSERT INTO usage_records (organization_id, resource_type, quantity, created_at) SELECT gen_random_uuid(), 'tokens', g, $1 FROM generate_series(1, 10) g`,
          [midMonth(-back)],
        );
      }
      // Rows whose months do not exist yet wait in the default: one far in the future, one 20 months back.
      await db.query(`INSERT INTO usage_records (organization_id, resource_type, quantity, created_at) VALUES (gen_random_uuid(), 'tokens', 1, $1), (gen_random_uuid(), 'tokens', 1, $2)`, [midMonth(30), midMonth(-20)]);
      expect(await count(db, `SELECT count(*) FROM ONLY usage_records_default`)).toBe(2);
      const before = await count(db, `SELECT count(*) FROM usage_records`);
      expect(before).toBe(152);

      // provision says what the first maintenance will archive, before anything is moved.
      const preview = (await provisionJson(db.url)) as unknown as { archivePreview: { table: string; months: { month: string; rows: number }[]; rows: number; note: string }[] };
      expect(preview.archivePreview).toEqual([
        {
          table: 'public.usage_records',
          months: [-20, -15, -14, -13].map((i) => ({ month: `${monthOf(i).year}-${String(monthOf(i).month).padStart(2, '0')}`, rows: i === -20 ? 1 : 10 })),
          rows: 31,
          note: expect.stringContaining('will archive 4 month(s)'),
        },
      ]);
      expect(await count(db, `SELECT count(*) FROM ONLY usage_records_default`)).toBe(2);

      const report = await maintainJson(db.url);
      expect(report.ok).toBe(true);
      expect(report.failed).toBe(0);
      const detached = report.events.filter((e) => e.action === 'detached' && e.table === 'public.usage_records').map((e) => e.partition);
      // 13, 14, 15 back; the row 20 months back is a late row: it goes straight to its month in the archive.
      expect(detached.sort()).toEqual([-15, -14, -13].map((i) => `public.usage_records${monthOf(i).plpgsqlSuffix}`).sort());
      expect(report.events.filter((e) => e.action === 'late').map((e) => [e.partition, e.rows])).toEqual([[`partkit_archive.usage_records${monthOf(-20).plpgsqlSuffix}`, 1]]);
      expect(report.events.filter((e) => e.action === 'detached' && e.table !== 'public.usage_records')).toEqual([]);

      const kids = await attachedPartitions(db, 'public.usage_records');
      const attachedMonths = kids.filter((k) => k.lower !== null).map((k) => k.lower);
      expect(attachedMonths).toEqual([...[-12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4].map((offset) => monthOf(offset).start), monthOf(30).start]);
      expect(await count(db, `SELECT count(*) FROM ONLY usage_records_default`)).toBe(0);

      const { rows: archived } = await db.query<{ relname: string }>(
        `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'partkit_archive' AND c.relkind = 'r' ORDER BY 1`,
      );
      expect(archived.map((r) => r.relname)).toEqual([-20, -15, -14, -13].map((i) => `usage_records${monthOf(i).plpgsqlSuffix}`));
      let inArchive = 0;
      for (const { relname } of archived) {
        expect(await count(db, `SELECT count(*) FROM pg_inherits WHERE inhrelid = $1::regclass`, [`partkit_archive.${relname}`])).toBe(0);
        inArchive += await count(db, `SELECT count(*) FROM partkit_archive."${relname}"`);
      }
      const attached = await count(db, `SELECT count(*) FROM usage_records`);
      expect(attached).toBe(12 * 10 + 1);
      expect(inArchive).toBe(3 * 10 + 1);
      expect(attached + inArchive).toBe(before);

      const { rows: runs } = await db.query(`SELECT ok FROM partkit.maintenance_run ORDER BY id`);
      expect(runs).toEqual([{ ok: true }]);
      // Nothing left to do: a second run changes nothing.
      const again = await maintainJson(db.url);
      expect(again.events.filter((e) => e.action !== 'moved' || (e.rows ?? 0) > 0)).toEqual([]);
    });
  });

  describeTarget(name, `plpgsql fallback: concurrency and table names on ${name}`, () => {
    it('four concurrent provision runs all succeed with the result of one run', async () => {
      const db = await utcDatabase(name);
      try {
        const results = await Promise.all([1, 2, 3, 4].map(() => runPartkit(['provision', '--json', '--database-url', db.url])));
        for (const result of results) expect(result.exitCode, result.stderr).toBe(0);
        const changes = results.map((r) => (JSON.parse(r.stdout) as ProvisionJson).changes).sort((a, b) => b - a);
        expect(changes[0]).toBeGreaterThan(0);
        expect(changes.slice(1)).toEqual([0, 0, 0]);
        for (const table of TABLES) {
          const kids = await attachedPartitions(db, `public.${table}`);
          expect(kids.map((k) => k.lower)).toEqual([...[0, 1, 2, 3, 4].map((offset) => monthOf(offset).start), null]);
        }
        expect(await count(db, `SELECT count(*) FROM partkit.managed_table`)).toBe(4);
        expect(await count(db, `SELECT count(*) FROM partkit.migrations`)).toBe((await loadMigrationFiles(path.join(REPO_DIR, 'sql', 'migrations'))).length);
      } finally {
        await db.drop();
      }
    });

    it('four concurrent maintain runs all succeed; no month is missing or made twice, no row lost', async () => {
      const db = await utcDatabase(name);
      try {
        await provisionJson(db.url);
        // Rows for eight months that do not exist yet, in every table: each run wants to make them.
        const offsets = [-9, -8, -7, -3, 6, 7, 9, 11];
        for (const offset of offsets) {
          await db.query(`INSERT INTO messages (session_id, role, content, created_at) SELECT gen_random_uuid(), 'user', 'x', $1 FROM generate_series(1, 5)`, [midMonth(offset)]);
        }
        const before = await count(db, `SELECT count(*) FROM messages`);
        expect(before).toBe(40);
        const results = await Promise.all([1, 2, 3, 4].map(() => runPartkit(['maintain', '--json', '--database-url', db.url])));
        for (const result of results) expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(0);
        const reports = results.map((r) => JSON.parse(r.stdout) as MaintainJson);
        const created = reports.flatMap((r) => r.events.filter((e) => e.action === 'created').map((e) => e.partition));
        // Every month was made by exactly one of the runs: those of the rows, and every month between
        // the oldest one and now, so that coverage has no gap (months ahead of premake only for rows).
        const between = [-6, -5, -4, -2, -1];
        expect(created.sort()).toEqual([...offsets, ...between].map((i) => `public.messages${monthOf(i).plpgsqlSuffix}`).sort());
        const kids = await attachedPartitions(db, 'public.messages');
        const lowers = kids.filter((k) => k.lower !== null).map((k) => k.lower);
        expect(lowers).toEqual([...new Set([...offsets, ...between, 0, 1, 2, 3, 4])].sort((a, b) => a - b).map((offset) => monthOf(offset).start));
        expect(new Set(lowers).size).toBe(lowers.length);
        expect(await count(db, `SELECT count(*) FROM ONLY messages_default`)).toBe(0);
        expect(await count(db, `SELECT count(*) FROM messages`)).toBe(before);
        const { rows: runs } = await db.query(`SELECT ok, count(*)::int AS n FROM partkit.maintenance_run GROUP BY ok`);
        expect(runs).toEqual([{ ok: true, n: 4 }]);
      } finally {
        await db.drop();
      }
    });

    it('manages a quoted, mixed-case table and refuses a malicious name without changing anything', async () => {
      const db = await utcDatabase(name);
      try {
        await db.query(`CREATE TABLE public."Odd ""Name"" Logs" (id bigint NOT NULL, "createdAt" timestamptz NOT NULL, PRIMARY KEY (id, "createdAt")) PARTITION BY RANGE ("createdAt")`);
        await db.query(`CREATE TABLE victim (id int)`);
        const config = writeConfig(`odd-${name}`, { tables: [{ name: 'public."Odd ""Name"" Logs"', controlColumn: 'createdAt' }] });

        const evil = writeConfig(`evil-${name}`, { tables: [{ name: 'public.victim; DROP TABLE victim; --' }] });
        const refused = await runPartkit(['provision', '--config', evil, '--database-url', db.url]);
        expect(refused.exitCode).toBe(2);
        expect(refused.stderr).toMatch(/tables\[0\]\.name/);
        expect(await count(db, `SELECT count(*) FROM pg_namespace WHERE nspname IN ('partkit', 'partkit_archive')`)).toBe(0);
        expect(await count(db, `SELECT count(*) FROM pg_class WHERE relname = 'victim'`)).toBe(1);
        const refusedMaintain = await runPartkit(['maintain', '--config', evil, '--database-url', db.url]);
        expect(refusedMaintain.exitCode).toBe(2);

        const result = await provisionJson(db.url, ['--config', config]);
        expect(result.strategy).toBe('plpgsql');
        const table = 'public."Odd ""Name"" Logs"';
        const kids = await attachedPartitions(db, table);
        expect(kids.map((k) => k.name)).toEqual([...[0, 1, 2, 3, 4].map((i) => `Odd "Name" Logs${monthOf(i).plpgsqlSuffix}`), 'Odd "Name" Logs_default']);
        expect((await db.query(`SELECT parent_table, control_column FROM partkit.managed_table`)).rows).toEqual([{ parent_table: 'Odd "Name" Logs', control_column: 'createdAt' }]);

        await db.query(`INSERT INTO ${table} VALUES (1, now()), (2, $1), (3, $2)`, [midMonth(-2), midMonth(8)]);
        const report = await maintainJson(db.url, ['--config', config]);
        // The month of the early row, the month between it and the current one, and the month of the late row.
        expect(report.events.filter((e) => e.action === 'created').map((e) => e.partition).sort()).toEqual(
          [-2, -1, 8].map((i) => `public."Odd ""Name"" Logs${monthOf(i).plpgsqlSuffix}"`).sort(),
        );
        expect(await count(db, `SELECT count(*) FROM ONLY public."Odd ""Name"" Logs_default"`)).toBe(0);
        expect(await count(db, `SELECT count(*) FROM ${table}`)).toBe(3);
        const one = await maintainJson(db.url, ['--config', config, '--table', table]);
        expect(one.ok).toBe(true);
        expect((await provisionJson(db.url, ['--config', config])).changes).toBe(0);
        expect(await count(db, `SELECT count(*) FROM pg_class WHERE relname = 'victim'`)).toBe(1);
      } finally {
        await db.drop();
      }
    });
  });
}

describeTarget('pg15-partman4', 'plpgsql fallback scheduled by pg_cron (pg15-partman4)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await utcDatabase('pg15-partman4');
  });
  afterAll(() => db?.drop());

  it('schedules the job in database postgres for the test database, and its command runs maintenance', async () => {
    const result = await provisionJson(db.url, ['--strategy', 'plpgsql']);
    expect(result).toMatchObject({ strategy: 'plpgsql', scheduler: 'pg_cron', schedule: { job: `partkit_maintenance_${db.name}`, cronDatabase: 'postgres' } });
    expect(await count(db, `SELECT count(*) FROM pg_extension WHERE extname = 'pg_partman'`)).toBe(0);
    const { rows: jobs } = await adminQuery<{ jobname: string; database: string; active: boolean; schedule: string; command: string }>(
      'pg15-partman4',
      `SELECT jobname, database, active, schedule, command FROM cron.job WHERE database = $1`,
      [db.name],
    );
    expect(jobs).toEqual([{ jobname: `partkit_maintenance_${db.name}`, database: db.name, active: true, schedule: '0 * * * *', command: 'CALL "partkit".run_maintenance_proc()' }]);

    await db.query(`INSERT INTO messages (session_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'waiting', $1)`, [midMonth(-2)]);
    // The command as pg_cron runs it (one statement, outside a transaction block): the procedure returns its run's id.
    const { rows } = await db.query<{ p_run_id: string }>(jobs[0]!.command);
    expect(Number(rows[0]!.p_run_id)).toBeGreaterThan(0);
    const { rows: runs } = await db.query(`SELECT ok, detail FROM partkit.maintenance_run`);
    expect(runs).toEqual([{ ok: true, detail: '4 table(s), 0 failure(s)' }]);
    expect((await attachedPartitions(db, 'public.messages')).map((k) => k.lower)).toContain(monthOf(-2).start);
    expect(await count(db, `SELECT count(*) FROM ONLY messages_default`)).toBe(0);
    expect((await provisionJson(db.url, ['--strategy', 'plpgsql'])).changes).toBe(0);
  });
});

describe('the table templates partkit creates from', () => {
  it('declare their columns and their partition key, created_at', () => {
    for (const table of TABLES) {
      const template = tableTemplate(resolveConfig({ tables: [{ name: table }] }, 'test').tables[0]!)!;
      expect(template.file).toBe(`tables/${table}.sql`);
      expect(template.partitionKey).toBe('created_at');
      expect(template.columns).toContain('created_at');
      expect(template.columns).toContain('id');
      expect(template.columns).not.toContain('PRIMARY');
    }
    expect(tableTemplate(resolveConfig({ tables: [{ name: 'public."Messages"' }] }, 'test').tables[0]!)).toBeUndefined();
  });
});

describeTarget('bare18', 'provision refuses a config that disagrees with a table it would create (bare18)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
  });
  afterAll(() => db?.drop());

  const footprint = async () =>
    (
      await db.query<{ schemas: string[]; tables: string[] }>(
        `SELECT ARRAY(SELECT nspname::text FROM pg_namespace WHERE nspname IN ('partkit', 'partkit_archive', 'arch') ORDER BY 1) AS schemas,
                ARRAY(SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1) AS tables`,
      )
    ).rows[0]!;

  for (const [label, config, field] of [
    ['a table entry', { tables: [{ name: 'public.messages' }, { name: 'usage_records', controlColumn: 'inserted_at' }] }, 'tables\\[1\\]\\.controlColumn'],
    ['defaults', { defaults: { controlColumn: 'inserted_at' } }, 'defaults\\.controlColumn'],
    ['another column of the template', { archiveSchema: 'arch', tables: [{ name: 'messages', controlColumn: 'session_id' }] }, 'tables\\[0\\]\\.controlColumn'],
  ] as const) {
    it(`a controlColumn other than the template's partition key (set in ${label}) gives exit 2 naming the field, and nothing changes`, async () => {
      const result = await runPartkit(['provision', '--config', writeConfig(`control-${label.replaceAll(' ', '-')}`, config), '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`field "${field}": public\\.\\w+ does not exist and partkit would create it from sql/tables/\\w+\\.sql, which is partitioned by created_at, not "\\w+" \\(its columns: id, .*created_at\\)`));
      expect(result.stderr).toMatch(/Nothing was changed/);
      expect(await footprint()).toEqual({ schemas: [], tables: [] });
    });
  }

  it('the same controlColumn is accepted for an existing table partitioned by it (partkit adopts, does not create)', async () => {
    await db.query(`CREATE TABLE public.messages (id bigint NOT NULL, inserted_at timestamptz NOT NULL, PRIMARY KEY (id, inserted_at)) PARTITION BY RANGE (inserted_at)`);
    const result = await runPartkit(['provision', '--config', writeConfig('control-existing', { tables: [{ name: 'messages', controlColumn: 'inserted_at' }] }), '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(0);
    const again = await runPartkit(['provision', '--json', '--config', writeConfig('control-existing', { tables: [{ name: 'messages', controlColumn: 'inserted_at' }] }), '--database-url', db.url]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).changes).toBe(0);
  });
});
