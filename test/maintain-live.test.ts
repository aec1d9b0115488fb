/**
 * Maintenance under live traffic, on every strategy: a writer inserts, updates and deletes rows of
 * `messages` (created_at now, beyond premake, in the last months and in an archived month) while
 * four `partkit maintain` loops run; every change is recorded in a truth table in the same
 * transaction. Afterwards every live truth row is in the table or with its month in the archive
 * schema, exactly once and up to date; no deleted row is back; every maintain exited 0; verify passes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compareWithTruth, createTruthTable, startLiveWriter, TRUTH_TABLE, watchExclusiveLocks } from './helpers/live-writer.js';
import { createTestDatabase, describeTarget, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

const TARGETS: { name: TargetName; strategy: 'partman' | 'plpgsql' }[] = [
  { name: 'pg15-partman4', strategy: 'partman' },
  { name: 'pg17-partman5', strategy: 'partman' },
  { name: 'bare18', strategy: 'plpgsql' },
];
const LOOP_SECONDS = 20;

/** The name of the attached month of `messages` that holds the middle of the month `offset` months from now, if any. */
async function monthChild(db: TestDatabase, offset: number): Promise<string | undefined> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'messages'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
        AND (date_trunc('month', now()) + make_interval(months => $1) + interval '14 days')::timestamptz
            BETWEEN (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz
                AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz`,
    [offset],
  );
  return rows[0]?.name;
}

for (const { name, strategy } of TARGETS) {
  describeTarget(name, `maintenance under live traffic on ${name} (${strategy})`, () => {
    let db: TestDatabase;
    const workDir = mkdtempSync(path.join(tmpdir(), 'partkit-live-'));
    const config = path.join(workDir, 'partkit.json');

    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      writeFileSync(config, JSON.stringify({ strategy, defaults: { premake: 4, retention: '12 months' } }));
      const provision = await runPartkit(['provision', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
      expect(provision.exitCode, provision.stderr).toBe(0);
      await createTruthTable(db.url);
      // History: rows in the last 15 months, recorded in the truth table; the first maintenance makes
      // their months and archives the two past the retention.
      for (let back = 1; back <= 15; back += 1) {
        await db.query(
          `WITH ins AS (INSERT INTO messages (id, session_id, role, content, created_at)
                        SELECT gen_random_uuid(), gen_random_uuid(), 'user', 'seed', date_trunc('month', now()) - make_interval(months => $1) + interval '10 days'
                          FROM generate_series(1, 20) RETURNING id, content)
           INSERT INTO ${TRUTH_TABLE} (id, content) SELECT id, content FROM ins`,
          [back],
        );
      }
      const first = await runPartkit(['maintain', '--json', '--config', config, '--database-url', db.url]);
      expect(first.exitCode, `${first.stderr}\n${first.stdout}`).toBe(0);
      const archived = await db.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'partkit_archive' AND tablename LIKE 'messages%'`);
      expect(archived.rows[0]!.n).toBeGreaterThanOrEqual(2);
    });
    afterAll(() => db?.drop());

    it(`four maintain loops for ${LOOP_SECONDS} s under a writer: all exit 0, nothing lost, resurrected, stale or duplicated; verify passes`, async () => {
      const writer = await startLiveWriter({
        url: db.url,
        table: 'messages',
        extraColumns: 'session_id, role',
        extraValues: `gen_random_uuid(), 'user'`,
        createdAt: [
          'now()',
          'now()',
          `now() - interval '1 month'`,
          `now() - interval '2 months'`,
          `now() + interval '6 months'`, // beyond premake: waits in the default
          `now() - interval '14 months'`, // a month already archived: a late row
        ],
        insertOnly: [`now() - interval '14 months'`],
        opsPerSecond: 100,
      });
      const locks = await watchExclusiveLocks(db.url, ['messages', 'messages_default']);
      const deadline = Date.now() + LOOP_SECONDS * 1000;
      const runs: { exitCode: number | undefined; output: string }[] = [];
      await Promise.all(
        [1, 2, 3, 4].map(async () => {
          while (Date.now() < deadline) {
            const result = await runPartkit(['maintain', '--json', '--config', config, '--database-url', db.url]);
            runs.push({ exitCode: result.exitCode, output: `${result.stderr}\n${result.stdout}` });
          }
        }),
      );
      const stats = await writer.stop();
      const longestLock = await locks.stop();
      // One more run places what arrived after the last loop's run.
      const last = await runPartkit(['maintain', '--json', '--config', config, '--database-url', db.url]);
      runs.push({ exitCode: last.exitCode, output: `${last.stderr}\n${last.stdout}` });

      const failed = runs.filter((run) => run.exitCode !== 0);
      console.log(
        `[${name}] ${runs.length} maintain runs, ${failed.length} failed; writer: ${stats.inserts} inserts, ${stats.updates} updates, ${stats.deletes} deletes, ${stats.errors} errors, longest operation ${stats.longestMs} ms; longest ACCESS EXCLUSIVE lock maintain held on messages or its default: ${longestLock} ms`,
      );
      expect(failed.map((run) => run.output).slice(0, 2)).toEqual([]);
      expect(stats.errors, stats.lastError).toBe(0);
      expect(stats.inserts).toBeGreaterThan(100);

      const archivedTables = await db.query<{ name: string }>(
        `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = 'partkit_archive' AND tablename LIKE 'messages%'`,
      );
      const oracle = await compareWithTruth(db.url, ['messages', ...archivedTables.rows.map((row) => row.name)]);
      console.log(`[${name}] oracle over ${oracle.truthRows} truth rows: ${oracle.missing.length} missing, ${oracle.resurrected.length} resurrected, ${oracle.stale.length} stale, ${oracle.duplicated.length} duplicated`);
      expect({ missing: oracle.missing.length, resurrected: oracle.resurrected.length, stale: oracle.stale.length, duplicated: oracle.duplicated.length }).toEqual({ missing: 0, resurrected: 0, stale: 0, duplicated: 0 });
      // Rows hide nowhere: none is left in the default partition (all have a month).
      expect((await db.query(`SELECT count(*)::int AS n FROM ONLY messages_default`)).rows[0]!.n).toBe(0);

      const verify = await runPartkit(['verify', '--json', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
      const report = JSON.parse(verify.stdout) as { checks: { table: string | null; check: string; ok: boolean; detail: string }[] };
      expect(report.checks.filter((c) => !c.ok).map((c) => `${c.table}/${c.check}: ${c.detail}`)).toEqual([]);
      // The late rows are a warning: counted, with the archived months they joined.
      const retention = report.checks.find((c) => c.table === 'public.messages' && c.check === 'retention')!;
      expect(retention.detail).toMatch(/warning: \d+ late row\(s\) arrived for months past the retention and joined "?partkit_archive"?\.messages_/);
    });

    it('late rows after --drop-after-export go into <month>_late in the archive, never over the exported file', async () => {
      const coldDir = path.join(workDir, 'cold');
      const exported = await runPartkit(['archive', 'export', '--to', coldDir, '--drop-after-export', '--json', '--config', config, '--database-url', db.url]);
      expect(exported.exitCode, exported.stderr).toBe(0);
      const { rows: left } = await db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'partkit_archive' AND tablename LIKE 'messages%'`);
      expect(left).toEqual([]);
      await db.query(
        `WITH ins AS (INSERT INTO messages (id, session_id, role, content, created_at)
                      SELECT gen_random_uuid(), gen_random_uuid(), 'user', 'late after drop', date_trunc('month', now()) - interval '14 months' + interval '5 days'
                        FROM generate_series(1, 4) RETURNING id, content)
         INSERT INTO ${TRUTH_TABLE} (id, content) SELECT id, content FROM ins`,
      );
      // A premade month dropped meanwhile: the late rows must not stop maintenance from making it again.
      const future = await monthChild(db, 2);
      await db.query(`DROP TABLE public."${future}"`);
      const result = await runPartkit(['maintain', '--json', '--config', config, '--database-url', db.url]);
      expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(0);
      expect(await monthChild(db, 2)).toBe(future);
      const late = (JSON.parse(result.stdout) as { events: { action: string; partition: string | null; rows: number | null }[] }).events.filter((e) => e.action === 'late');
      expect(late).toHaveLength(1);
      expect(late[0]!.partition).toMatch(/^partkit_archive\.messages_.*_late$/);
      expect(late[0]!.rows).toBe(4);
      const lateTable = late[0]!.partition!;
      expect((await db.query(`SELECT count(*)::int AS n FROM ${lateTable} WHERE content = 'late after drop'`)).rows[0]!.n).toBe(4);
      expect((await db.query(`SELECT count(*)::int AS n FROM ONLY messages_default`)).rows[0]!.n).toBe(0);

      // The next export writes the late rows as an extra file of their month; the month's first file stays as it was.
      const files = new Map((JSON.parse(exported.stdout) as { months: { archivedTable: string; file: string; sha256: string | null }[] }).months.map((m) => [m.file, m.sha256]));
      const again = await runPartkit(['archive', 'export', '--to', coldDir, '--json', '--config', config, '--database-url', db.url]);
      expect(again.exitCode, again.stderr).toBe(0);
      const months = (JSON.parse(again.stdout) as { months: { archivedTable: string; file: string; action: string; sha256: string | null }[] }).months;
      const extra = months.find((m) => m.archivedTable.endsWith('_late'))!;
      expect(extra.action).toBe('exported');
      expect(files.has(extra.file)).toBe(false);
      for (const [file, sha] of files) {
        expect(existsSync(file), file).toBe(true);
        expect(createHash('sha256').update(readFileSync(file)).digest('hex'), file).toBe(sha);
      }
    });

    it('a month detached by hand is never written to; its rows wait in the default and verify names it', async () => {
      const child = (await monthChild(db, -1))!;
      await db.query(`ALTER TABLE messages DETACH PARTITION public."${child}"`);
      const before = (await db.query(`SELECT count(*)::int AS n FROM public."${child}"`)).rows[0]!.n as number;
      await db.query(`INSERT INTO messages (id, session_id, role, content, created_at) SELECT gen_random_uuid(), gen_random_uuid(), 'user', 'after detach', date_trunc('month', now()) - interval '1 month' + interval '3 days' FROM generate_series(1, 3)`);
      await runPartkit(['maintain', '--json', '--config', config, '--database-url', db.url]);
      expect((await db.query(`SELECT count(*)::int AS n FROM public."${child}"`)).rows[0]!.n).toBe(before);
      expect((await db.query(`SELECT count(*)::int AS n FROM messages WHERE content = 'after detach'`)).rows[0]!.n).toBe(3);
      const verify = await runPartkit(['verify', '--json', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
      expect(verify.exitCode).toBe(1);
      const report = JSON.parse(verify.stdout) as { checks: { table: string | null; check: string; ok: boolean; detail: string }[] };
      const coverage = report.checks.find((c) => c.table === 'public.messages' && c.check === 'coverage')!;
      expect(coverage.ok).toBe(false);
      expect(coverage.detail).toContain(`"public"."${child}" is month`);
      expect(coverage.detail).toContain('but is not attached');
    });
  });
}
