/**
 * Previews write nothing (issue 20, part 4). The database is set `default_transaction_read_only =
 * on` (ALTER DATABASE ... SET): every session partkit opens starts read-only, so any write a
 * preview attempted would fail (25006). Every preview must still succeed: each --dry-run
 * (provision, maintain, partition create, archive export and restore, migrate prep, fill, swap,
 * unswap, drop), migrate drop without --yes, status, migrate status, verify, doctor and archive
 * list; and a snapshot of the catalog (relations, constraints, triggers, functions, comments, with
 * the xmin of each row) and of every table's rows is the same before and after. A command that
 * does write (maintain) fails under the setting, which shows the setting bites.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configFiles, count, partkit } from './helpers/cli.js';
import { createTestDatabase, describeTarget, type TargetName, type TestDatabase } from './helpers/targets.js';

const TARGETS: { name: TargetName; strategy: 'partman' | 'plpgsql' }[] = [
  { name: 'pg15-partman4', strategy: 'partman' },
  { name: 'pg17-partman5', strategy: 'partman' },
  { name: 'bare18', strategy: 'plpgsql' },
];

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'`;

/**
 * The catalog rows of the database's own objects with their xmin (a row rewritten by any DDL,
 * COMMENT or ALTER gets a new one), and a digest of every table's and sequence's rows.
 */
async function snapshot(url: string): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = async (sql: string) => (await client.query(sql)).rows;
    const relations = await rows(
      `SELECT n.nspname, c.relname, c.relkind, c.relfilenode, c.relispartition, c.xmin::text AS xmin, pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS} ORDER BY 1, 2`,
    );
    const digests: Record<string, string> = {};
    for (const relation of relations.filter((r) => ['r', 'S'].includes(r.relkind as string))) {
      const name = `"${String(relation.nspname).replaceAll('"', '""')}"."${String(relation.relname).replaceAll('"', '""')}"`;
      const [row] =
        relation.relkind === 'S'
          ? await rows(`SELECT 1 AS n, last_value || ' ' || is_called AS digest FROM ${name}`)
          : await rows(`SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM ${name} t`);
      digests[name] = `${row!.n} ${row!.digest}`;
    }
    return {
      namespaces: await rows(`SELECT n.nspname, n.xmin::text AS xmin FROM pg_namespace n WHERE ${USER_SCHEMAS} ORDER BY 1`),
      relations,
      constraints: await rows(`SELECT n.nspname, c.conname, c.conrelid::regclass::text AS rel, c.convalidated, c.xmin::text AS xmin FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE ${USER_SCHEMAS} ORDER BY 1, 2, 3`),
      triggers: await rows(`SELECT t.tgrelid::regclass::text AS rel, t.tgname, t.tgenabled, t.xmin::text AS xmin FROM pg_trigger t WHERE NOT t.tgisinternal ORDER BY 1, 2`),
      functions: await rows(`SELECT n.nspname, p.proname, p.xmin::text AS xmin FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMAS} ORDER BY 1, 2, 3`),
      comments: await rows(`SELECT d.objoid::regclass::text AS rel, d.description, d.xmin::text AS xmin FROM pg_description d JOIN pg_class c ON c.oid = d.objoid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE d.classoid = 'pg_class'::regclass AND ${USER_SCHEMAS} ORDER BY 1`),
      digests,
    };
  } finally {
    await client.end();
  }
}

