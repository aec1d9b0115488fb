/**
 * Archive: restore, hold, release, with no dead end, on pg_partman 5 (pg17) and the fallback (bare18).
 * A month restored with --attach --keep is held: verify passes and lists it, maintenance leaves it
 * attached; `archive release` lets it go and the next maintenance archives it again, whether or not
 * its archived copy is still in the archive schema (deleting the hold row by hand broke pg_partman
 * with 42P07 there). A restore whose attach fails leaves nothing and can be run again; a table an
 * older partkit loaded but did not attach is loaded again. Months of an adopted table (children
 * with names of their own) appear in archive list, export and purge. A restore SIGKILLed while it
 * waits to attach leaves the catalog as it was; run again under a live writer it attaches every
 * exported row once, and the writer's changes are all there (the oracle). A release whose archived
 * copy holds rows the attached month does not is refused, nothing changed, with the way round.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { catalogSnapshot } from './helpers/catalog.js';
import { configFiles, count, partkit } from './helpers/cli.js';
import { compareWithTruth, createTruthTable, startLiveWriter, TRUTH_TABLE } from './helpers/live-writer.js';
import { createTestDatabase, describeTarget, spawnPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

interface ListJson {
  tables: { table: string; months: { month: string; state: string; relation: string | null }[] }[];
}

/** The month `monthsAgo` before the server's now, YYYY-MM in UTC. */
async function monthAgo(db: TestDatabase, monthsAgo: number): Promise<string> {
  const { rows } = await db.query<{ m: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC' - make_interval(months => $1), 'YYYY-MM') AS m`, [monthsAgo]);
  return rows[0]!.m;
}

/** Where a month of public.messages is: attached to it, in the archive schema, or nowhere. */
async function whereIs(db: TestDatabase, month: string): Promise<{ attached: number; archived: number }> {
  const list = (await partkit(db, ['archive', 'list', '--table', 'public.messages', '--json'], { config: config.file })).json as unknown as ListJson;
  const entry = list.tables[0]!.months.find((m) => m.month === month);
  return { attached: entry?.state === 'hot' ? 1 : 0, archived: entry?.state === 'archived' || entry?.state === 'exported' ? 1 : 0 };
}

/** md5 of the rows (id, content, created_at) of a relation, in id order: the same rows give the same digest. */
async function digest(db: TestDatabase, relation: string): Promise<string> {
  const { rows } = await db.query<{ d: string }>(`SELECT md5(coalesce(string_agg(id::text || '|' || content || '|' || created_at::text, ',' ORDER BY id), '')) AS d FROM ${relation}`);
  return rows[0]!.d;
}

/** The sessions of a spawned partkit restore, as the server sees them. */
async function restoreSessions(db: TestDatabase): Promise<{ pid: number; wait_event_type: string | null; query: string }[]> {
  const { rows } = await db.query<{ pid: number; wait_event_type: string | null; query: string }>(
    `SELECT pid, wait_event_type, query FROM pg_stat_activity WHERE datname = current_database() AND starts_with(application_name, 'partkit archive restore')`,
  );
  return rows;
}

async function until(what: string | (() => string), ready: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const files = configFiles('archive-hold');
const config = { file: files.write('messages', { tables: [{ name: 'public.messages', retention: '3 months' }] }) };

/** A provisioned database with 300 rows over the last 300 days, maintained (months past 3 archived) and exported to a fresh folder. */
async function archivedMonths(name: TargetName): Promise<{ db: TestDatabase; cold: string }> {
  const db = await createTestDatabase(name, { kit: true });
  await partkit(db, ['provision', '--scheduler', 'external'], { config: config.file });
  await db.query(`INSERT INTO public.messages (session_id, role, content, created_at)
                  SELECT gen_random_uuid(), 'user', 'row ' || g, now() - g * interval '1 day' FROM generate_series(1, 300) g`);
  await partkit(db, ['maintain'], { config: config.file });
  const cold = mkdtempSync(path.join(tmpdir(), 'partkit-hold-'));
  await partkit(db, ['archive', 'export', '--to', cold], { config: config.file });
  return { db, cold };
}

function suite(name: TargetName): void {
  describeTarget(name, `archive hold and release on ${name}`, () => {
    let db: TestDatabase;
    let cold: string;
    beforeAll(async () => {
      ({ db, cold } = await archivedMonths(name));
    });
    afterAll(() => db?.drop());

    it('a held month: verify passes and lists it, maintenance keeps it; release, and the next maintenance archives it over its archived copy', async () => {
      const month = await monthAgo(db, 6);
      await partkit(db, ['archive', 'restore', 'public.messages', '--month', month, '--from', cold, '--attach', '--keep'], { config: config.file });
      const verified = await partkit(db, ['verify', '--scheduler', 'external', '--json'], { config: config.file });
      const checks = (verified.json as unknown as { checks: { table: string | null; check: string; ok: boolean; detail: string }[] }).checks;
      expect(checks.filter((check) => !check.ok)).toEqual([]);
      const retention = checks.find((check) => check.check === 'retention')!;
      expect(retention.detail).toMatch(new RegExp(`month ${month} held attached past the retention`));
      expect(retention.detail).toMatch(new RegExp(`partkit archive release public\\.messages --month ${month}`));
      expect(checks.find((check) => check.check === 'coverage')!.detail).not.toMatch(/a gap/);

      await partkit(db, ['maintain'], { config: config.file });
      expect(await whereIs(db, month)).toEqual({ attached: 1, archived: 0 });

      const dry = await partkit(db, ['archive', 'release', 'public.messages', '--month', month, '--dry-run'], { config: config.file });
      expect(dry.stdout).toMatch(/DELETE FROM "partkit"\.archive_hold/);
      expect(dry.stdout).toMatch(/DROP TABLE "partkit_archive"\."messages_/);
      const released = await partkit(db, ['archive', 'release', 'public.messages', '--month', month, '--json'], { config: config.file });
      expect(released.json).toMatchObject({ state: 'released', changes: 2 });
      const maintained = await partkit(db, ['maintain', '--json'], { config: config.file });
      expect(maintained.json).toMatchObject({ ok: true, detached: 1 });
      expect(await whereIs(db, month)).toEqual({ attached: 0, archived: 1 });
      await partkit(db, ['verify', '--scheduler', 'external'], { config: config.file });
      const again = await partkit(db, ['archive', 'release', 'public.messages', '--month', month, '--json'], { config: config.file });
      expect(again.json).toMatchObject({ state: 'not held', changes: 0 });
      // Every row is still there exactly once: in the parent or in the archive.
      expect(await count(db, `SELECT (SELECT count(*) FROM public.messages) + (SELECT sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::int) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'partkit_archive' AND c.relkind = 'r')`)).toBe(300);
    });

    it('a month whose archived copy was dropped after its export: restore --keep, release, and maintenance archives it', async () => {
      const month = await monthAgo(db, 5);
      await partkit(db, ['archive', 'export', '--to', cold, '--drop-after-export'], { config: config.file });
      await partkit(db, ['archive', 'restore', 'public.messages', '--month', month, '--from', cold, '--attach', '--keep'], { config: config.file });
      const released = await partkit(db, ['archive', 'release', 'public.messages', '--month', month, '--json'], { config: config.file });
      expect(released.json).toMatchObject({ state: 'released', droppedCopy: null, changes: 1 });
      await partkit(db, ['maintain'], { config: config.file });
      expect(await whereIs(db, month)).toEqual({ attached: 0, archived: 1 });
    });

    it('a restore whose attach fails leaves nothing and can be run again; a table loaded but not attached is loaded again', async () => {
      const month = await monthAgo(db, 1);
      // The month is past nothing (retention 3 months), but its rows are detached and exported by hand here: a restore drill.
      await partkit(db, ['archive', 'export', '--to', cold], { config: config.file });
      const source = await db.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.messages'::regclass AND pg_get_expr(c.relpartbound, c.oid) LIKE $1`, [`FOR VALUES FROM ('${month}-01%`]);
      const child = source.rows[0]!.name;
      const rows = await count(db, `SELECT count(*) FROM public."${child}"`);
      await db.query(`ALTER TABLE public.messages DETACH PARTITION public."${child}"`);
      await db.query(`ALTER TABLE public."${child}" SET SCHEMA partkit_archive`);
      await partkit(db, ['archive', 'export', '--to', cold], { config: config.file });
      await db.query(`CREATE TABLE public.saved_rows AS SELECT * FROM partkit_archive."${child}"`);
      await db.query(`DROP TABLE partkit_archive."${child}"`);

      // Attaching fails: the table's zone, set far east, bounds the month elsewhere than its rows lie.
      await db.query(`UPDATE partkit.managed_table SET time_zone = 'Pacific/Kiritimati' WHERE parent_table = 'messages'`);
      const before = await catalogSnapshot(db);
      const failed = await partkit(db, ['archive', 'restore', 'public.messages', '--month', month, '--from', cold, '--attach'], { config: config.file, expectedExit: 5 });
      // Which check stops it depends on the hour of the rows: some lie past the month's far-east end, or its start overlaps the month before.
      expect(failed.stderr).toMatch(/(lie outside|overlaps a partition already attached) .* so it cannot be attached as that month/);
      expect(failed.stderr).toMatch(/^hint: Nothing was restored\. .*--into SCHEMA\.TABLE/m);
      expect(await catalogSnapshot(db)).toEqual(before);
      await db.query(`UPDATE partkit.managed_table SET time_zone = 'UTC' WHERE parent_table = 'messages'`);

      // What an older partkit left when it stopped between its load and its attach.
      await db.query(`CREATE TABLE public."${child}" (LIKE public.messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
      await db.query(`INSERT INTO public."${child}" SELECT * FROM public.saved_rows`);
      const restored = await partkit(db, ['archive', 'restore', 'public.messages', '--month', month, '--from', cold, '--attach', '--json'], { config: config.file });
      expect(restored.json).toMatchObject({ action: 'restored', attached: true, rows });
      expect(restored.stderr).toMatch(/drop public\.messages_\S+, loaded by a restore that stopped before its attach/);
      expect(await count(db, `SELECT count(*) FROM public."${child}"`)).toBe(rows);
      expect(await count(db, `SELECT count(*) FROM pg_inherits WHERE inhrelid = 'public."${child}"'::regclass AND inhparent = 'public.messages'::regclass`)).toBe(1);
    });
  });

  describeTarget(name, `a restore SIGKILLed, then run again, under a live writer, on ${name}`, () => {
    let db: TestDatabase;
    let cold: string;
    beforeAll(async () => {
      ({ db, cold } = await archivedMonths(name));
      await createTruthTable(db.url);
    });
    afterAll(() => db?.drop());

    it('killed while it waits to attach: the catalog is as before; run again while the writer writes: every exported row once, every write kept', async () => {
      const month = await monthAgo(db, 6);
      const list = (await partkit(db, ['archive', 'list', '--table', 'public.messages', '--json'], { config: config.file })).json as unknown as ListJson;
      const copy = list.tables[0]!.months.find((m) => m.month === month)!.relation!;
      const exported = await digest(db, copy);
      const exportedRows = await count(db, `SELECT count(*) FROM ${copy}`);
      expect(exportedRows).toBeGreaterThan(20);
      const before = await catalogSnapshot(db);

      const writer = await startLiveWriter({
        url: db.url,
        table: 'public.messages',
        extraColumns: 'session_id, role',
        extraValues: `gen_random_uuid(), 'user'`,
        createdAt: ['now()', "now() - interval '40 days'"],
        opsPerSecond: 80,
        updateShare: 0.3,
        deleteShare: 0.1,
      });
      try {
        // The load is done and ATTACH PARTITION waits for this lock (writers' ROW EXCLUSIVE does not): SIGKILL there.
        const holder = new pg.Client({ connectionString: db.url, application_name: 'lock-holder' });
        await holder.connect();
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE public.messages IN SHARE UPDATE EXCLUSIVE MODE');
        try {
          const running = spawnPartkit(['archive', 'restore', 'public.messages', '--month', month, '--from', cold, '--attach', '--keep', '--lock-timeout', '60s', '--config', config.file, '--database-url', db.url]);
          let output = '';
          running.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
          running.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
          let seen: unknown[] = [];
          await until(
            () => `the restore to wait for its ATTACH (its sessions: ${JSON.stringify(seen)}; its output: ${output})`,
            async () => (seen = await restoreSessions(db)).some((session) => (session as { wait_event_type: string | null }).wait_event_type === 'Lock' && (session as { query: string }).query.includes('ATTACH PARTITION')),
          );
          running.kill('SIGKILL');
          expect((await running).signal).toBe('SIGKILL');
          // A killed client cannot roll back: the server notices the closed socket (client_connection_check_interval) and does.
          await until('the killed restore\'s session to end', async () => (await restoreSessions(db)).length === 0, 10_000);
        } finally {
          await holder.query('ROLLBACK');
          await holder.end();
        }
        expect(await catalogSnapshot(db)).toEqual(before);

        const restored = await partkit(db, ['archive', 'restore', 'public.messages', '--month', month, '--from', cold, '--attach', '--keep', '--json'], { config: config.file });
        expect(restored.json).toMatchObject({ action: 'restored', attached: true, rows: exportedRows });
        await new Promise((resolve) => setTimeout(resolve, 500));
      } finally {
        await writer.stop();
      }
      expect(writer.stats.inserts + writer.stats.updates + writer.stats.deletes).toBeGreaterThan(20);
      expect(writer.stats.errors).toBe(0);
      // The month is attached with exactly the exported rows; the writer's rows are all as it left them.
      const attached = (await partkit(db, ['archive', 'list', '--table', 'public.messages', '--json'], { config: config.file })).json as unknown as ListJson;
      const child = attached.tables[0]!.months.find((m) => m.month === month && m.state === 'hot')!.relation!;
      expect(await digest(db, child)).toBe(exported);
      const oracle = await compareWithTruth(db.url, ['public.messages']);
      expect(oracle.truthRows).toBe(writer.stats.inserts);
      expect(oracle).toMatchObject({ missing: [], resurrected: [], stale: [], duplicated: [] });
      expect(await count(db, `SELECT count(*) FROM ${TRUTH_TABLE} t WHERE NOT t.deleted AND NOT EXISTS (SELECT 1 FROM public.messages m WHERE m.id = t.id)`)).toBe(0);
    });

    it('release refuses, nothing changed, when the archived copy holds a row the attached month does not; with the copy set aside it releases', async () => {
      const month = await monthAgo(db, 5);
      const list = (await partkit(db, ['archive', 'list', '--table', 'public.messages', '--json'], { config: config.file })).json as unknown as ListJson;
      const copy = list.tables[0]!.months.find((m) => m.month === month)!.relation!;
      await partkit(db, ['archive', 'restore', 'public.messages', '--month', month, '--from', cold, '--attach', '--keep'], { config: config.file });
      // A row that reached the archived copy after its export (by hand, say): the restored month lacks it.
      await db.query(`INSERT INTO ${copy} (id, session_id, role, content, created_at) SELECT gen_random_uuid(), gen_random_uuid(), 'user', 'late', min(created_at) FROM ${copy}`);
      const before = await catalogSnapshot(db);
      const holds = `SELECT count(*) FROM partkit.archive_hold WHERE parent_table = 'messages' AND month = $1`;
      const refused = await partkit(db, ['archive', 'release', 'public.messages', '--month', month], { config: config.file, expectedExit: 5 });
      expect(refused.stderr).toMatch(/holds 1 row\(s\) that the attached .* does not: .*\(nothing was changed\)/);
      expect(refused.stderr).toMatch(/^hint: Keep the copy aside in a schema of its own .*: psql -c 'CREATE SCHEMA IF NOT EXISTS "partkit_archive_kept"; ALTER TABLE .* SET SCHEMA "partkit_archive_kept"' and partkit archive release public\.messages --month \d{4}-\d{2}$/m);
      expect(await catalogSnapshot(db)).toEqual(before);
      expect(await count(db, holds, [month])).toBe(1);
      // The way round, as the hint says.
      const setAside = /psql -c '([^']+)'/.exec(refused.stderr)![1]!;
      await db.query(setAside);
      const released = await partkit(db, ['archive', 'release', 'public.messages', '--month', month, '--json'], { config: config.file });
      expect(released.json).toMatchObject({ state: 'released', droppedCopy: null });
      expect(await count(db, holds, [month])).toBe(0);
      await partkit(db, ['maintain'], { config: config.file });
      expect(await whereIs(db, month)).toEqual({ attached: 0, archived: 1 });
      expect(await count(db, `SELECT count(*) FROM partkit_archive_kept.${copy.split('.')[1]!} WHERE content = 'late'`)).toBe(1);
    });
  });
}

suite('bare18');
suite('pg17-partman5');

describeTarget('bare18', 'archived months of an adopted table (children with names of their own) appear in archive list, export and purge', () => {
  let db: TestDatabase;
  const adopted = files.write('adopted', { tables: [{ name: 'public."Adopted Log"', retention: '3 months', purge: { enabled: true, after: '4 months' } }] });
  beforeAll(async () => {
    db = await createTestDatabase('bare18', { kit: true });
    await db.query(`CREATE TABLE public."Adopted Log" (id bigint NOT NULL, note text, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
    for (let ago = 8; ago >= 0; ago -= 1) {
      const month = await monthAgo(db, ago);
      const next = await monthAgo(db, ago - 1);
      await db.query(`CREATE TABLE public."adopted ${month} (by hand)" PARTITION OF public."Adopted Log" FOR VALUES FROM ('${month}-01 00:00:00+00') TO ('${next}-01 00:00:00+00')`);
      await db.query(`INSERT INTO public."Adopted Log" SELECT g, 'n', '${month}-10 00:00:00+00'::timestamptz + g * interval '1 minute' FROM generate_series(1, 10) g`);
    }
    await partkit(db, ['provision', '--scheduler', 'external'], { config: adopted });
  });
  afterAll(() => db?.drop());

  it('maintenance archives them under their own names; list, export and purge find them', async () => {
    await partkit(db, ['maintain'], { config: adopted });
    const archivedMonths = [await monthAgo(db, 8), await monthAgo(db, 7), await monthAgo(db, 6), await monthAgo(db, 5), await monthAgo(db, 4)];
    expect(await count(db, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'partkit_archive' AND c.relkind = 'r' AND c.relname LIKE 'adopted %'`)).toBe(archivedMonths.length);
    const list = (await partkit(db, ['archive', 'list', '--json'], { config: adopted })).json as unknown as ListJson;
    const states = Object.fromEntries(list.tables[0]!.months.map((m) => [m.month, m.state]));
    for (const month of archivedMonths) expect(states[month], JSON.stringify(list)).toBe('archived');

    const cold = mkdtempSync(path.join(tmpdir(), 'partkit-adopted-'));
    const exported = (await partkit(db, ['archive', 'export', '--to', cold, '--json'], { config: adopted })).json as unknown as { exported: number; months: { month: string; rows: number }[] };
    expect(exported.exported).toBe(archivedMonths.length);
    expect(exported.months.every((m) => m.rows === 10)).toBe(true);

    // Purge after 4 months: the months that ended more than 4 months ago go, now that they are exported.
    const purged = (await partkit(db, ['maintain', '--json'], { config: adopted })).json as unknown as { events: { action: string; partition: string | null }[] };
    const purgedNames = purged.events.filter((event) => event.action === 'purged').map((event) => event.partition);
    expect(purgedNames.length).toBeGreaterThanOrEqual(3);
    expect(purgedNames.every((name) => /adopted \d{4}-\d{2} \(by hand\)/.test(name ?? ''))).toBe(true);
    const after = (await partkit(db, ['archive', 'list', '--json'], { config: adopted })).json as unknown as ListJson;
    expect(after.tables[0]!.months.filter((m) => m.state === 'purged').length).toBe(purgedNames.length);
  });
});
