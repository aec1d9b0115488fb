/**
 * `partkit deprovision [--table T]`, the way out of provision, on pg_partman 5 with a pg_cron job
 * (pg17) and on the fallback with an external scheduler (bare18): one table's registration alone,
 * then everything (registrations, the job, the kit's schema) while every table, month, row and
 * archived month stays; --dry-run changes nothing; a second run plans nothing; provision afterwards
 * works and verify passes; a view over the kit's log stops it before any change.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { catalogSnapshot } from './helpers/catalog.js';
import { configFiles, count, partkit } from './helpers/cli.js';
import { adminQuery, createTestDatabase, describeTarget, type TargetName, type TestDatabase } from './helpers/targets.js';

const files = configFiles('deprovision');
const config = files.write('two', { tables: [{ name: 'public.messages', retention: '3 months' }, { name: 'public.usage_records', retention: '3 months' }] });

function suite(name: TargetName, scheduler: 'pg_cron' | 'external'): void {
  describeTarget(name, `deprovision on ${name} (scheduler ${scheduler})`, () => {
    let db: TestDatabase;
    const jobs = async () => Number((await adminQuery<{ n: string }>(name, 'SELECT count(*) AS n FROM cron.job WHERE database = $1', [db.name])).rows[0]!.n);
    /** Rows of public.messages, attached or archived. */
    const rows = async () => {
      const { rows: archived } = await db.query<{ name: string }>(`SELECT format('partkit_archive.%I', relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'partkit_archive' AND c.relkind = 'r' AND c.relname LIKE 'messages%'`);
      return count(db, ['SELECT count(*) FROM public.messages', ...archived.map((row) => `SELECT count(*) FROM ${row.name}`)].map((sql) => `(${sql})`).join(' + '));
    };
    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      await partkit(db, ['provision', '--scheduler', scheduler], { config });
      await db.query(`INSERT INTO public.messages (session_id, role, content, created_at) SELECT gen_random_uuid(), 'user', 'r', now() - g * interval '1 day' FROM generate_series(1, 200) g`);
      await partkit(db, ['maintain'], { config });
      expect(await count(db, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'partkit_archive' AND c.relkind = 'r'`)).toBeGreaterThan(0);
    });
    afterAll(() => db?.drop());

    it('--table removes one registration; the schedule and the kit stay for the other table', async () => {
      const result = await partkit(db, ['deprovision', '--table', 'public.usage_records', '--json'], { config });
      expect(result.json).toMatchObject({ tables: ['public.usage_records'], job: null, kitSchemaDropped: false });
      expect(await count(db, `SELECT count(*) FROM partkit.managed_table WHERE parent_table = 'usage_records'`)).toBe(0);
      expect(await count(db, `SELECT count(*) FROM partkit.managed_table WHERE parent_table = 'messages'`)).toBe(1);
      if (name === 'pg17-partman5') expect(await count(db, `SELECT count(*) FROM partman.part_config`)).toBe(1);
      if (scheduler === 'pg_cron') expect(await jobs()).toBe(1);
      // The table and its months stay.
      expect(await count(db, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.usage_records'::regclass`)).toBeGreaterThan(1);
    });

    it('a view over the kit log stops it before any change', async () => {
      await db.query('CREATE VIEW public.maintenance_runs AS SELECT * FROM partkit.maintenance_run');
      const before = await catalogSnapshot(db);
      const refused = await partkit(db, ['deprovision'], { config, expectedExit: 5 });
      expect(refused.stderr).toMatch(/public\.maintenance_runs/);
      expect(await catalogSnapshot(db)).toEqual(before);
      await db.query('DROP VIEW public.maintenance_runs');
    });

    it('everything: --dry-run changes nothing; then registrations, the job and the kit schema go, every row stays; a second run plans nothing', async () => {
      const before = await catalogSnapshot(db);
      const kept = await rows();
      expect(kept).toBe(200);
      const dry = await partkit(db, ['deprovision', '--dry-run'], { config });
      expect(dry.stdout).toMatch(/DROP SCHEMA "partkit" CASCADE;/);
      if (scheduler === 'pg_cron') expect(dry.stdout).toMatch(/SELECT cron\.unschedule/);
      expect(await catalogSnapshot(db)).toEqual(before);

      const result = await partkit(db, ['deprovision', '--json'], { config });
      expect(result.json).toMatchObject({ tables: ['public.messages'], kitSchemaDropped: true });
      expect(await count(db, `SELECT count(*) FROM pg_namespace WHERE nspname = 'partkit'`)).toBe(0);
      if (name === 'pg17-partman5') expect(await count(db, `SELECT count(*) FROM partman.part_config`)).toBe(0);
      if (scheduler === 'pg_cron') expect(await jobs()).toBe(0);
      expect(await rows()).toBe(kept);
      expect(await count(db, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.messages'::regclass`)).toBeGreaterThan(1);

      const again = await partkit(db, ['deprovision', '--json'], { config });
      expect(again.json).toMatchObject({ changes: 0 });
    });

    it('provision afterwards works, and verify passes', async () => {
      await partkit(db, ['provision', '--scheduler', scheduler], { config });
      await partkit(db, ['maintain'], { config });
      await partkit(db, ['verify', '--scheduler', scheduler], { config });
      expect(await rows()).toBe(200);
      const second = await partkit(db, ['provision', '--scheduler', scheduler, '--json'], { config });
      expect(second.json).toMatchObject({ changes: 0 });
    });
  });
}

suite('pg17-partman5', 'pg_cron');
suite('bare18', 'external');
