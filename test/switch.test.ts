import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { midMonth, monthOf } from './helpers/clock.js';
import { attachedPartitions, createTestDatabase, describeTarget, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';
import { count, provisionJson } from './helpers/cli.js';

const TABLES = ['messages', 'execution_logs', 'api_key_logs', 'usage_records'];

/** pg_partman's child name for a month: 4.x `t_p2026_01`, 5.x `t_p20260101`. */
function partmanName(table: string, offset: number, major: number): string {
  const { year, month } = monthOf(offset);
  const mm = String(month).padStart(2, '0');
  return major >= 5 ? `${table}_p${year}${mm}01` : `${table}_p${year}_${mm}`;
}

async function rowCounts(db: TestDatabase): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) counts[table] = await count(db, `SELECT count(*) FROM ${table}`);
  return counts;
}

const targets: { name: TargetName; major: number }[] = [
  { name: 'pg17-partman5', major: 5 },
  { name: 'pg15-partman4', major: 4 },
];

for (const { name, major } of targets) {
  describeTarget(name, `switch from the plpgsql fallback to pg_partman ${major}.x on ${name}`, () => {
    let db: TestDatabase;
    let before: Record<string, number>;
    beforeAll(async () => {
      db = await createTestDatabase(name);
      await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
    });
    afterAll(() => db?.drop());

    it('starts on the fallback with rows across six months and some waiting in the default', async () => {
      const result = await provisionJson(db.url, ['--strategy', 'plpgsql']);
      expect(result.strategy).toBe('plpgsql');
      expect(await count(db, `SELECT count(*) FROM pg_extension WHERE extname = 'pg_partman'`)).toBe(0);
      for (const back of [5, 4, 3, 2, 1]) {
        const { year, month } = monthOf(-back);
        for (const table of ['messages', 'usage_records']) await db.query(`SELECT partkit.create_monthly_partition($1, $2, $3)`, [`public.${table}`, year, month]);
      }
      for (const offset of [-5, -4, -3, -2, -1, 0]) {
        await db.query(`INSERT INTO messages (session_id, role, content, created_at) SELECT gen_random_uuid(), 'user', 'm', $1 FROM generate_series(1, 7)`, [midMonth(offset)]);
        await db.query(`INSERT INTO usage_records (organization_id, resource_type, quantity, created_at) SELECT gen_random_uuid(), 'tokens', g, $1 FROM generate_series(1, 3) g`, [midMonth(offset)]);
      }
      // Rows the fallback has not placed yet wait in the default: the month before the oldest
      // child, and a month far ahead.
      await db.query(`INSERT INTO messages (session_id, role, content, created_at) SELECT gen_random_uuid(), 'user', 'past', $1 FROM generate_series(1, 5)`, [midMonth(-6)]);
      await db.query(`INSERT INTO messages (session_id, role, content, created_at) SELECT gen_random_uuid(), 'user', 'future', $1 FROM generate_series(1, 4)`, [midMonth(9)]);
      await db.query(`INSERT INTO execution_logs (execution_id, message, created_at) SELECT gen_random_uuid(), 'done', $1 FROM generate_series(1, 2)`, [midMonth(0)]);
      expect(await count(db, `SELECT count(*) FROM ONLY messages_default`)).toBe(9);
      before = await rowCounts(db);
      expect(before.messages).toBe(6 * 7 + 5 + 4);
      expect(before.usage_records).toBe(6 * 3);
      expect((await attachedPartitions(db, 'public.messages')).map((k) => k.name)).toContain(`messages_y${monthOf(-5).year}m${String(monthOf(-5).month).padStart(2, '0')}`);
    });

    it('provision --strategy partman hands every table over to pg_partman', async () => {
      const result = await provisionJson(db.url, ['--strategy', 'partman']);
      expect(result.strategy).toBe('partman');
      expect(result.changes).toBeGreaterThan(0);

      const { rows: config } = await db.query(
        `SELECT parent_table, control, partition_interval, premake, retention, retention_schema, retention_keep_table, infinite_time_partitions
           FROM partman.part_config ORDER BY parent_table`,
      );
      expect(config).toEqual(
        [...TABLES].sort().map((table) => ({
          parent_table: `public.${table}`,
          control: 'created_at',
          partition_interval: '1 mon',
          premake: 4,
          retention: '12 months',
          retention_schema: 'partkit_archive',
          retention_keep_table: true,
          infinite_time_partitions: true,
        })),
      );
      const { rows: managed } = await db.query(`SELECT parent_table, strategy, partman_schema FROM partkit.managed_table ORDER BY parent_table`);
      expect(managed).toEqual([...TABLES].sort().map((table) => ({ parent_table: table, strategy: 'partman', partman_schema: 'partman' })));

      // The months keep their rows under pg_partman's names; the default is pg_partman's own.
      const kids = await attachedPartitions(db, 'public.messages');
      expect(kids.filter((k) => k.lower !== null).map((k) => k.name)).toEqual([-5, -4, -3, -2, -1, 0, 1, 2, 3, 4].map((i) => partmanName('messages', i, major)));
      expect(kids.at(-1)).toMatchObject({ name: 'messages_default', lower: null });
      expect(await rowCounts(db)).toEqual(before);
      expect(await count(db, `SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_default\\_old'`)).toBe(0);
      expect(await count(db, `SELECT count(*) FROM pg_class WHERE relname ~ '_y\\d{4}m\\d{2}$'`)).toBe(0);
    });

    it('maintain (pg_partman) creates the next months and places the waiting rows; nothing is lost, nothing overlaps', async () => {
      const result = await runPartkit(['maintain', '--json', '--database-url', db.url]);
      expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(0);
      const report = JSON.parse(result.stdout) as { ok: boolean; events: { table: string; action: string; partition: string | null }[] };
      expect(report.ok).toBe(true);
      // pg_partman counts the months ahead from CURRENT_TIMESTAMP and rounds: in the second half of
      // a month it keeps premake + 1 ahead, in the first half premake (docs/verified-facts.md). So it
      // makes the month after the newest one, or nothing, depending on the day; never anything else.
      const created = report.events.filter((e) => e.action === 'created' && e.table === 'public.usage_records').map((e) => e.partition);
      expect([[], [`public.${partmanName('usage_records', 5, major)}`]]).toContainEqual(created);
      const extraMonth = created.length === 0 ? [] : [monthOf(5).start];
      expect(await count(db, `SELECT count(*) FROM ONLY messages_default`)).toBe(0);
      expect(await count(db, `SELECT count(*) FROM messages WHERE content = 'future' AND tableoid = '${partmanName('messages', 9, major)}'::regclass`)).toBe(4);
      expect(await rowCounts(db)).toEqual(before);

      expect(await count(db, `SELECT count(*) FROM messages WHERE content = 'past' AND tableoid = '${partmanName('messages', -6, major)}'::regclass`)).toBe(5);

      for (const table of TABLES) {
        const months = (await attachedPartitions(db, `public.${table}`)).filter((k) => k.lower !== null);
        for (const [index, child] of months.entries()) {
          // Each child is one month, 00:00 UTC on the 1st to the next 1st, and none overlaps the one before.
          const lower = new Date(child.lower!.replace(' ', 'T').replace('+00', 'Z'));
          const upper = new Date(child.upper!.replace(' ', 'T').replace('+00', 'Z'));
          expect(lower.getUTCDate(), child.name).toBe(1);
          expect(lower.getUTCHours(), child.name).toBe(0);
          expect(upper.getTime(), child.name).toBe(Date.UTC(lower.getUTCFullYear(), lower.getUTCMonth() + 1, 1));
          if (index > 0) expect(child.lower! >= months[index - 1]!.upper!, `${months[index - 1]!.name} overlaps ${child.name}`).toBe(true);
        }
        // No gap from the oldest month through premake (and, without rows from the future, at all).
        const first = table === 'messages' ? -6 : table === 'usage_records' ? -5 : 0;
        const contiguous = Array.from({ length: 5 - first }, (_, i) => monthOf(first + i).start);
        if (table === 'messages') {
          expect(months.filter((k) => k.lower! < monthOf(9).start).map((k) => k.lower)).toEqual(contiguous);
          expect(months.map((k) => k.lower)).toContain(monthOf(9).start);
        } else {
          const premadeExtra = table === 'usage_records' ? extraMonth : months.some((k) => k.lower === monthOf(5).start) ? [monthOf(5).start] : [];
          expect(months.map((k) => k.lower)).toEqual([...contiguous, ...premadeExtra]);
        }
      }
    });

    it('maintain makes a missing month within premake again, even with a newer child beyond it', async () => {
      // pg_partman alone premakes only after the newest child (here the month made for the early rows).
      const missing = partmanName('messages', 2, major);
      await db.query(`DROP TABLE ${missing}`);
      const result = await runPartkit(['maintain', '--json', '--database-url', db.url]);
      expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(0);
      const report = JSON.parse(result.stdout) as { ok: boolean; events: { table: string; action: string; partition: string | null }[] };
      expect(report.ok).toBe(true);
      expect(report.events.filter((e) => e.action === 'created').map((e) => e.partition)).toEqual([`public.${missing}`]);
      const months = (await attachedPartitions(db, 'public.messages')).filter((k) => k.lower !== null && k.lower < monthOf(9).start);
      expect(months.map((k) => k.lower)).toEqual(Array.from({ length: 11 }, (_, i) => monthOf(i - 6).start));
      expect(await rowCounts(db)).toEqual(before);
    });

    it('a second provision --strategy partman changes nothing', async () => {
      const result = await provisionJson(db.url, ['--strategy', 'partman']);
      expect(result.steps).toEqual([]);
      expect(result.changes).toBe(0);
      expect(await rowCounts(db)).toEqual(before);
    });
  });
}

