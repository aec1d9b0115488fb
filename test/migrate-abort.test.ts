/**
 * A way back from every phase of `partkit migrate`: abort after prep and after fill leaves the
 * database as it was before prep (catalog snapshots compared), with a writer writing all along;
 * after swap it refuses and names unswap, and unswap then abort gets back to the start. And what
 * prep and fill say: a view is recreated by the swap (no false warning), foreign keys pointing at
 * the table get their consequences spelled out, fill ends with ANALYZE, and status after the end
 * prints no empty fill and no retention placeholder. pg_partman naming (pg17) and the fallback's (bare18).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { catalogSnapshot } from './helpers/catalog.js';
import { count, partkit } from './helpers/cli.js';
import { compareWithTruth, createTruthTable, startLiveWriter } from './helpers/live-writer.js';
import { createTestDatabase, describeTarget, type TargetName, type TestDatabase } from './helpers/targets.js';

const TABLE = 'app."Chat Log"';

async function createSource(db: TestDatabase): Promise<void> {
  await db.query(`CREATE SCHEMA app`);
  await db.query(`CREATE TABLE ${TABLE} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), seq bigint GENERATED ALWAYS AS IDENTITY, content text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
  await db.query(`CREATE INDEX ON ${TABLE} (created_at)`);
  await db.query(`INSERT INTO ${TABLE} (content, created_at) SELECT 'row ' || g, now() - (g % 400) * interval '1 day' FROM generate_series(1, 3000) g`);
  await db.query(`CREATE VIEW app.recent AS SELECT id, content FROM ${TABLE} WHERE created_at > now() - interval '7 days'`);
  await db.query(`CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.content := NEW.content; RETURN NEW; END $$`);
  await db.query(`CREATE TRIGGER touch BEFORE UPDATE ON ${TABLE} FOR EACH ROW EXECUTE FUNCTION app.touch()`);
  await db.query(`GRANT SELECT ON ${TABLE} TO PUBLIC`);
}

function suite(name: TargetName): void {
  describeTarget(name, `migrate abort on ${name}: back to the state before prep`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      await createSource(db);
      await createTruthTable(db.url);
    });
    afterAll(() => db?.drop());

    it('after prep and after fill, with a writer writing: abort restores the catalog, keeps every write, and a second abort plans nothing', async () => {
      const before = await catalogSnapshot(db);
      const writer = await startLiveWriter({ url: db.url, table: TABLE, createdAt: ['now()', "now() - interval '40 days'"], opsPerSecond: 80, updateShare: 0.3, deleteShare: 0.1 });
      try {
        await partkit(db, ['migrate', 'prep', TABLE]);
        // Right after prep: abort.
        const dry = await partkit(db, ['migrate', 'abort', TABLE, '--dry-run']);
        expect(dry.stdout).toMatch(/DROP TRIGGER IF EXISTS partkit_capture_insert ON app\."Chat Log"/);
        expect(dry.stdout).toMatch(/DROP TABLE app\."Chat Log_partitioned"/);
        const afterPrep = await partkit(db, ['migrate', 'abort', TABLE, '--json']);
        expect(afterPrep.json).toMatchObject({ state: 'aborted' });
        expect(await catalogSnapshot(db)).toEqual(before);

        // Again, this time after a whole fill.
        await partkit(db, ['migrate', 'prep', TABLE]);
        await partkit(db, ['migrate', 'fill', TABLE, '--batch-size', '500']);
        const status = await partkit(db, ['migrate', 'status', TABLE]);
        expect(status.stdout).toMatch(/next: partkit migrate swap .*\(or undo prep and fill: partkit migrate abort /);
        const afterFill = await partkit(db, ['migrate', 'abort', TABLE, '--json']);
        expect(afterFill.json).toMatchObject({ state: 'aborted', changes: 7 });
      } finally {
        await writer.stop();
      }
      expect(writer.stats.inserts + writer.stats.updates + writer.stats.deletes).toBeGreaterThan(0);
      expect(await catalogSnapshot(db)).toEqual(before);
      const oracle = await compareWithTruth(db.url, [TABLE]);
      expect(oracle).toMatchObject({ missing: [], resurrected: [], stale: [], duplicated: [] });
      // The capture triggers are gone: a write is no longer recorded anywhere.
      await db.query(`UPDATE ${TABLE} SET content = content || '!' WHERE id IN (SELECT id FROM ${TABLE} LIMIT 5)`);
      const again = await partkit(db, ['migrate', 'abort', TABLE, '--json']);
      expect(again.json).toMatchObject({ state: 'nothing to abort', changes: 0 });
    });

    it('after swap abort refuses, names unswap and changes nothing; unswap then abort gets back to the start', async () => {
      const before = await catalogSnapshot(db);
      const rows = await count(db, `SELECT count(*) FROM ${TABLE}`);
      await partkit(db, ['migrate', 'prep', TABLE]);
      await partkit(db, ['migrate', 'fill', TABLE]);
      await partkit(db, ['migrate', 'swap', TABLE]);
      const swapped = await catalogSnapshot(db);
      const refused = await partkit(db, ['migrate', 'abort', TABLE], { expectedExit: 5 });
      expect(refused.stderr).toMatch(/is swapped/);
      expect(refused.stderr).toMatch(/^hint: partkit migrate unswap 'app\."Chat Log"', then partkit migrate abort 'app\."Chat Log"'$/m);
      expect(await catalogSnapshot(db)).toEqual(swapped);
      await partkit(db, ['migrate', 'unswap', TABLE]);
      await partkit(db, ['migrate', 'abort', TABLE]);
      expect(await catalogSnapshot(db)).toEqual(before);
      expect(await count(db, `SELECT count(*) FROM ${TABLE}`)).toBe(rows);
    });
  });
}

suite('bare18');
suite('pg17-partman5');

describeTarget('bare18', 'what migrate says before it acts: views, foreign keys, statistics, the end', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18', { kit: true });
    await createSource(db);
    await db.query(`CREATE TABLE app.replies (id bigint PRIMARY KEY, log_id uuid REFERENCES ${TABLE} (id))`);
    await db.query(`INSERT INTO app.replies SELECT g, (SELECT id FROM ${TABLE} ORDER BY id OFFSET g LIMIT 1) FROM generate_series(1, 10) g`);
  });
  afterAll(() => db?.drop());

  it('prep refuses foreign keys pointing at the table and says what each choice costs (MATCH SIMPLE, archived months)', async () => {
    const before = await catalogSnapshot(db);
    const refused = await partkit(db, ['migrate', 'prep', TABLE], { expectedExit: 4 });
    expect(refused.stderr).toMatch(/replies_log_id_fkey/);
    expect(refused.stderr).toMatch(/MATCH SIMPLE a row whose created_at copy is NULL is not checked at all/);
    expect(refused.stderr).toMatch(/a month still referenced cannot be archived/);
    expect(refused.stderr).toMatch(/^hint: partkit migrate prep 'app\."Chat Log"' --foreign-keys drop/m);
    expect(await catalogSnapshot(db)).toEqual(before);
  });

  it('prep says the view is recreated (no false warning); with --foreign-keys drop it warns what happens; fill ends with ANALYZE', async () => {
    const prep = await partkit(db, ['migrate', 'prep', TABLE, '--foreign-keys', 'drop', '--json']);
    const { notes, warnings } = prep.json as unknown as { notes: string[]; warnings: string[] };
    expect(notes.join('\n')).toMatch(/view app\.recent reads app\."Chat Log"; the swap recreates it/);
    expect(warnings.join('\n')).not.toMatch(/recent/);
    expect(warnings.join('\n')).toMatch(/recreate it against \(id, created_at\) with MATCH FULL/);
    expect(await count(db, `SELECT count(*) FROM pg_statistic WHERE starelid = 'app."Chat Log_partitioned"'::regclass`)).toBe(0);
    const dry = await partkit(db, ['migrate', 'fill', TABLE, '--dry-run']);
    expect(dry.stdout).toMatch(/ANALYZE app\."Chat Log_partitioned";/);
    await partkit(db, ['migrate', 'fill', TABLE]);
    expect(await count(db, `SELECT count(*) FROM pg_statistic WHERE starelid = 'app."Chat Log_partitioned"'::regclass`)).toBeGreaterThan(0);
  });

  it('the swap drops the key and prints the MATCH FULL DDL; status after the end prints no empty fill and no retention placeholder', async () => {
    const swap = await partkit(db, ['migrate', 'swap', TABLE, '--foreign-keys', 'drop']);
    expect(swap.stdout).toMatch(/REFERENCES "app"\."Chat Log" \("id", "created_at"\) MATCH FULL;/);
    // The printed DDL works as printed, and MATCH FULL refuses a half-NULL reference.
    const recreate = await db.query<{ recreate: string }>(`SELECT recreate FROM app."Chat Log_foreign_keys"`);
    await db.query(recreate.rows[0]!.recreate);
    await expect(db.query(`INSERT INTO app.replies (id, log_id) SELECT 99, id FROM ${TABLE} LIMIT 1`)).rejects.toThrow(/violates foreign key constraint/);
    const filling = await partkit(db, ['migrate', 'status', TABLE]);
    expect(filling.stdout).not.toMatch(/the configured retention/);
    await partkit(db, ['migrate', 'drop', TABLE, '--yes']);
    const done = await partkit(db, ['migrate', 'status', TABLE]);
    expect(done.stdout).toMatch(/done/);
    expect(done.stdout).not.toMatch(/fill: 0 of ~0/);
    expect(done.stdout).not.toMatch(/the configured retention/);
    const none = await partkit(db, ['migrate', 'abort', TABLE, '--json']);
    expect(none.json).toMatchObject({ state: 'nothing to abort', changes: 0 });
  });
});
