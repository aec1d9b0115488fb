/**
 * `partkit provision --dry-run --format sql` is the design's database/migrations/010_table_partitioning.sql:
 * a plain SQL file (no psql meta-command, no path of this machine) that is right however it is
 * applied. Planned once per target against one database (with a config whose tables live in
 * Asia/Shanghai, so that a step's time zone matters), copied elsewhere, then applied to fresh
 * databases of other names by each way an application applies migrations: plain `psql -f`
 * (statement by statement, errors or not), `psql -1 -f`, the postgres-migrations package and
 * node-pg-migrate's SQL migrations. Each time the kit must land in its schema (nothing in public),
 * the months must start at Shanghai's midnight, the session must get its own settings back, verify
 * must pass without flags and provision must have nothing left to do. Where maintenance is a
 * pg_cron job, the cron file (--cron-file) is applied in pg_cron's database for the database it
 * names, which is not the one the file was planned on. On the plpgsql fallback (bare18),
 * pg_partman 4.7 with pg_cron 1.4 (pg15-partman4) and pg_partman 5.2 with pg_cron 1.6 (pg17-partman5).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { runner as runNodePgMigrate } from 'node-pg-migrate';
import { migrate } from 'postgres-migrations';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configFiles } from './helpers/cli.js';
import { adminQuery, createTestDatabase, describeTarget, psql, REPO_DIR, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

/** The session settings the app's own session has before the file, which the file must give back. */
const SESSION = { search_path: 'app_schema,public', lock_timeout: '7s', TimeZone: 'America/New_York' } as const;
const PGOPTIONS = `-c search_path=${SESSION.search_path} -c lock_timeout=${SESSION.lock_timeout} -c TimeZone=${SESSION.TimeZone}`;
const SETTINGS_QUERY = "SELECT current_setting('search_path') || '|' || current_setting('lock_timeout') || '|' || current_setting('TimeZone')";
const EXPECTED_SETTINGS = `${SESSION.search_path}|${SESSION.lock_timeout}|${SESSION.TimeZone}`;

const RUNNERS = ['psql -f', 'psql -1 -f', 'postgres-migrations', 'node-pg-migrate'] as const;
type Runner = (typeof RUNNERS)[number];

const TARGETS: readonly { name: TargetName; strategy: string; cron: boolean }[] = [
  { name: 'bare18', strategy: 'plpgsql', cron: false },
  { name: 'pg15-partman4', strategy: 'partman', cron: true },
  { name: 'pg17-partman5', strategy: 'partman', cron: true },
];

/** Applies `file` to `db` as `runner` does, and returns the session's settings right after it (same session). */
async function apply(way: Runner, name: TargetName, db: TestDatabase, file: string, folder: string): Promise<string> {
  if (way === 'psql -f' || way === 'psql -1 -f') {
    // Plain psql -f goes on after an error (exit 0): the output must hold none.
    const ran = await psql(name, db, file, { onErrorStop: false, flags: way === 'psql -1 -f' ? ['-1', '-At'] : ['-At'], after: [SETTINGS_QUERY], env: { PGOPTIONS } });
    expect(ran.exitCode, ran.stderr).toBe(0);
    expect(ran.stderr).not.toMatch(/ERROR|WARNING/);
    return ran.stdout.trim().split('\n').at(-1)!;
  }
  const client = new pg.Client({ connectionString: db.url, options: PGOPTIONS });
  await client.connect();
  try {
    await client.query('CREATE SCHEMA IF NOT EXISTS app_schema');
    const appFolder = path.join(folder, `${way}-${db.name}`);
    mkdirSync(appFolder, { recursive: true });
    if (way === 'postgres-migrations') {
      // The app's folder: its earlier migrations, then partkit's file.
      for (let id = 1; id <= 9; id += 1) writeFileSync(path.join(appFolder, `00${id}_app_${id}.sql`), `CREATE TABLE app_table_${id} (id int PRIMARY KEY);\n`);
      copyFileSync(file, path.join(appFolder, '010_table_partitioning.sql'));
      const applied = await migrate({ client }, appFolder, { logger: () => undefined });
      expect(applied.map((migration) => migration.fileName)).toContain('010_table_partitioning.sql');
      // The app's bookkeeping is the app's (in its search_path), partkit's is partkit's.
      expect((await client.query(`SELECT count(*)::int AS n FROM app_schema.migrations WHERE name = 'table_partitioning'`)).rows[0].n).toBe(1);
      expect((await client.query(`SELECT count(*)::int AS n FROM partkit.migrations WHERE name = 'table_partitioning'`)).rows[0].n).toBe(0);
    } else {
      writeFileSync(path.join(appFolder, '1700000000000_app-things.sql'), 'CREATE TABLE app_things (id int PRIMARY KEY);\n');
      copyFileSync(file, path.join(appFolder, '1700000000001_table-partitioning.sql'));
      const applied = await runNodePgMigrate({ dbClient: client, dir: appFolder, direction: 'up', migrationsTable: 'pgmigrations', log: () => undefined });
      expect(applied.map((migration) => migration.name)).toEqual(['1700000000000_app-things', '1700000000001_table-partitioning']);
      expect((await client.query(`SELECT count(*)::int AS n FROM pgmigrations`)).rows[0].n).toBe(2);
    }
    return (await client.query<{ s: string }>(`${SETTINGS_QUERY} AS s`)).rows[0]!.s;
  } finally {
    await client.end();
  }
}

