/**
 * Time is an input: provision → maintain → verify on every strategy at the moments where month
 * arithmetic breaks, under a faked clock. Each strategy gets its own cluster, started under
 * libfaketime (test/targets/debian-cluster.ts) and restarted to move its clock. partkit runs in this
 * process on the real clock, years away from the server's: every date it acts on must come from the
 * server's now() (a date taken from its own clock would put months in the wrong place here). Between
 * two moments nothing runs, as on a host whose scheduler was down.
 *
 *   2026-12-31 23:59:30 UTC   provision just before New Year
 *   2027-01-01 00:00:30 UTC   New Year: the next month must be made
 *   2028-02-29 12:00:00 UTC   leap day, 14 months later without maintenance
 *   2028-03-12 07:00:30 UTC   America/New_York springs forward (02:00 EST → 03:00 EDT)
 *   2028-03-31 16:30:00 UTC   00:30 on April 1st in Asia/Shanghai, still March in UTC
 *   2028-11-05 06:00:30 UTC   America/New_York falls back (02:00 EDT → 01:00 EST)
 *
 * After each maintain, verify must pass, every month from the oldest hot one to current + premake
 * must be there in each table's own zone, and no row may be lost (attached or archived).
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DebianCluster, LIBFAKETIME } from './targets/debian-cluster.js';
import { TRIXIE_ROOT } from './targets/global-setup.js';
import { runPartkit } from './helpers/targets.js';

interface Setup {
  readonly label: string;
  readonly major: number;
  readonly chrootRoot?: string;
  readonly strategy: 'partman' | 'plpgsql';
}

const SETUPS: Setup[] = [
  { label: 'pg_partman 4.7 (PG 15)', major: 15, strategy: 'partman' },
  { label: 'pg_partman 5.2 (PG 17)', major: 17, chrootRoot: TRIXIE_ROOT, strategy: 'partman' },
  { label: 'plpgsql fallback (PG 15)', major: 15, strategy: 'plpgsql' },
];

const MOMENTS = [
  { at: '2026-12-31T23:59:30Z', what: 'just before New Year' },
  { at: '2027-01-01T00:00:30Z', what: 'New Year' },
  { at: '2028-02-29T12:00:00Z', what: 'a leap day, 14 months later with no maintenance in between' },
  { at: '2028-03-12T07:00:30Z', what: 'America/New_York springing forward' },
  { at: '2028-03-31T16:30:00Z', what: '00:30 on the 1st in Asia/Shanghai (16:30 UTC the day before)' },
  { at: '2028-11-05T06:00:30Z', what: 'America/New_York falling back, 7 months later' },
] as const;

const PREMAKE = 4;
/** Adversarial names, each table in its own zone. */
const ZONED_TABLES = [
  { schema: 'Mixed Space', name: 'Clock "Odd" Log', timeZone: 'America/New_York' },
  { schema: 'public', name: 'Shanghai Log', timeZone: 'Asia/Shanghai' },
] as const;
const BUILT_IN = ['messages', 'execution_logs', 'api_key_logs', 'usage_records'] as const;

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** 'YYYY-MM' of a moment in a zone. */
function monthIn(moment: Date, timeZone: string, offset = 0): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).formatToParts(moment);
  const year = Number(parts.find((p) => p.type === 'year')!.value);
  const month = Number(parts.find((p) => p.type === 'month')!.value) - 1 + offset;
  const d = new Date(Date.UTC(year, month, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function missingPrerequisite(setup: Setup): string | undefined {
  const root = setup.chrootRoot ?? '/';
  const postgres = path.join(root, `usr/lib/postgresql/${setup.major}/bin/postgres`);
  if (!existsSync(postgres)) return `${postgres} is not installed (bash test/targets/prepare.sh)`;
  if (!existsSync(path.join(root, LIBFAKETIME))) return `${path.join(root, LIBFAKETIME)} is missing (apt-get install faketime)`;
  if (process.getuid?.() !== 0) return 'faked-clock servers run as the postgres user: needs root';
  return undefined;
}

for (const setup of SETUPS) {
  const missing = missingPrerequisite(setup);
  if (missing !== undefined && process.env.CI !== 'true') console.warn(`\n!!! SKIPPED faked-clock tests on ${setup.label}: ${missing}\n`);
  const describeIf = missing !== undefined && process.env.CI !== 'true' ? describe.skip : describe;

  describeIf(`faked clock, ${setup.label}`, () => {
    let cluster: DebianCluster;
    let offset = 0;
    let client: pg.Client | undefined;
    let url = '';
    let inserted = 0;
    const workDir = mkdtempSync(path.join(tmpdir(), 'partkit-clock-'));
    const configFile = path.join(workDir, 'partkit.json');

    /** (Re)starts the cluster with its clock at `at`, and partkit's with it. */
    async function moveClockTo(at: string): Promise<void> {
      await client?.end();
      client = undefined;
      await cluster.stop();
      offset = Math.round((Date.parse(at) - Date.now()) / 1000);
      await cluster.start(offset);
      client = new pg.Client({ connectionString: url });
      await client.connect();
    }

    /** partkit in process, on the real clock (the server's is `offset` seconds away). */
    function partkit(...args: string[]) {
      return runPartkit([...args, '--config', configFile, '--database-url', url]);
    }

    async function query<Row extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<Row[]> {
      return (await client!.query<Row>(sql, params)).rows;
    }

    /** Every managed table, as SQL. */
    const tables = [...BUILT_IN.map((name) => `public.${name}`), ...ZONED_TABLES.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`)];

    /** Rows in the table and in its archived months. */
    async function rowsEverywhere(): Promise<number> {
      let total = 0;
      for (const table of tables) total += Number((await query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
      const archived = await query<{ schema: string; name: string }>(`SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'partkit_archive' AND c.relkind = 'r'`);
      for (const table of archived) total += Number((await query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(table.schema)}.${quoteIdent(table.name)}`))[0]!.n);
      return total;
    }

    /** The months attached to a table, 'YYYY-MM' in its zone, oldest first. */
    async function attachedMonths(table: string, timeZone: string): Promise<string[]> {
      const rows = await query<{ month: string }>(
        `SELECT to_char((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AT TIME ZONE $2, 'YYYY-MM') AS month
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
          ORDER BY 1`,
        [table, timeZone],
      );
      return rows.map((r) => r.month);
    }

    async function insertNow(): Promise<void> {
      // A few rows at the server's now() in every table: they land in the current month of the
      // table's zone, or wait in the default until maintenance makes it.
      await query(`INSERT INTO messages (session_id, role, content) SELECT gen_random_uuid(), 'user', 'tick' FROM generate_series(1, 3)`);
      await query(`INSERT INTO execution_logs (execution_id, message) SELECT gen_random_uuid(), 'tick' FROM generate_series(1, 3)`);
      await query(`INSERT INTO api_key_logs (api_key_id, endpoint, method, status_code) SELECT gen_random_uuid(), '/tick', 'GET', 200 FROM generate_series(1, 3)`);
      await query(`INSERT INTO usage_records (organization_id, resource_type, quantity) SELECT gen_random_uuid(), 'tokens', g FROM generate_series(1, 3) g`);
      for (const t of ZONED_TABLES) await query(`INSERT INTO ${quoteIdent(t.schema)}.${quoteIdent(t.name)} (note) SELECT 'tick' FROM generate_series(1, 3)`);
      inserted += 3 * tables.length;
    }

    async function maintainAndVerify(at: string): Promise<void> {
      const maintain = await partkit('maintain', '--json');
      expect(maintain.exitCode, `maintain at ${at}: ${maintain.stderr}\n${maintain.stdout}`).toBe(0);
      const verify = await partkit('verify', '--json');
      const report = JSON.parse(verify.stdout || '{"checks":[]}') as { ok: boolean; checks: { table: string | null; check: string; ok: boolean; detail: string }[] };
      const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.table ?? 'database'}/${c.check}: ${c.detail}`);
      expect(failed, `verify at ${at}`).toEqual([]);
      expect(verify.exitCode, `verify at ${at}: ${verify.stderr}`).toBe(0);
    }

    /** From the oldest attached month to current + premake, every month, in each table's zone. */
    async function expectContiguousCoverage(at: string): Promise<void> {
      const now = new Date(at);
      const zoned = [...BUILT_IN.map((name) => ({ sql: `public.${name}`, timeZone: 'UTC' })), ...ZONED_TABLES.map((t) => ({ sql: `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`, timeZone: t.timeZone }))];
      for (const table of zoned) {
        const months = await attachedMonths(table.sql, table.timeZone);
        const first = months[0]!;
        const expected: string[] = [];
        for (let i = 0; ; i += 1) {
          const month = monthIn(new Date(`${first}-15T12:00:00Z`), 'UTC', i);
          if (month > monthIn(now, table.timeZone, PREMAKE)) break;
          expected.push(month);
        }
        // pg_partman may keep one month more than premake (it rounds the months ahead).
        const upTo = months.filter((m) => m <= monthIn(now, table.timeZone, PREMAKE));
        expect(upTo, `${table.sql} at ${at}`).toEqual(expected);
        expect(months, `${table.sql} at ${at}: the current month in ${table.timeZone}`).toContain(monthIn(now, table.timeZone));
        expect(months.filter((m) => m > monthIn(now, table.timeZone, PREMAKE + 1)), `${table.sql} at ${at}`).toEqual([]);
      }
    }

    beforeAll(async () => {
      if (missing !== undefined) throw new Error(`faked-clock target missing (CI=true): ${missing}`);
      cluster = await DebianCluster.init({ name: `clock-${setup.strategy}-${setup.major}`, major: setup.major, settings: {}, ...(setup.chrootRoot ? { chrootRoot: setup.chrootRoot } : {}) });
      offset = Math.round((Date.parse(MOMENTS[0].at) - Date.now()) / 1000);
      await cluster.start(offset);
      const admin = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'postgres', password: cluster.password, database: 'postgres' });
      await admin.connect();
      await admin.query(`CREATE DATABASE "clock test"`);
      await admin.end();
      url = `postgresql://postgres:${encodeURIComponent(cluster.password)}@127.0.0.1:${cluster.port}/${encodeURIComponent('clock test')}`;
      client = new pg.Client({ connectionString: url });
      await client.connect();
      for (const t of ZONED_TABLES) {
        await query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(t.schema)}`);
        await query(
          `CREATE TABLE ${quoteIdent(t.schema)}.${quoteIdent(t.name)} (id bigint GENERATED ALWAYS AS IDENTITY, note text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`,
        );
      }
      writeFileSync(
        configFile,
        JSON.stringify({
          strategy: setup.strategy,
          defaults: { premake: PREMAKE, retention: '12 months' },
          tables: [...BUILT_IN.map((name) => ({ name: `public.${name}` })), ...ZONED_TABLES.map((t) => ({ name: `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`, timeZone: t.timeZone }))],
        }),
      );
    });

    afterAll(async () => {
      await client?.end().catch(() => undefined);
      await cluster?.remove();
    });

    it(`provisions at ${MOMENTS[0].at} (${MOMENTS[0].what}), maintains and verifies`, async () => {
      const now = (await query<{ now: Date }>('SELECT now()'))[0]!.now;
      expect(Math.abs(now.getTime() - Date.parse(MOMENTS[0].at))).toBeLessThan(60_000);
      const provision = await partkit('provision', '--json', '--scheduler', 'external');
      expect(provision.exitCode, `${provision.stderr}\n${provision.stdout}`).toBe(0);
      expect((JSON.parse(provision.stdout) as { strategy: string }).strategy).toBe(setup.strategy);
      await insertNow();
      await maintainAndVerify(MOMENTS[0].at);
      await expectContiguousCoverage(MOMENTS[0].at);
      expect(await rowsEverywhere()).toBe(inserted);
    });

    for (const moment of MOMENTS.slice(1)) {
      it(`maintains and verifies at ${moment.at} (${moment.what})`, async () => {
        await moveClockTo(moment.at);
        const now = (await query<{ now: Date }>('SELECT now()'))[0]!.now;
        expect(Math.abs(now.getTime() - Date.parse(moment.at))).toBeLessThan(60_000);
        await insertNow();
        await maintainAndVerify(moment.at);
        await expectContiguousCoverage(moment.at);
        expect(await rowsEverywhere()).toBe(inserted);
        const again = await partkit('provision', '--json', '--scheduler', 'external');
        expect(again.exitCode, again.stderr).toBe(0);
        expect((JSON.parse(again.stdout) as { changes: number }).changes, again.stdout).toBe(0);
      });
    }
  });
}
