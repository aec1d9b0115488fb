/**
 * Archive: restore, hold, release, with no dead end, on pg_partman 5 (pg17) and the fallback (bare18).
 * A month restored with --attach --keep is held: verify passes and lists it, maintenance leaves it
 * attached; `archive release` lets it go and the next maintenance archives it again, whether or not
 * its archived copy is still in the archive schema (deleting the hold row by hand broke pg_partman
 * with 42P07 there). A restore whose attach fails leaves nothing and can be run again; a table an
 * older partkit loaded but did not attach is loaded again. Months of an adopted table (children
 * with names of their own) appear in archive list, export and purge.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { catalogSnapshot } from './helpers/catalog.js';
import { configFiles, count, partkit } from './helpers/cli.js';
import { createTestDatabase, describeTarget, type TargetName, type TestDatabase } from './helpers/targets.js';

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

const files = configFiles('archive-hold');
const config = { file: files.write('messages', { tables: [{ name: 'public.messages', retention: '3 months' }] }) };

function suite(name: TargetName): void {
  describeTarget(name, `archive hold and release on ${name}`, () => {
    let db: TestDatabase;
    let cold: string;
    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      await partkit(db, ['provision', '--scheduler', 'external'], { config: config.file });
      await db.query(`INSERT INTO public.messages (session_id, role, content, created_at)
                      SELECT gen_random_uuid(), 'user', 'row ' || g, now() - g * interval '1 day' FROM generate_series(1, 300) g`);
      await partkit(db, ['maintain'], { config: config.file });
      cold = mkdtempSync(path.join(tmpdir(), 'partkit-hold-'));
      await partkit(db, ['archive', 'export', '--to', cold], { config: config.file });
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
      expect(failed.stderr).toMatch(/lie outside .* so it cannot be attached as that month/);
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