/** What every way of applying must leave: the kit in its schema, pinned to it, nothing of it in public, months at Shanghai's midnight. */
async function expectKitInPlace(db: TestDatabase): Promise<void> {
  const { rows } = await db.query<{ schema: string; functions: number; pinned: number; elsewhere: number }>(
    `SELECT n.nspname AS schema, count(*)::int AS functions,
            count(*) FILTER (WHERE 'search_path=partkit' = ANY (p.proconfig))::int AS pinned,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM unnest(p.proconfig) AS setting WHERE setting LIKE 'search_path=%' AND setting <> 'search_path=partkit'))::int AS elsewhere
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname IN ('partkit', 'public', 'app_schema') GROUP BY 1 ORDER BY 1`,
  );
  expect(rows).toHaveLength(1);
  expect(rows[0]!.schema).toBe('partkit');
  expect(rows[0]!.functions).toBeGreaterThan(5);
  // SET search_path FROM CURRENT saw the kit schema alone: every function that pins a path pins that one.
  expect(rows[0]!.pinned).toBeGreaterThan(5);
  expect(rows[0]!.elsewhere).toBe(0);
  const stray = await db.query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'app_schema') AND c.relname IN ('managed_table', 'maintenance_run', 'maintenance_event', 'archive_export')`);
  expect(stray.rows).toEqual([]);
  // Each month starts at midnight in Shanghai (made in the session's zone it would start at the session's midnight).
  const { rows: starts } = await db.query<{ start: string }>(
    `SELECT to_char((regexp_match(pg_get_expr(c.relpartbound, c.oid), $$FROM \\('([^']+)'\\)$$))[1]::timestamptz AT TIME ZONE 'Asia/Shanghai', 'DD HH24:MI:SS') AS start
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'public.messages'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'`,
  );
  expect(starts.length).toBeGreaterThan(3);
  expect(new Set(starts.map((row) => row.start))).toEqual(new Set(['01 00:00:00']));
}

/** pg_cron's jobs for a database (pg_cron lives in `postgres` on the test servers). */
async function cronJobs(name: TargetName, database: string): Promise<{ jobname: string; schedule: string; database: string; active: boolean }[]> {
  const { rows } = await adminQuery(name, 'SELECT jobname, schedule, database, active FROM cron.job WHERE database = $1 ORDER BY jobid', [database]);
  return rows as { jobname: string; schedule: string; database: string; active: boolean }[];
}

