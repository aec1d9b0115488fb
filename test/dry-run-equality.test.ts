/**
 * `--dry-run` prints exactly what runs: each mutating command runs twice on the same state, once
 * with --dry-run and once for real with PARTKIT_LOG_SQL (every statement the runner sends, as a
 * script line); the statements must be the same, in the same order. Comments and psql
 * meta-commands (\set, \connect) are not statements. Mixed-case names with spaces throughout.
 * On the plpgsql fallback (bare18). An operation in rounds (a fill's batches, a drain's replays)
 * prints the first round of each phase and names the later ones: the fill of a month range checks
 * that the first round runs as printed. Not covered: a whole-table fill (its block ranges adapt to
 * how long a batch takes, and its progress note carries the rate), which migrate.test.ts runs.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthOf } from './helpers/clock.js';
import { createTestDatabase, describeTarget, runPartkit, type TestDatabase } from './helpers/targets.js';

/** The statements of a script: no blank line, no comment line, no psql meta-command. */
function statements(script: string): string[] {
  return script.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('--') && !line.startsWith('\\'));
}

const work = mkdtempSync(path.join(tmpdir(), 'partkit-dry-run-equality-'));
const chatConfig = path.join(work, 'chat.json');
writeFileSync(chatConfig, JSON.stringify({ tables: [{ name: 'public."Chat Log"', retention: '3 months' }] }));
const eventsConfig = path.join(work, 'events.json');
writeFileSync(eventsConfig, JSON.stringify({ tables: [{ name: 'public."Old Events"' }] }));
const CHAT = 'public."Chat Log"';
const EVENTS = 'public."Old Events"';

