/**
 * Moving a table that is already partitioned on one server onto the Citus workers while the
 * application keeps writing: with `distribution` added to its config, provision distributes the
 * existing table in place (create_distributed_table: writes wait while Citus copies the rows). A
 * writer inserts, updates (moving rows between months) and deletes throughout, each change
 * recorded in a truth table in the same transaction; afterwards the oracle finds nothing missing,
 * resurrected, stale or duplicated, no write failed, and the test prints how long a write waited.
 * The table name and the distribution column are mixed case with a space.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCitusDatabase, describeCitus, distributionOf, type CitusDatabase } from './helpers/citus.js';
import { configFiles, partkit } from './helpers/cli.js';
import { compareWithTruth, createTruthTable, startLiveWriter, TRUTH_TABLE } from './helpers/live-writer.js';

const TABLE = 'public."Chat Messages"';
const ROWS = 150_000;
const { write: writeConfig } = configFiles('citus-in-place');

describeCitus('distributing an existing partitioned table while writers keep writing', () => {
  let db: CitusDatabase;
  const local = writeConfig('local', { strategy: 'plpgsql', tables: [{ name: TABLE, retention: null, archive: false }] });
  const distributed = writeConfig('distributed', { strategy: 'plpgsql', tables: [{ name: TABLE, retention: null, archive: false, distribution: { column: 'Session Id' } }] });

  beforeAll(async () => {
    db = await createCitusDatabase();
    await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
    // The table as partkit left it on one server: partitioned, its key already holding the column.
    await db.query(
      `CREATE TABLE ${TABLE} (id uuid NOT NULL DEFAULT gen_random_uuid(), "Session Id" uuid NOT NULL, content text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                              PRIMARY KEY (id, created_at, "Session Id")) PARTITION BY RANGE (created_at)`,
    );
    await partkit(db.url, ['provision', '--json'], { config: local });
    await db.query(
      `INSERT INTO ${TABLE} ("Session Id", content, created_at)
       SELECT ('00000000-0000-0000-0000-' || lpad((g % 700)::text, 12, '0'))::uuid, 'seed' || g, now() - (g % 50) * interval '1 day' FROM generate_series(1, $1) g`,
      [ROWS],
    );
    // The months before this one are made by maintenance, which moves their rows out of the default.
    await partkit(db.url, ['maintain', '--json'], { config: local, timeoutMs: 300_000 });
    await createTruthTable(db.url);
    await db.query(`INSERT INTO ${TRUTH_TABLE} (id, content) SELECT id, content FROM ${TABLE}`);
  });
  afterAll(() => db?.drop());

  it('provision distributes it in place under a live writer; the oracle finds nothing wrong', { timeout: 600_000 }, async () => {
    const writer = await startLiveWriter({
      url: db.url,
      table: TABLE,
      extraColumns: '"Session Id"',
      extraValues: `('00000000-0000-0000-0000-' || lpad((floor(random() * 700))::int::text, 12, '0'))::uuid`,
      createdAt: ['now()', `now() - interval '20 days'`, `now() - interval '45 days'`],
      moveOnUpdate: true,
      opsPerSecond: 100,
    });
    let provisioned;
    try {
      await writer.advance(100);
      provisioned = await partkit(db.url, ['provision', '--json'], { config: distributed, timeoutMs: 300_000 });
      await writer.advance(150);
    } finally {
      const stats = await writer.stop();
      console.log(`[citus] provision distributed ${ROWS} rows in place under a live writer: ${JSON.stringify(stats)} (longestMs: the longest a write waited)`);
      expect(stats.errors, stats.lastError).toBe(0);
      expect(stats.inserts + stats.updates + stats.deletes).toBeGreaterThan(200);
      expect(stats.updates).toBeGreaterThan(20);
      expect(stats.deletes).toBeGreaterThan(10);
    }
    expect(provisioned.json.steps as string[]).toContainEqual(expect.stringContaining('distribute public."Chat Messages" by Session Id across the Citus workers'));

    const oracle = await compareWithTruth(db.url, [TABLE]);
    expect(oracle.truthRows).toBeGreaterThan(ROWS);
    expect({ missing: oracle.missing.length, resurrected: oracle.resurrected.length, stale: oracle.stale.length, duplicated: oracle.duplicated.length }).toEqual({ missing: 0, resurrected: 0, stale: 0, duplicated: 0 });
    const distribution = await distributionOf(db, TABLE);
    expect(distribution.column).toBe('Session Id');
    expect(distribution.months).toBeGreaterThanOrEqual(3);
    // Every row is on the workers now: the coordinator holds no shard of it.
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = $1::regclass AND p.groupid = 0`, [TABLE]);
    expect(rows[0]!.n).toBe(0);

    const again = await partkit(db.url, ['provision', '--json'], { config: distributed });
    expect(again.json.changes).toBe(0);
    await partkit(db.url, ['verify'], { config: distributed });
  });
});
