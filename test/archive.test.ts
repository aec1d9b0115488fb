/**
 * The archival process end to end, on the plpgsql fallback (bare18) and on pg_partman 5 (pg17):
 * months past retention are archived by maintenance, `partkit archive export` writes them to files
 * (skipping what is already there), purge drops only exported months, `--drop-after-export` drops
 * only what reads back from its file, and no row is ever lost.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanEnv, createTestDatabase, describeTarget, psql, REPO_DIR, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';
import { monthOf } from './helpers/clock.js';
import { readCopyCsv } from './helpers/csv.js';

const SCRIPT = path.join(REPO_DIR, 'docker', 'scripts', 'archive_old_data.sh');
const TABLES = ['messages', 'usage_records'] as const;
type Table = (typeof TABLES)[number];
const CONTENTS = ['plain', 'comma, inside', 'a "quoted" word', 'two\nlines', '', '\\.', 'crlf\r\nend', '中文 ✓', ' spaces '];
const MESSAGE_COLUMNS = [
  { name: 'id', type: 'uuid' },
  { name: 'session_id', type: 'uuid' },
  { name: 'role', type: 'character varying(20)' },
  { name: 'content', type: 'text' },
  { name: 'created_at', type: 'timestamp with time zone' },
];

interface MonthJson {
  table: string;
  archivedTable: string;
  month: string;
  action: 'exported' | 'skipped';
  rows: number;
  file: string;
  manifest: string;
  sha256: string | null;
  recorded: boolean;
  dropped: boolean;
}

interface ExportJson {
  directory: string;
  dryRun: boolean;
  months: MonthJson[];
  exported: number;
  skipped: number;
  dropped: number;
}

interface Manifest {
  table: string;
  archived_table: string;
  month: string;
  rows: number;
  file: string;
  bytes: number;
  sha256: string;
  columns: { name: string; type: string }[];
  exported_at: string;
}

interface MaintainJson {
  ok: boolean;
  failed: number;
  events: { table: string; action: string; partition: string | null; detail: string | null; rows: number | null }[];
}

/** Rows inserted per month `back` months ago. */
function rowsFor(table: Table, back: number): number {
  return table === 'messages' ? 3 + (back % 4) : 2 + (back % 3);
}

const modeOf = (file: string) => statSync(file).mode & 0o777;
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const readManifest = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Manifest;