describeTarget('pg17-partman5', 'switch a mixed-case table with spaces and quotes from the fallback to pg_partman 5.x', () => {
  const odd = '"My Schema"."Odd ""Name"" Tbl"';
  let db: TestDatabase;
  let config: string;
  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5');
    await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
    await db.query(`CREATE SCHEMA "My Schema"`);
    await db.query(`CREATE TABLE ${odd} (id bigint, "Created At" timestamptz NOT NULL, note text, PRIMARY KEY (id, "Created At")) PARTITION BY RANGE ("Created At")`);
    config = path.join(mkdtempSync(path.join(tmpdir(), 'partkit-switch-')), 'partkit.json');
    writeFileSync(config, JSON.stringify({ tables: [{ name: odd, controlColumn: 'Created At' }] }));
  });
  afterAll(() => db?.drop());

  it('keeps every row, names the months as pg_partman does, and a second provision changes nothing', async () => {
    const args = ['--scheduler', 'external', '--config', config];
    expect((await provisionJson(db.url, ['--strategy', 'plpgsql', ...args])).strategy).toBe('plpgsql');
    const { year, month } = monthOf(-2);
    await db.query(`SELECT partkit.create_monthly_partition($1, $2, $3)`, [odd, year, month]);
    let id = 0;
    for (const offset of [-4, -4, -2, -2, 0, 1, 1]) await db.query(`INSERT INTO ${odd} (id, "Created At", note) VALUES ($1, $2, 'it''s "quoted"')`, [(id += 1), midMonth(offset)]);
    // The month before the oldest child waits in the default.
    expect(await count(db, `SELECT count(*) FROM ONLY "My Schema"."Odd ""Name"" Tbl_default"`)).toBe(2);

    const switched = await provisionJson(db.url, ['--strategy', 'partman', ...args]);
    expect(switched.strategy).toBe('partman');
    const { rows: managed } = await db.query(`SELECT parent_schema, parent_table, strategy FROM partkit.managed_table`);
    expect(managed).toEqual([{ parent_schema: 'My Schema', parent_table: 'Odd "Name" Tbl', strategy: 'partman' }]);
    const names = (await attachedPartitions(db, odd)).filter((k) => k.lower !== null).map((k) => k.name);
    expect(names).toEqual(expect.arrayContaining([-2, 0, 1, 2, 3, 4].map((i) => partmanName('Odd "Name" Tbl', i, 5))));
    expect(names.filter((name) => /_y\d{4}m\d{2}$/.test(name))).toEqual([]);

    const maintained = await runPartkit(['maintain', '--json', '--config', config, '--database-url', db.url]);
    expect(maintained.exitCode, `${maintained.stderr}\n${maintained.stdout}`).toBe(0);
    expect(await count(db, `SELECT count(*) FROM ONLY "My Schema"."Odd ""Name"" Tbl_default"`)).toBe(0);
    expect(await count(db, `SELECT count(*) FROM ${odd} WHERE note = 'it''s "quoted"'`)).toBe(7);
    expect((await provisionJson(db.url, ['--strategy', 'partman', ...args])).changes).toBe(0);
  });
});
