import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../src/commands/status.js';
import { adminQuery, createTestDatabase, describeTarget, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';
import { monthOf } from './helpers/clock.js';
import { partkit } from './helpers/cli.js';

interface Child {
  schema: string;
  name: string;
  month: string | null;
  from: string | null;
  to: string | null;
  bound: string;
  estimatedRows: number;
  bytes: number;
}
interface TableStatus {
  table: string;
  exists: boolean;
  partitioned: boolean;
  strategy: string | null;
  interval: string;
  premake: number;
  retention: string | null;
  archiveSchema: string | null;
  timeZone: string;
  children: Child[];
  default: { schema: string; name: string; rows: number; rowsCapped: boolean; bytes: number } | null;
  archived: { schema: string; name: string; month: string | null; estimatedRows: number; bytes: number }[];
}
interface StatusJson {
  database: string;
  maintenance: {
    scheduler: 'pg_cron' | 'external';
    job: { name: string; jobid: number; schedule: string; command: string; database: string; active: boolean; cronDatabase: string } | null;
    lastCronRun: { runid: number; status: string; returnMessage: string | null; startTime: string | null } | null;
    lastRun: { id: number; ok: boolean; finishedAt: string; ageSeconds: number; detail: string | null; failures: string[] } | null;
    externalCommand: string | null;
  };
  tables: TableStatus[];
}

const workDir = mkdtempSync(path.join(tmpdir(), 'partkit-status-'));
/** A yearly schedule, so pg_cron never runs the job during the tests. */
const configFile = path.join(workDir, 'partkit.json');
writeFileSync(configFile, JSON.stringify({ maintenance: { schedule: '0 3 1 1 *' } }));

async function statusJson(db: TestDatabase): Promise<StatusJson> {
  const result = await runPartkit(['status', '--json', '--config', configFile, '--database-url', db.url]);
  expect(result.exitCode, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as StatusJson;
}

const variants: { target: TargetName; strategy: 'partman' | 'plpgsql'; cron: boolean }[] = [
  { target: 'pg17-partman5', strategy: 'partman', cron: true },
  { target: 'pg15-partman4', strategy: 'partman', cron: true },
  { target: 'bare18', strategy: 'plpgsql', cron: false },
  { target: 'bare14', strategy: 'plpgsql', cron: false },
];

for (const { target, strategy, cron } of variants) {
  describeTarget(target, `status, ${strategy} strategy on ${target}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(target);
    });
    afterAll(() => db?.drop());

    it('before provisioning: the tables do not exist, nothing is registered, exit 0', async () => {
      const report = await statusJson(db);
      expect(report.database).toBe(db.name);
      expect(report.tables.map((t) => [t.table, t.exists, t.strategy, t.children.length])).toEqual([
        ['public.messages', false, null, 0],
        ['public.execution_logs', false, null, 0],
        ['public.api_key_logs', false, null, 0],
        ['public.usage_records', false, null, 0],
      ]);
      expect(report.maintenance.lastRun).toBeNull();
    });

    it('after provision: settings, children with their ranges, the default and the job', async () => {
      await partkit(db, ['provision'], { config: configFile });
      const report = await statusJson(db);
      for (const table of report.tables) {
        expect(table).toMatchObject({ exists: true, partitioned: true, strategy, premake: 4, archiveSchema: 'partkit_archive', timeZone: 'UTC', archived: [] });
        expect(table.interval).toBe(strategy === 'partman' ? '1 mon' : '1 month');
        expect(table.retention).toMatch(/^(12 months|1 year)$/);
        expect(table.children.map((c) => c.month)).toEqual([0, 1, 2, 3, 4].map((i) => monthOf(i).key));
        for (const [i, child] of table.children.entries()) {
          expect(child.from).toBe(`${monthOf(i).date} 00:00:00`);
          expect(child.to).toBe(`${monthOf(i + 1).date} 00:00:00`);
          expect(child.bound).toMatch(/^FOR VALUES FROM \('.+'\) TO \('.+'\)$/);
          expect(child.schema).toBe('public');
          expect(child.bytes).toBeGreaterThanOrEqual(0);
        }
        const bare = table.table.replace('public.', '');
        expect(table.default).toMatchObject({ schema: 'public', name: `${bare}_default`, rows: 0, rowsCapped: false });
      }
      const m = report.maintenance;
      if (cron) {
        expect(m).toMatchObject({
          scheduler: 'pg_cron',
          job: { name: `partkit_maintenance_${db.name}`, schedule: '0 3 1 1 *', database: db.name, active: true, cronDatabase: 'postgres', command: 'CALL "partkit".run_maintenance_proc()' },
          lastCronRun: null,
          externalCommand: null,
        });
        expect(m.job!.jobid).toBeGreaterThan(0);
      } else {
        expect(m).toMatchObject({ scheduler: 'external', job: null, lastCronRun: null });
        expect(m.externalCommand).toMatch(/partkit maintain/);
      }
      expect(m.lastRun).toBeNull();
    });

    it('shows rows waiting in the default, then the last maintenance run and the archived months', async () => {
      await db.query(`INSERT INTO messages (session_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'early', $1::timestamptz + interval '2 days')`, [`${monthOf(-1).date} 00:00:00+00`]);
      const waiting = await statusJson(db);
      expect(waiting.tables[0]!.default).toMatchObject({ name: 'messages_default', rows: 1 });

      const old = Array.from({ length: 15 }, (_, i) => monthOf(-15 + i));
      if (strategy === 'partman') {
        await db.query(`SET TimeZone = 'UTC'; SELECT partman.create_partition_time(p_parent_table := 'public.usage_records', p_partition_times := ARRAY[${old.map((m) => `'${m.date}'`).join(', ')}]::timestamptz[])`);
      } else {
        for (const m of old) await db.query(`SELECT partkit.create_monthly_partition('public.usage_records', $1, $2)`, [m.year, m.month]);
      }
      await partkit(db, ['maintain'], { config: configFile });
      const report = await statusJson(db);
      const messages = report.tables[0]!;
      expect(messages.default!.rows).toBe(0);
      expect(messages.children[0]!.month).toBe(monthOf(-1).key);
      const usage = report.tables[3]!;
      expect(usage.archived.map((a) => [a.schema, a.month])).toEqual([0, 1, 2].map((i) => ['partkit_archive', old[i]!.key]));
      expect(usage.archived[0]!.name).toMatch(/^usage_records_(p\d{4}_\d{2}|p\d{8}|y\d{4}m\d{2})$/);
      expect(usage.children[0]!.month).toBe(old[3]!.key);
      expect(report.tables[1]!.archived).toEqual([]);
      expect(report.maintenance.lastRun).toMatchObject({ ok: true, failures: [] });
      expect(report.maintenance.lastRun!.ageSeconds).toBeLessThan(120);

      const text = await partkit(db, ['status'], { config: configFile });
      expect(text.stdout).toContain(`database ${db.name}`);
      expect(text.stdout).toMatch(new RegExp(`public\\.messages: ${strategy}, interval 1 mon(th)?, premake 4, retention (12 months|1 year) \\(then moved to partkit_archive\\), zone UTC`));
      expect(text.stdout).toMatch(new RegExp(`public\\.${messages.children[0]!.name}\\s+${monthOf(-1).date} 00:00:00\\s+${monthOf(0).date} 00:00:00\\s+\\d+\\s+\\d`));
      expect(text.stdout).toContain('default public.messages_default: 0 row(s)');
      expect(text.stdout).toMatch(new RegExp(`archive partkit_archive: usage_records_\\w+ \\(${old[0]!.key}, ~\\d+ rows`));
      expect(text.stdout).toMatch(/last maintenance: #\d+ finished .*: ok/);
      expect(text.stdout).toMatch(cron ? /maintenance: pg_cron job partkit_maintenance_\S+ \(#\d+\) "0 3 1 1 \*" in database \S+, active/ : /maintenance: external scheduler/);
    });

    if (cron) {
      it("shows the pg_cron job's last run and its error", async () => {
        await adminQuery(
          target,
          `INSERT INTO cron.job_run_details (jobid, runid, job_pid, database, username, command, status, return_message, start_time, end_time)
           SELECT jobid, nextval('cron.runid_seq'), 0, database, username, command, 'failed', 'ERROR:  boom', clock_timestamp(), clock_timestamp()
             FROM cron.job WHERE jobname = $1`,
          [`partkit_maintenance_${db.name}`],
        );
        const report = await statusJson(db);
        expect(report.maintenance.lastCronRun).toMatchObject({ status: 'failed', returnMessage: 'ERROR:  boom' });
        const text = await partkit(db, ['status'], { config: configFile });
        expect(text.stdout).toMatch(/last cron run: failed at .*: ERROR: {2}boom/);
      });
    }
  });
}

describe('status helpers', () => {
  it('formats sizes', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(8192)).toBe('8.0 kB');
    expect(formatBytes(24 * 1024 * 1024)).toBe('24 MB');
  });
});

for (const { target, strategy } of [variants[0]!, variants[2]!]) {
  describeTarget(target, `status of a mixed-case table with spaces and quotes, ${strategy} strategy on ${target}`, () => {
    const odd = '"My Schema"."Odd ""Name"" Tbl"';
    const oddConfig = path.join(workDir, `odd-${target}.json`);
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(target, { kit: true });
      await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
      await db.query(`CREATE SCHEMA "My Schema"`);
      await db.query(`CREATE TABLE ${odd} (id bigint, "Created At" timestamptz NOT NULL, PRIMARY KEY (id, "Created At")) PARTITION BY RANGE ("Created At")`);
      writeFileSync(oddConfig, JSON.stringify({ strategy, maintenance: { schedule: '0 3 1 1 *' }, tables: [{ name: odd, controlColumn: 'Created At' }] }));
    });
    afterAll(() => db?.drop());

    it('names the table, its months and its default as they are spelled, in text and --json', async () => {
      await partkit(db, ['provision', '--scheduler', 'external'], { config: oddConfig });
      await db.query(`INSERT INTO ${odd} (id, "Created At") VALUES (1, $1::timestamptz + interval '2 days')`, [`${monthOf(-1).date} 00:00:00+00`]);
      const result = await runPartkit(['status', '--json', '--config', oddConfig, '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      const [table] = (JSON.parse(result.stdout) as StatusJson).tables;
      expect(table).toMatchObject({ table: odd, exists: true, partitioned: true, strategy });
      expect(table!.children.map((c) => [c.schema, c.month])).toEqual([0, 1, 2, 3, 4].map((i) => ['My Schema', monthOf(i).key]));
      expect(table!.default).toMatchObject({ schema: 'My Schema', name: 'Odd "Name" Tbl_default', rows: 1 });
      const text = await partkit(db, ['status'], { config: oddConfig });
      expect(text.stdout).toContain(odd);
      expect(text.stdout).toContain(monthOf(4).key);
    });
  });
}