describeTarget('bare18', 'every mutating command runs exactly the statements its --dry-run printed', () => {
  let db: TestDatabase;
  let runs = 0;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    await db.query(`CREATE TABLE ${CHAT} (id bigint NOT NULL, "Body" text, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
    await db.query(`CREATE TABLE ${EVENTS} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, "Payload" text)`);
    // 60 rows over the last 60 days, by the server's clock.
    await db.query(`INSERT INTO ${EVENTS} SELECT g, now() - make_interval(days => g), 'event ' || g FROM generate_series(1, 60) AS g`);
  });
  afterAll(() => db?.drop());

  /** Runs `args` with --dry-run, then for real with the statement log, and compares. */
  async function sameStatements(args: readonly string[], config: string, normalize: (ran: string) => string = (ran) => ran) {
    const common = ['--config', config, '--database-url', db.url];
    const dry = await runPartkit([...args, '--dry-run', ...common]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    runs += 1;
    const log = path.join(work, `run-${runs}.sql`);
    writeFileSync(log, '');
    const applied = await runPartkit([...args, ...common], { env: { PARTKIT_LOG_SQL: log } });
    expect(applied.exitCode, `${applied.stdout}\n${applied.stderr}`).toBe(0);
    const ran = statements(normalize(readFileSync(log, 'utf8')));
    expect(ran.length).toBeGreaterThan(0);
    expect(ran).toEqual(statements(dry.stdout));
    return { printed: dry.stdout, ran };
  }

  describe('the kit, partitions, maintenance and archive', () => {
    it('provision (the kit inlined, the table adopted)', async () => {
      const { ran } = await sameStatements(['provision', '--scheduler', 'external'], chatConfig);
      expect(ran.join('\n')).toContain('CREATE OR REPLACE FUNCTION');
      expect(ran.join('\n')).toContain('"Chat Log"');
    });

    it('partition create', async () => {
      const { ran } = await sameStatements(['partition', 'create', CHAT, '--from', monthOf(-8).key, '--to', monthOf(-5).key], chatConfig);
      expect(ran.join('\n')).toContain(monthOf(-8).key.slice(0, 4));
      for (const back of [8, 7, 6, 5]) {
        await db.query(`INSERT INTO ${CHAT} SELECT g, 'row ' || g, $1::timestamptz + make_interval(hours => g) FROM generate_series(1, 5) AS g`, [`${monthOf(-back).key}-10 00:00:00+00`]);
      }
    });

    it('maintain (moves the months past retention to the archive schema)', async () => {
      await sameStatements(['maintain'], chatConfig);
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'partkit_archive'::regnamespace AND relkind = 'r'`);
      expect(rows[0]!.n).toBeGreaterThanOrEqual(4);
    });

    it('archive export --drop-after-export: its record and drop steps are in the dry run; only the checksum and time of the export are named there', async () => {
      const to = path.join(work, 'cold');
      const { printed, ran } = await sameStatements(['archive', 'export', '--to', to, '--drop-after-export'], chatConfig, (text) =>
        text.replace(/'[0-9a-f]{64}'/g, `'<sha256 of the exported file>'`).replace(/'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z'/g, `'<time of the export>'`),
      );
      expect(printed).toMatch(/archive_export/);
      expect(ran.filter((line) => line.includes('drop_exported_archive'))).toHaveLength(4);
    });

    it('archive restore --into (the table and its COPY in one transaction, as printed)', async () => {
      const { ran } = await sameStatements(['archive', 'restore', CHAT, '--month', monthOf(-8).key, '--from', path.join(work, 'cold'), '--into', 'public."Chat Log, back"'], chatConfig);
      expect(ran.some((line) => line.startsWith('COPY "public"."Chat Log, back"'))).toBe(true);
      expect((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM public."Chat Log, back"`)).rows[0]!.n).toBe(5);
    });
  });

  describe('migrate, from prep to drop', () => {
    it('prep', async () => {
      await sameStatements(['migrate', 'prep', EVENTS], eventsConfig);
    });

    it('fill of a month range: the first batch is printed as it runs, the later ones are named (an operation in rounds)', async () => {
      const args = ['migrate', 'fill', EVENTS, '--from', monthOf(-3).key, '--to', monthOf(0).key, '--batch-size', '7', '--config', eventsConfig, '--database-url', db.url];
      const dry = await runPartkit([...args, '--dry-run']);
      expect(dry.exitCode, dry.stderr).toBe(0);
      const log = path.join(work, 'fill-rounds.sql');
      writeFileSync(log, '');
      const applied = await runPartkit(args, { env: { PARTKIT_LOG_SQL: log } });
      expect(applied.exitCode, `${applied.stdout}\n${applied.stderr}`).toBe(0);
      const ran = statements(readFileSync(log, 'utf8'));
      const printed = statements(dry.stdout);
      const batch = (line: string) => line.startsWith('WITH copied AS (');
      const replay = (line: string) => line.startsWith('WITH done AS (DELETE FROM "public"."Old Events_capture"');
      // 60 rows in batches of 7: 9 batches (the last one short), each followed by a replay, then the final drain's replay.
      expect(ran.filter(batch).length).toBe(9);
      expect(ran.filter(replay).length).toBe(10);
      // The dry run: the first round of each phase (the first batch and its replay; the final drain's first replay), read as the table stands.
      expect(printed.filter(batch).length).toBe(1);
      expect(printed.filter(replay).length).toBe(2);
      const firstRound = printed.slice(0, printed.findIndex(replay) + 2);
      expect(ran.slice(0, firstRound.length)).toEqual(firstRound);
      expect(ran.slice(ran.length - (printed.length - firstRound.length))).toEqual(printed.slice(firstRound.length));
      expect(dry.stdout).toMatch(/-- Later rounds are not printed[^\n]*\n-- copy [^\n]*: batches of 7 rows in key order after key \(/);
      const whole = await runPartkit(['migrate', 'fill', EVENTS, '--config', eventsConfig, '--database-url', db.url]);
      expect(whole.exitCode, whole.stderr).toBe(0);
    });

    it('swap (the first replay round before the lock is printed too; the backlog is small, so it is the only one)', async () => {
      await sameStatements(['migrate', 'swap', EVENTS], eventsConfig);
    });

    it('unswap, and swap again', async () => {
      await sameStatements(['migrate', 'unswap', EVENTS], eventsConfig);
      await sameStatements(['migrate', 'swap', EVENTS], eventsConfig);
    });

    it('drop --yes (a dry run replays nothing: it prints the replay, the comparison of a sample with its temp tables, and the drop)', async () => {
      const { ran } = await sameStatements(['migrate', 'drop', EVENTS, '--yes'], eventsConfig);
      expect(ran.join('\n')).toContain('CREATE TEMP TABLE partkit_drop_sample ON COMMIT DROP AS SELECT');
      expect((await db.query(`SELECT to_regclass('public."Old Events_retired"') IS NULL AS gone`)).rows[0]!.gone).toBe(true);
    });

    it('abort after prep (triggers, copy and capture dropped in one transaction)', async () => {
      await db.query(`CREATE TABLE public."Abort Me" (id bigint PRIMARY KEY, created_at timestamptz NOT NULL)`);
      const prepped = await runPartkit(['migrate', 'prep', 'public."Abort Me"', '--config', eventsConfig, '--database-url', db.url]);
      expect(prepped.exitCode, prepped.stderr).toBe(0);
      await sameStatements(['migrate', 'abort', 'public."Abort Me"'], eventsConfig);
    });

    it('deprovision (the registration, then the kit\'s schema)', async () => {
      const { ran } = await sameStatements(['deprovision'], chatConfig);
      expect(ran.join('\n')).toContain('DROP SCHEMA "partkit" CASCADE');
    });
  });
});

describeTarget('pg17-partman5', 'provision on pg_partman 5.2 with a pg_cron job runs exactly what its --dry-run printed, in both databases', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5');
    await db.query(`CREATE TABLE ${CHAT} (id bigint NOT NULL, "Body" text, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
  });
  afterAll(() => db?.drop());

  it('provision (pg_partman, the kit, and the job in pg_cron\'s database)', async () => {
    const common = ['--config', chatConfig, '--database-url', db.url];
    const dry = await runPartkit(['provision', '--dry-run', ...common]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/\\connect "postgres"[\s\S]*cron\.schedule_in_database/);
    const log = path.join(work, 'pg17-provision.sql');
    writeFileSync(log, '');
    const applied = await runPartkit(['provision', ...common], { env: { PARTKIT_LOG_SQL: log } });
    expect(applied.exitCode, applied.stderr).toBe(0);
    const ran = statements(readFileSync(log, 'utf8'));
    expect(ran.some((line) => line.startsWith('SELECT cron.schedule_in_database('))).toBe(true);
    expect(ran).toEqual(statements(dry.stdout));
  });
});
