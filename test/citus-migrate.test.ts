/**
 * `partkit migrate` on a Citus coordinator: a plain 100,000-row table becomes a distributed,
 * monthly-partitioned table while a live writer inserts, updates and deletes: prep widens the key
 * to include the distribution column, fill/swap/drop run as on one server (the copy stays local:
 * the swap's change capture needs triggers, which Citus refuses on distributed tables), then
 * provision distributes it in place. Afterwards the oracle of test/helpers/live-writer.ts finds 0
 * missing, resurrected, stale or duplicated rows. The table name is mixed case with a space.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCitusDatabase, describeCitus, distributionOf, type CitusDatabase } from './helpers/citus.js';
import { compareWithTruth, createTruthTable, startLiveWriter, TRUTH_TABLE } from './helpers/live-writer.js';
import { runPartkit } from './helpers/targets.js';

const TABLE = 'public."Chat Messages"';
const ROWS = 100_000;

describeCitus('migrate a plain table into a distributed partitioned table on Citus, with a live writer', () => {
  let db: CitusDatabase;
  let config: string;
  beforeAll(async () => {
    db = await createCitusDatabase();
    await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
    const dir = mkdtempSync(path.join(tmpdir(), 'partkit-citus-migrate-'));
    config = path.join(dir, 'partkit.json');
    writeFileSync(config, JSON.stringify({ tables: [{ name: TABLE, retention: null, archive: false, distribution: { column: 'session_id' } }] }));
    await db.query(`CREATE TABLE ${TABLE} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), session_id uuid NOT NULL, content text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`CREATE INDEX ON ${TABLE} (created_at)`);
    await db.query(
      `INSERT INTO ${TABLE} (session_id, content, created_at)
       SELECT ('00000000-0000-0000-0000-' || lpad((g % 500)::text, 12, '0'))::uuid, 'seed' || g, now() - (g % 150) * interval '1 day' FROM generate_series(1, $1) g`,
      [ROWS],
    );
    await createTruthTable(db.url);
    await db.query(`INSERT INTO ${TRUTH_TABLE} (id, content) SELECT id, content FROM ${TABLE}`);
  });
  afterAll(() => db?.drop());

  async function partkit(args: string[]) {
    const result = await runPartkit([...args, '--json', '--config', config, '--database-url', db.url], { timeoutMs: 300_000 });
    expect(result.exitCode, `${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
    return result;
  }

  it('prep, fill, swap and drop keep every write, provision distributes the table in place; the oracle finds nothing wrong', { timeout: 600_000 }, async () => {
    const writer = await startLiveWriter({
      url: db.url,
      table: TABLE,
      extraColumns: 'session_id',
      extraValues: `('00000000-0000-0000-0000-' || lpad((floor(random() * 500))::int::text, 12, '0'))::uuid`,
      createdAt: ['now()', `now() - interval '40 days'`, `now() - interval '100 days'`],
      opsPerSecond: 40,
    });
    try {
      const prep = await partkit(['migrate', 'prep', TABLE]);
      const prepared = JSON.parse(prep.stdout) as { primaryKey: { after: string[] }; notes: string[] };
      expect(prepared.primaryKey.after).toEqual(['id', 'created_at', 'session_id']);
      expect(prepared.notes.join('\n')).toContain('`partkit provision` distributes public."Chat Messages" by session_id in place');
      await partkit(['migrate', 'fill', TABLE]);
      await partkit(['migrate', 'swap', TABLE]);
      await partkit(['migrate', 'drop', TABLE, '--yes']);
      // Distributing copies the rows to the workers while the writer keeps writing (it waits meanwhile).
      await partkit(['provision']);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      const stats = await writer.stop();
      expect(stats.inserts + stats.updates + stats.deletes).toBeGreaterThan(20);
      expect(stats.errors, stats.lastError).toBe(0);
    }
    const oracle = await compareWithTruth(db.url, [TABLE]);
    expect(oracle.truthRows).toBeGreaterThan(ROWS);
    expect({ missing: oracle.missing.length, resurrected: oracle.resurrected.length, stale: oracle.stale.length, duplicated: oracle.duplicated.length }).toEqual({ missing: 0, resurrected: 0, stale: 0, duplicated: 0 });

    const distribution = await distributionOf(db, TABLE);
    expect(distribution.column).toBe('session_id');
    expect(distribution.months).toBeGreaterThanOrEqual(6);
    const verified = await runPartkit(['verify', '--config', config, '--database-url', db.url]);
    expect(verified.exitCode, verified.stdout).toBe(0);
  });
});