for (const { name, strategy, cron } of TARGETS) {
  describeTarget(name, `provision --dry-run --format sql: a migration file that is right however it is applied, on ${name}`, () => {
    const files = configFiles('migration-file');
    const config = files.write('partkit', { defaults: { timeZone: 'Asia/Shanghai' }, maintenance: { schedule: '17 * * * *' } });
    const file = path.join(files.dir, 'copied-elsewhere', '010_table_partitioning.sql');
    const cronFile = path.join(files.dir, 'copied-elsewhere', '010_table_partitioning.cron.sql');
    let planned: TestDatabase;
    let printed: string;
    const fresh: TestDatabase[] = [];

    beforeAll(async () => {
      planned = await createTestDatabase(name);
      mkdirSync(path.dirname(file), { recursive: true });
      const run = await runPartkit(['provision', '--dry-run', '--format', 'sql', ...(cron ? ['--cron-file', cronFile] : []), '--config', config, '--database-url', planned.url]);
      expect(run.exitCode, run.stderr).toBe(0);
      printed = run.stdout;
      writeFileSync(file, printed);
    });
    afterAll(async () => {
      await planned?.drop();
      for (const db of fresh) await db.drop();
    });

    it('is plain SQL: the kit inlined, no psql meta-command, no BEGIN/COMMIT, nothing SET LOCAL, no local path; planning changed nothing', async () => {
      expect(printed).not.toMatch(/^\s*\\/m);
      expect(printed).not.toMatch(/^(BEGIN|COMMIT);$/m);
      expect(printed).not.toMatch(/^SET LOCAL /m);
      expect(printed).not.toContain('install.psql');
      for (const local of [REPO_DIR, files.dir, config, process.cwd()]) expect(printed).not.toContain(local);
      expect(printed).toContain('CREATE OR REPLACE FUNCTION');
      // node-pg-migrate reads a line "-- up migration" / "-- down migration" as a section marker: the file has none.
      expect(printed).not.toMatch(/^\s*--[\s-]*(up|down)\s+migration/im);
      expect((await planned.query(`SELECT to_regnamespace('partkit') IS NULL AS none`)).rows[0]!.none).toBe(true);
      if (cron) {
        const cronSql = readFileSync(cronFile, 'utf8');
        expect(printed).not.toContain('cron.schedule_in_database');
        expect(cronSql).toContain('cron.schedule_in_database');
        // The job is for the database the file runs against, not the one it was planned on.
        expect(cronSql).not.toContain(planned.name);
        for (const local of [REPO_DIR, files.dir, config]) expect(cronSql).not.toContain(local);
      }
    });

    for (const runner of RUNNERS) {
      it(`${runner} applies it to a fresh database: the kit in its schema, months at the tables' midnight, the session's settings back; verify passes without flags and provision has nothing left to do`, async () => {
        const db = await createTestDatabase(name);
        fresh.push(db);
        await db.query('CREATE SCHEMA app_schema');
        expect(await apply(runner, name, db, file, files.dir)).toBe(EXPECTED_SETTINGS);
        await expectKitInPlace(db);
        if (cron) {
          const scheduled = await psql(name, 'postgres', cronFile, { flags: ['-1'], env: { PGOPTIONS: `-c partkit.app_database=${db.name}` } });
          expect(scheduled.exitCode, scheduled.stderr).toBe(0);
          expect(await cronJobs(name, db.name)).toEqual([{ jobname: `partkit_maintenance_${db.name}`, schedule: '17 * * * *', database: db.name, active: true }]);
        }
        const verify = await runPartkit(['verify', '--json', '--config', config, '--database-url', db.url]);
        expect(verify.exitCode, `${verify.stdout}\n${verify.stderr}`).toBe(0);
        const again = await runPartkit(['provision', '--json', '--config', config, '--database-url', db.url]);
        expect(again.exitCode, again.stderr).toBe(0);
        const result = JSON.parse(again.stdout) as { changes: number; strategy: string; steps: string[] };
        expect(result.steps).toEqual([]);
        expect(result.changes).toBe(0);
        expect(result.strategy).toBe(strategy);
      });
    }

    if (cron) {
      it("the cron file can run again (one job, updated), and refuses, changing nothing, in pg_cron's database when it is not told the application database", async () => {
        const db = fresh[0]!;
        const forgot = await psql(name, 'postgres', cronFile, { flags: ['-1'] });
        expect(forgot.exitCode).toBe(3);
        expect(forgot.stderr).toMatch(/database postgres has no schema partkit, so this is not the application database/);
        expect(forgot.stderr).toMatch(/partkit\.app_database=<application database>/);
        expect(await cronJobs(name, 'postgres')).toEqual([]);
        // Someone changed the job by hand: running the file again puts it back, still one job.
        await adminQuery(name, `SELECT cron.alter_job(jobid, schedule := '0 3 * * *', active := false) FROM cron.job WHERE database = $1`, [db.name]);
        const again = await psql(name, 'postgres', cronFile, { env: { PGOPTIONS: `-c partkit.app_database=${db.name}` } });
        expect(again.exitCode, again.stderr).toBe(0);
        expect(await cronJobs(name, db.name)).toEqual([{ jobname: `partkit_maintenance_${db.name}`, schedule: '17 * * * *', database: db.name, active: true }]);
      });

      it('a plan that schedules a pg_cron job needs --cron-file (the job runs in another database)', async () => {
        const refused = await runPartkit(['provision', '--dry-run', '--format', 'sql', '--config', config, '--database-url', planned.url]);
        expect(refused.exitCode).toBe(2);
        expect(refused.stderr).toMatch(/--cron-file/);
      });
    }
  });
}