for (const [target, strategy] of [
  ['bare18', 'plpgsql'],
  ['pg17-partman5', 'partman'],
] as [TargetName, 'plpgsql' | 'partman'][]) {
  describeTarget(target, `archive export and purge, ${strategy} strategy on ${target}`, () => {
    let db: TestDatabase;
    const work = mkdtempSync(path.join(tmpdir(), `partkit-archive-${strategy}-`));
    const dir = path.join(work, 'cold');
    const config = path.join(work, 'partkit.json');
    writeFileSync(config, JSON.stringify({ defaults: { purge: { enabled: true, after: '13 months' } }, tables: TABLES.map((name) => ({ name: `public.${name}` })) }));
    /** The name retention leaves in the archive schema for the month `back` months ago. */
    const childName = (table: Table, back: number) => {
      const m = monthOf(-back);
      return strategy === 'partman' ? `${table}_p${m.key.replace('-', '')}01` : `${table}_y${m.year}m${String(m.month).padStart(2, '0')}`;
    };
    const archived = (table: Table, back: number) => `partkit_archive.${childName(table, back)}`;
    const fileOf = (table: Table, back: number) => path.join(dir, `public.${table}`, `${monthOf(-back).key}.csv.gz`);
    const manifestOf = (table: Table, back: number) => path.join(dir, `public.${table}`, `${monthOf(-back).key}.json`);
    const inserted = new Map<Table, number>();

    async function partkit(args: string[]) {
      return runPartkit([...args, '--config', config, '--database-url', db.url]);
    }
    async function exportJson(args: string[] = []): Promise<ExportJson> {
      const result = await partkit(['archive', 'export', '--to', dir, '--json', ...args]);
      expect(result.exitCode, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as ExportJson;
    }
    async function maintainJson(): Promise<MaintainJson> {
      const result = await partkit(['maintain', '--json']);
      expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(0);
      return JSON.parse(result.stdout) as MaintainJson;
    }
    /** Month -> state as `partkit archive list` reports it for one table. */
    async function listedStates(table: Table): Promise<Record<string, string>> {
      const result = await partkit(['archive', 'list', '--table', `public.${table}`, '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      const json = JSON.parse(result.stdout) as { tables: { months: { month: string; state: string }[] }[] };
      return Object.fromEntries(json.tables[0]!.months.map((month) => [month.month, month.state]));
    }
    async function archivedTables(): Promise<string[]> {
      const { rows } = await db.query<{ name: string }>(`SELECT relname AS name FROM pg_class WHERE relnamespace = 'partkit_archive'::regnamespace AND relkind = 'r' ORDER BY 1`);
      return rows.map((row) => row.name);
    }
    async function count(sql: string): Promise<number> {
      return Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
    }
    async function attachedRows(table: Table): Promise<number> {
      return count(`SELECT count(*) AS n FROM public.${table}`);
    }
    const eventsOf = (result: MaintainJson, action: string) =>
      result.events
        .filter((event) => event.action === action)
        .map((event) => event.partition)
        .sort();

    beforeAll(async () => {
      db = await createTestDatabase(target, { kit: true });
      const provision = await partkit(['provision', '--scheduler', 'external']);
      if (provision.exitCode !== 0) throw new Error(`provision failed: ${provision.stderr}`);
      for (const table of TABLES) {
        if (strategy === 'plpgsql') {
          for (let back = 1; back <= 15; back += 1) {
            const m = monthOf(-back);
            await db.query(`SELECT partkit.create_monthly_partition($1, $2, $3)`, [`public.${table}`, m.year, m.month]);
          }
        } else {
          const times = Array.from({ length: 15 }, (_, i) => `'${monthOf(-(i + 1)).start}'`).join(', ');
          await db.query(`SET TimeZone = 'UTC'; SELECT partman.create_partition_time(p_parent_table := 'public.${table}', p_partition_times := ARRAY[${times}]::timestamptz[])`);
        }
        let total = 0;
        for (let back = 1; back <= 15; back += 1) {
          const n = rowsFor(table, back);
          total += n;
          if (table === 'messages') {
            await db.query(
              `INSERT INTO messages (session_id, role, content, created_at)
               SELECT gen_random_uuid(), 'user', ($1::text[])[1 + (i % cardinality($1::text[]))], $2::timestamptz + make_interval(secs => i) FROM generate_series(1, $3) i`,
              [CONTENTS, monthOf(-back).mid, n],
            );
          } else {
            await db.query(
              `INSERT INTO usage_records (organization_id, user_id, resource_type, quantity, cost_usd, metadata, created_at)
               SELECT gen_random_uuid(), CASE WHEN i % 2 = 0 THEN gen_random_uuid() END, 'tokens', i * 1000, i * 0.000123,
                      jsonb_build_object('note', 'a, "b"', 'i', i), $1::timestamptz + make_interval(secs => i)
                 FROM generate_series(1, $2) i`,
              [monthOf(-back).mid, n],
            );
          }
        }
        inserted.set(table, total);
      }
    });
    afterAll(() => db?.drop());

    it('maintenance archives months 13-15 and skips purging them because they are not exported', async () => {
      const result = await maintainJson();
      expect(result.ok).toBe(true);
      expect(await archivedTables()).toEqual(TABLES.flatMap((table) => [15, 14, 13].map((back) => childName(table, back))).sort());
      // Purge after 13 months: months 14 and 15 are due, month 13 is not; none is exported yet.
      const skipped = result.events.filter((event) => event.action === 'purge-skipped');
      expect(skipped.map((event) => event.partition).sort()).toEqual(TABLES.flatMap((table) => [15, 14].map((back) => `partkit_archive.${childName(table, back)}`)).sort());
      for (const event of skipped) expect(event.detail).toMatch(/is not exported yet: run partkit archive export$/);
      expect(eventsOf(result, 'purged')).toEqual([]);
      for (const table of TABLES) {
        const hot = Array.from({ length: 12 }, (_, i) => rowsFor(table, i + 1)).reduce((a, b) => a + b, 0);
        expect(await attachedRows(table)).toBe(hot);
      }
      expect(await count(`SELECT count(*) AS n FROM partkit.managed_table WHERE purge_after = interval '13 months'`)).toBe(2);
      // archive list: detached, not exported yet.
      expect(await listedStates('messages')).toMatchObject({ [monthOf(-15).key]: 'archived', [monthOf(-13).key]: 'archived', [monthOf(-12).key]: 'hot', [monthOf(-1).key]: 'hot' });
    });

    it('--dry-run lists every archived month and writes nothing', async () => {
      const result = await exportJson(['--dry-run', '--drop-after-export']);
      expect(result.dryRun).toBe(true);
      expect(result.months).toHaveLength(6);
      expect(result.months.every((month) => month.action === 'exported' && month.sha256 === null && month.dropped)).toBe(true);
      expect(result.months.find((month) => month.archivedTable === archived('messages', 15))).toMatchObject({ month: monthOf(-15).key, rows: rowsFor('messages', 15), file: fileOf('messages', 15) });
      const text = await partkit(['archive', 'export', '--to', dir, '--dry-run']);
      expect(text.exitCode, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/\(dry run: nothing written or dropped\): 6 would be exported, 0 already exported, 0 would be dropped/);
      expect(text.stdout).toContain(`export   public.messages ${monthOf(-15).key}  ${archived('messages', 15)} (${rowsFor('messages', 15)} rows) -> ${fileOf('messages', 15)}\n`);
      expect(existsSync(dir)).toBe(false);
      expect(await archivedTables()).toHaveLength(6);
      expect(await count('SELECT count(*) AS n FROM partkit.archive_export')).toBe(0);
    });

    it('export writes each month as CSV with a header in gzip, with a manifest whose checksum matches', async () => {
      const result = await exportJson();
      expect(result).toMatchObject({ dryRun: false, exported: 6, skipped: 0, dropped: 0 });
      for (const table of TABLES) {
        for (const back of [13, 14, 15]) {
          const file = fileOf(table, back);
          const manifest = readManifest(manifestOf(table, back));
          expect(manifest).toMatchObject({ table: `public.${table}`, archived_table: archived(table, back), month: monthOf(-back).key, rows: rowsFor(table, back), file: path.basename(file) });
          expect(manifest.sha256).toBe(sha256(file));
          expect(manifest.bytes).toBe(statSync(file).size);
          expect(Date.parse(manifest.exported_at)).not.toBeNaN();
          const records = readCopyCsv(gunzipSync(readFileSync(file)).toString('utf8'));
          expect(records).toHaveLength(rowsFor(table, back) + 1);
          expect(records[0]).toEqual(manifest.columns.map((column) => column.name));
          if (table === 'messages') {
            expect(manifest.columns).toEqual(MESSAGE_COLUMNS);
            const contents = (await db.query<{ content: string }>(`SELECT content FROM ${archived(table, back)} ORDER BY content`)).rows.map((row) => row.content);
            expect(records.slice(1).map((record) => record[3]).sort()).toEqual([...contents].sort());
          } else {
            // user_id is NULL in every other row, and stays NULL (unquoted empty) in the file.
            const nulls = await count(`SELECT count(*) AS n FROM ${archived(table, back)} WHERE user_id IS NULL`);
            expect(records.slice(1).filter((record) => record[2] === null)).toHaveLength(nulls);
          }
        }
      }
      // Archived rows are user data: owner-only files and folders, whatever the umask (022 here).
      expect(process.umask() & 0o077).not.toBe(0o077);
      for (const folder of [dir, ...TABLES.map((table) => path.join(dir, `public.${table}`))]) expect(modeOf(folder), folder).toBe(0o700);
      for (const table of TABLES) {
        for (const back of [13, 14, 15]) for (const file of [fileOf(table, back), manifestOf(table, back)]) expect(modeOf(file), file).toBe(0o600);
      }
      const { rows } = await db.query<{ archived_table: string; rows: string; sha256: string; file: string; dropped_at: Date | null }>(
        'SELECT archived_table, rows, sha256, file, dropped_at FROM partkit.archive_export ORDER BY archived_table',
      );
      expect(rows).toHaveLength(6);
      for (const row of rows) {
        const table = TABLES.find((t) => row.archived_table.startsWith(`${t}_`))!;
        expect(row.sha256).toBe(sha256(row.file));
        expect(row.dropped_at).toBeNull();
        expect(path.dirname(row.file)).toBe(path.join(dir, `public.${table}`));
      }
    });

    it('a month restores from its file into a table with the same rows (gunzip + COPY FROM csv)', async () => {
      for (const table of TABLES) {
        const restored = `restored_${table}`;
        const result = await psql(
          target,
          db,
          `CREATE TABLE public.${restored} (LIKE ${archived(table, 15)});\n\\copy public.${restored} FROM PROGRAM 'gzip -dc ${fileOf(table, 15)}' WITH (FORMAT csv, HEADER)\n`,
        );
        expect(result.exitCode, result.stderr).toBe(0);
        const digest = (relation: string) => `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS n FROM ${relation} t`;
        const original = (await db.query<{ n: string }>(digest(archived(table, 15)))).rows[0]!.n;
        expect((await db.query<{ n: string }>(digest(`public.${restored}`))).rows[0]!.n).toBe(original);
        await db.query(`DROP TABLE public.${restored}`);
      }
    });

    it('a second export skips every month and rewrites nothing', async () => {
      const before = readdirSync(path.join(dir, 'public.messages')).map((name) => [name, statSync(path.join(dir, 'public.messages', name)).mtimeMs]);
      const stamps = (await db.query('SELECT archived_table, exported_at FROM partkit.archive_export ORDER BY 1')).rows;
      const result = await exportJson();
      expect(result).toMatchObject({ exported: 0, skipped: 6, dropped: 0 });
      expect(result.months.every((month) => !month.recorded)).toBe(true);
      expect(readdirSync(path.join(dir, 'public.messages')).map((name) => [name, statSync(path.join(dir, 'public.messages', name)).mtimeMs])).toEqual(before);
      expect((await db.query('SELECT archived_table, exported_at FROM partkit.archive_export ORDER BY 1')).rows).toEqual(stamps);
      const text = await partkit(['archive', 'export', '--to', dir]);
      expect(text.exitCode).toBe(0);
      expect(text.stdout).toMatch(/: 0 exported, 6 already exported, 0 dropped/);
      // archive list: exported, with the recorded file and checksum.
      expect(await listedStates('usage_records')).toMatchObject({ [monthOf(-14).key]: 'exported', [monthOf(-2).key]: 'hot' });
      const listed = JSON.parse((await partkit(['archive', 'list', '--table', 'public.messages', '--json'])).stdout) as { tables: { months: { month: string; file: string; sha256: string }[] }[] };
      expect(listed.tables[0]!.months.find((month) => month.month === monthOf(-13).key)).toMatchObject({ file: fileOf('messages', 13), sha256: sha256(fileOf('messages', 13)) });
      expect(text.stdout).toContain(`skipped  public.messages ${monthOf(-13).key}`);
    });

    it('leftover .partial files of a killed export are removed by the next run; nothing else in the folder is', async () => {
      const folder = path.join(dir, 'public.messages');
      const month = monthOf(-13).key;
      const gone = 99_999_999; // above any pid_max: no such process
      const leftovers = [`${month}.csv.gz.${gone}.partial`, `${month}.json.${gone}.partial`];
      const kept = [
        `${month}.csv.gz.${process.ppid}.partial`, // a process that still runs (the one that started this test) may still be writing it
        `1999-01.csv.gz.${gone}.partial`, // not a month of this table
        'notes.partial', // not partkit's
        `${month}.csv.gz.partial.bak`,
      ];
      for (const name of [...leftovers, ...kept]) writeFileSync(path.join(folder, name), 'half a month');
      const result = await exportJson();
      expect(result).toMatchObject({ exported: 0, skipped: 6 });
      for (const name of leftovers) expect(existsSync(path.join(folder, name)), name).toBe(false);
      for (const name of kept) expect(existsSync(path.join(folder, name)), name).toBe(true);
      for (const name of kept) rmSync(path.join(folder, name));
    });

    it('the modes are configurable (archiveExport.fileMode / dirMode)', async () => {
      const other = path.join(work, 'cold-group', 'nested');
      const modes = path.join(work, 'modes.json');
      writeFileSync(modes, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), archiveExport: { fileMode: '0640', dirMode: '0750' } }));
      const result = await runPartkit(['archive', 'export', '--to', other, '--json', '--config', modes, '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect((JSON.parse(result.stdout) as ExportJson).exported).toBe(6);
      for (const folder of [path.join(work, 'cold-group'), other, path.join(other, 'public.messages')]) expect(modeOf(folder), folder).toBe(0o750);
      for (const name of readdirSync(path.join(other, 'public.messages'))) expect(modeOf(path.join(other, 'public.messages', name)), name).toBe(0o640);
      // Back to the main folder, so that the records point at it again for the tests below.
      rmSync(path.join(work, 'cold-group'), { recursive: true });
      for (const table of TABLES) for (const back of [13, 14, 15]) rmSync(manifestOf(table, back));
      expect((await exportJson()).exported).toBe(6);
    });

    it('purge drops exported months past purge.after, keeps a month changed since its export, never touches attached ones', async () => {
      // A row that reached an archived month after its export: dropping it would lose the row.
      await db.query(`INSERT INTO ${archived('messages', 15)} (session_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'late', $1)`, [monthOf(-15).mid]);
      const hotBefore = await Promise.all(TABLES.map(attachedRows));
      const result = await maintainJson();
      expect(result.failed).toBe(0);
      expect(eventsOf(result, 'purged')).toEqual([archived('messages', 14), archived('usage_records', 14), archived('usage_records', 15)].sort());
      const skipped = result.events.filter((event) => event.action === 'purge-skipped');
      expect(skipped.map((event) => event.partition)).toEqual([archived('messages', 15)]);
      expect(skipped[0]!.detail).toMatch(new RegExp(`has ${rowsFor('messages', 15) + 1} rows but ${rowsFor('messages', 15)} were exported to .*: run partkit archive export again$`));
      expect(result.events.find((event) => event.action === 'purged' && event.partition === archived('usage_records', 15))?.rows).toBe(rowsFor('usage_records', 15));
      expect(await archivedTables()).toEqual([childName('messages', 13), childName('messages', 15), childName('usage_records', 13)].sort());
      expect(await Promise.all(TABLES.map(attachedRows))).toEqual(hotBefore);
      expect(await count(`SELECT count(*) AS n FROM partkit.archive_export WHERE dropped_at IS NOT NULL`)).toBe(3);
      // The files of purged months stay where they are.
      expect(existsSync(fileOf('messages', 14))).toBe(true);

      // The kit refuses to drop an attached month, exported or not.
      const attached = `public.${childName('messages', 1)}`;
      const error = await db.query(`SELECT partkit.drop_exported_archive($1::regclass)`, [attached]).then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      expect(error?.code).toBe('55000');
      expect(error?.message).toMatch(/is attached to a partitioned table/);
      expect(await count(`SELECT count(*) AS n FROM pg_inherits WHERE inhrelid = '${attached}'::regclass`)).toBe(1);
    });

    it('export picks up the changed month again; --drop-after-export drops only what reads back from its file', async () => {
      const again = await exportJson();
      expect(again.months.map((month) => [month.archivedTable, month.action]).sort()).toEqual(
        [
          [archived('messages', 13), 'skipped'],
          [archived('messages', 15), 'exported'],
          [archived('usage_records', 13), 'skipped'],
        ].sort(),
      );
      expect(readManifest(manifestOf('messages', 15)).rows).toBe(rowsFor('messages', 15) + 1);

      // A damaged file (same size) is not trusted for a drop: the month is exported again first.
      const damaged = fileOf('usage_records', 13);
      const bytes = readFileSync(damaged);
      const middle = Math.floor(bytes.length / 2);
      bytes[middle] = bytes[middle]! ^ 0xff;
      writeFileSync(damaged, bytes);
      const result = await exportJson(['--drop-after-export']);
      expect(result.dropped).toBe(3);
      expect(result.months.find((month) => month.archivedTable === archived('usage_records', 13))).toMatchObject({ action: 'exported', dropped: true });
      expect(result.months.find((month) => month.archivedTable === archived('messages', 13))).toMatchObject({ action: 'skipped', dropped: true });
      expect(await archivedTables()).toEqual([]);
      expect(await count(`SELECT count(*) AS n FROM partkit.archive_export WHERE dropped_at IS NULL`)).toBe(0);

      // Nothing lost: every row inserted is attached or in a verified file.
      for (const table of TABLES) {
        let inFiles = 0;
        for (const back of [13, 14, 15]) {
          const manifest = readManifest(manifestOf(table, back));
          expect(sha256(fileOf(table, back))).toBe(manifest.sha256);
          const records = readCopyCsv(gunzipSync(readFileSync(fileOf(table, back))).toString('utf8'));
          expect(records.length - 1).toBe(manifest.rows);
          inFiles += manifest.rows;
        }
        expect(inFiles + (await attachedRows(table))).toBe(inserted.get(table)! + (table === 'messages' ? 1 : 0));
      }

      const after = await maintainJson();
      expect(after.failed).toBe(0);
      expect(after.events.filter((event) => event.action.startsWith('purge'))).toEqual([]);
    });

    it('archive list --check and archive restore work on a folder too: dropped and purged months, a tampered file refused', async () => {
      interface ListJson {
        tables: { table: string; months: { month: string; state: string; fileState: string | null }[] }[];
        problems: number;
      }
      const list = await partkit(['archive', 'list', '--from', dir, '--check', '--json']);
      expect(list.exitCode, list.stderr).toBe(0);
      const json = JSON.parse(list.stdout) as ListJson;
      expect(json.problems).toBe(0);
      const monthsOf = (table: Table) => json.tables.find((t) => t.table === `public.${table}`)!.months;
      expect(monthsOf('messages').find((m) => m.month === monthOf(-1).key)).toMatchObject({ state: 'hot', fileState: null });
      expect(monthsOf('messages').find((m) => m.month === monthOf(-13).key)).toMatchObject({ state: 'dropped', fileState: 'ok' });
      expect(monthsOf('messages').find((m) => m.month === monthOf(-14).key)).toMatchObject({ state: 'purged', fileState: 'ok' });
      expect(monthsOf('usage_records').find((m) => m.month === monthOf(-15).key)).toMatchObject({ state: 'purged', fileState: 'ok' });

      const restored = await partkit(['archive', 'restore', 'public.messages', '--month', monthOf(-15).key, '--from', dir, '--into', 'public."Restored Messages"', '--json']);
      expect(restored.exitCode, restored.stderr).toBe(0);
      const manifest = readManifest(manifestOf('messages', 15));
      expect(await count('SELECT count(*) AS n FROM public."Restored Messages"')).toBe(manifest.rows);
      const records = readCopyCsv(gunzipSync(readFileSync(fileOf('messages', 15))).toString('utf8')).slice(1);
      const contents = (await db.query<{ content: string }>(`SELECT content FROM public."Restored Messages"`)).rows.map((row) => row.content);
      expect(contents.sort()).toEqual(records.map((record) => record[3]).sort());

      const file = fileOf('usage_records', 13);
      const original = readFileSync(file);
      const bytes = Buffer.from(original);
      bytes[Math.floor(bytes.length / 2)] = bytes[Math.floor(bytes.length / 2)]! ^ 0xff;
      writeFileSync(file, bytes);
      try {
        const flagged = await partkit(['archive', 'list', '--from', dir, '--check', '--table', 'public.usage_records']);
        expect(flagged.exitCode).toBe(1);
        expect(flagged.stdout).toMatch(/1 month\(s\) whose file is missing or does not match its manifest/);
        const refused = await partkit(['archive', 'restore', 'public.usage_records', '--month', monthOf(-13).key, '--from', dir, '--into', 'public.restored_usage']);
        expect(refused.exitCode).toBe(1);
        expect(refused.stderr).toMatch(/does not match its manifest/);
        expect(await count(`SELECT count(*) AS n FROM pg_class WHERE relname = 'restored_usage'`)).toBe(0);
      } finally {
        writeFileSync(file, original);
      }
    });

    if (target === 'bare18') {
      it('docker/scripts/archive_old_data.sh runs maintain then export, passes exit codes on, and checks its arguments', async () => {
        const run = (args: string[], env: Record<string, string>) =>
          execa(SCRIPT, args, {
            env: cleanEnv({ PARTKIT_BIN: `${process.execPath} ${path.join(REPO_DIR, 'dist', 'cli.js')}`, PARTKIT_CONFIG: config, ...env }),
            extendEnv: false,
            reject: false,
            timeout: 100_000,
          });
        const ok = await run([], { DATABASE_URL: db.url, ARCHIVE_DIR: dir, ARCHIVE_DROP: '1' });
        expect(ok.exitCode, ok.stderr).toBe(0);
        expect(ok.stdout).toMatch(/^maintenance done/m);
        expect(ok.stdout).toMatch(/^archive export to .*: no archived months/m);

        // --help: the usage on stdout, exit 0, nothing run (not even without ARCHIVE_DIR).
        const help = await run(['--help'], { DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none' });
        expect(help.exitCode, help.stderr).toBe(0);
        expect(help.stdout).toMatch(/^usage: archive_old_data\.sh\n {2}Runs partkit maintain, then partkit archive export/);
        expect(help.stderr).toBe('');
        const badArgument = await run(['--now'], { DATABASE_URL: db.url, ARCHIVE_DIR: dir });
        expect(badArgument.exitCode).toBe(2);
        expect(badArgument.stderr).toMatch(/usage: archive_old_data\.sh/);
        const noDir = await run([], { DATABASE_URL: db.url });
        expect(noDir.exitCode).toBe(2);
        expect(noDir.stderr).toMatch(/ARCHIVE_DIR is not set/);
        const badDrop = await run([], { DATABASE_URL: db.url, ARCHIVE_DIR: dir, ARCHIVE_DROP: 'yes' });
        expect(badDrop.exitCode).toBe(2);
        // partkit's own exit code: 3 for a server that does not answer.
        const unreachable = await run([], { DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none', ARCHIVE_DIR: dir });
        expect(unreachable.exitCode).toBe(3);
        expect(unreachable.stderr).not.toContain('secret');
      });
    }
  });
}