for (const { name, strategy } of TARGETS) {
  describeTarget(name, `previews in a read-only database on ${name} (${strategy})`, () => {
    let db: TestDatabase;
    const files = configFiles('read-only');
    let config: string;
    const exported = path.join(files.dir, 'exported');
    const empty = path.join(files.dir, 'not-yet');
    let month: string;

    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      config = files.write('partkit', { strategy, tables: [{ name: 'public.messages' }], defaults: { premake: 3, retention: '12 months' } });
      await partkit(db, ['provision', '--scheduler', 'external'], { config });
      // History past the retention: maintain archives three months, export writes them (restore's preview reads them back).
      await db.query(
        `INSERT INTO messages (session_id, role, content, created_at)
         SELECT gen_random_uuid(), 'user', 'seed ' || g, date_trunc('month', now()) - make_interval(months => g % 16) + interval '2 days'
           FROM generate_series(1, 1600) g`,
      );
      await partkit(db, ['maintain'], { config });
      await partkit(db, ['archive', 'export', '--to', exported], { config });
      month = (await db.query<{ month: string }>('SELECT min(month) AS month FROM partkit.archive_export')).rows[0]!.month;
      // Plain tables at each phase of a migration: not started, prepped, filled, swapped.
      for (const table of ['"Plain One"', 'prepped', 'filled', 'swapped']) {
        await db.query(`CREATE TABLE ${table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, created_at timestamptz NOT NULL, note text NOT NULL)`);
        await db.query(`INSERT INTO ${table} (created_at, note) SELECT now() - (g % 60) * interval '1 day', 'row ' || g FROM generate_series(1, 3000) g`);
      }
      await partkit(db, ['migrate', 'prep', 'prepped'], { config });
      for (const table of ['filled', 'swapped']) {
        await partkit(db, ['migrate', 'prep', table], { config });
        await partkit(db, ['migrate', 'fill', table], { config });
      }
      await partkit(db, ['migrate', 'swap', 'swapped'], { config });
      // Changes captured since the swap: drop would replay them; its preview must not.
      await db.query(`UPDATE swapped SET note = note || ' changed' WHERE id % 10 = 0`);
      await db.query(`UPDATE filled SET note = note || ' changed' WHERE id % 10 = 0`);
    });
    afterAll(() => db?.drop());

    it('on a read-write database, migrate drop without --yes replays nothing: the captured keys are still there', async () => {
      const preview = await partkit(db, ['migrate', 'drop', 'swapped', '--json'], { config, expectedExit: 2 });
      expect(preview.json).toMatchObject({ state: 'would drop', rows: null, captured: 300, changes: 0 });
      expect(await count(db, 'SELECT count(*) FROM swapped_capture')).toBe(300);
      expect(await count(db, `SELECT count(*) FROM pg_class WHERE relname = 'swapped_retired'`)).toBe(1);
    });

    it('every preview succeeds, and the catalog and every table are as they were', async () => {
      await db.query(`ALTER DATABASE "${db.name}" SET default_transaction_read_only = on`);
      const check = new pg.Client({ connectionString: db.url });
      await check.connect();
      expect((await check.query('SHOW default_transaction_read_only')).rows[0]).toEqual({ default_transaction_read_only: 'on' });
      await check.end();
      const before = await snapshot(db.url);
      expect(Object.keys(before.digests as object).length).toBeGreaterThan(10);

      const next = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 6, 1)).toISOString().slice(0, 7);
      const previews: { args: string[]; exit?: number }[] = [
        { args: ['provision', '--scheduler', 'external', '--dry-run'] },
        { args: ['maintain', '--dry-run'] },
        { args: ['partition', 'create', 'public.messages', '--month', next, '--dry-run'] },
        { args: ['archive', 'export', '--to', empty, '--dry-run'] },
        { args: ['archive', 'restore', 'public.messages', '--month', month, '--from', exported, '--attach', '--keep', '--dry-run'] },
        { args: ['archive', 'restore', 'public.messages', '--month', month, '--from', exported, '--into', 'restored.month', '--dry-run'] },
        { args: ['migrate', 'prep', '"Plain One"', '--dry-run'] },
        { args: ['migrate', 'fill', 'prepped', '--dry-run'] },
        { args: ['migrate', 'swap', 'filled', '--dry-run'] },
        { args: ['migrate', 'unswap', 'swapped', '--dry-run'] },
        { args: ['migrate', 'drop', 'swapped', '--yes', '--dry-run'] },
        { args: ['migrate', 'drop', 'swapped', '--json'], exit: 2 },
        { args: ['status'] },
        { args: ['migrate', 'status', 'prepped'] },
        { args: ['migrate', 'status', 'filled'] },
        { args: ['migrate', 'status', 'swapped'] },
        { args: ['verify', '--scheduler', 'external'] },
        { args: ['doctor'] },
        { args: ['archive', 'list', '--from', exported] },
      ];
      for (const preview of previews) {
        const result = await partkit(db, preview.args, { config, expectedExit: preview.exit ?? 0 });
        expect(`${result.stderr}${result.stdout}`, preview.args.join(' ')).not.toMatch(/read-only transaction/);
        if (preview.args.includes('--dry-run')) expect(result.stdout.trim(), preview.args.join(' ')).not.toBe('');
      }
      const drop = await partkit(db, ['migrate', 'drop', 'swapped', '--json'], { config, expectedExit: 2 });
      // The preview says what it would replay without replaying it.
      expect(drop.json).toMatchObject({ state: 'would drop', rows: null, captured: 300, changes: 0 });
      expect(existsSync(empty) ? readdirSync(empty) : []).toEqual([]);
      expect(await snapshot(db.url)).toEqual(before);

      // The setting bites: a command that writes fails under it, and changes nothing either.
      const write = await partkit(db, ['maintain'], { config, expectedExit: null });
      expect(write.exitCode).not.toBe(0);
      expect(write.stderr).toMatch(/read-only transaction/);
      expect(await snapshot(db.url)).toEqual(before);
    });
  });
}
