/**
 * `partkit migrate` on a Citus coordinator: a plain 100,000-row table becomes a distributed,
 * monthly-partitioned table while a live writer inserts, updates (moving rows to other months)
 * and deletes. prep distributes the empty copy by the distribution column; fill (SIGKILLed once,
 * then resumed) and the replays copy the rows to the workers; after the swap the changes to the
 * distributed table are captured by row triggers on its shards into a co-located capture table,
 * so unswap and drop lose nothing either. The oracle of test/helpers/live-writer.ts is consulted
 * after the swap, after the unswap and at the end: 0 missing, resurrected, stale or duplicated
 * rows. The table name and the distribution column are mixed case with a space.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCitusDatabase, describeCitus, distributionOf, type CitusDatabase } from './helpers/citus.js';
import { compareWithTruth, createTruthTable, startLiveWriter, TRUTH_TABLE, type LiveWriter } from './helpers/live-writer.js';
import { killFillAfter, partkit } from './helpers/cli.js';
import { runPartkit } from './helpers/targets.js';

const TABLE = 'public."Chat Messages"';
const ROWS = 100_000;
const CLEAN = { missing: 0, resurrected: 0, stale: 0, duplicated: 0 };

describeCitus('migrate a plain table into a distributed partitioned table on Citus, with a live writer', () => {
  let db: CitusDatabase;
  let config: string;
  beforeAll(async () => {
    db = await createCitusDatabase();
    await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
    const dir = mkdtempSync(path.join(tmpdir(), 'partkit-citus-migrate-'));
    config = path.join(dir, 'partkit.json');
    writeFileSync(config, JSON.stringify({ tables: [{ name: TABLE, retention: null, archive: false, distribution: { column: 'Session Id' } }] }));
    await db.query(`CREATE TABLE ${TABLE} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "Session Id" uuid NOT NULL, content text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`CREATE INDEX ON ${TABLE} (created_at)`);
    await db.query(
      `INSERT INTO ${TABLE} ("Session Id", content, created_at)
       SELECT ('00000000-0000-0000-0000-' || lpad((g % 500)::text, 12, '0'))::uuid, 'seed' || g, now() - (g % 150) * interval '1 day' FROM generate_series(1, $1) g`,
      [ROWS],
    );
    await createTruthTable(db.url);
    await db.query(`INSERT INTO ${TRUTH_TABLE} (id, content) SELECT id, content FROM ${TABLE}`);
  });
  afterAll(() => db?.drop());

  async function partkitJson(args: string[]) {
    return (await partkit(db.url, [...args, '--json'], { config, timeoutMs: 300_000 })).json;
  }

  /** The oracle, with the writer held so that nothing is in flight. */
  async function oracle(writer: LiveWriter, when: string) {
    await writer.pause();
    try {
      const result = await compareWithTruth(db.url, [TABLE]);
      expect(result.truthRows).toBeGreaterThan(ROWS);
      expect({ missing: result.missing.length, resurrected: result.resurrected.length, stale: result.stale.length, duplicated: result.duplicated.length }, when).toEqual(CLEAN);
    } finally {
      writer.resume();
    }
  }

  /** The distribution column of a relation, null for a local one. */
  const citusKind = async (relation: string) => (await distributionOf(db, relation)).column;

  async function colocated(a: string, b: string): Promise<boolean> {
    const { rows: [row] } = await db.query<{ same: boolean }>(
      `SELECT (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = to_regclass($1)) = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = to_regclass($2)) AS same`,
      [a, b],
    );
    return row?.same ?? false;
  }

  it('prep (distributed copy) -> fill (killed, resumed) -> swap -> unswap -> swap -> drop -> provision; the oracle finds nothing wrong', { timeout: 900_000 }, async () => {
    const writer = await startLiveWriter({
      url: db.url,
      table: TABLE,
      extraColumns: '"Session Id"',
      extraValues: `('00000000-0000-0000-0000-' || lpad((floor(random() * 500))::int::text, 12, '0'))::uuid`,
      createdAt: ['now()', `now() - interval '40 days'`, `now() - interval '100 days'`],
      moveOnUpdate: true,
      opsPerSecond: 150,
    });
    const lockHeld: number[] = [];
    try {
      const prep = await partkitJson(['migrate', 'prep', TABLE]);
      expect((prep.primaryKey as { after: string[] }).after).toEqual(['id', 'created_at', 'Session Id']);
      expect((prep.notes as string[]).join('\n')).toContain('the partitioned copy is distributed by Session Id from the start');
      // The copy is distributed (and its months with it) before a row is copied; the capture is local, on the original.
      const copy = await distributionOf(db, 'public."Chat Messages_partitioned"');
      expect(copy.column).toBe('Session Id');
      expect(copy.months).toBeGreaterThanOrEqual(6);
      expect(await citusKind('public."Chat Messages_capture"')).toBeNull();
      // A second prep finds everything in place.
      expect((await partkitJson(['migrate', 'prep', TABLE])).changes).toBe(0);

      await killFillAfter([TABLE, '--batch-size', '500', '--sleep', '50', '--config', config, '--database-url', db.url], 3);
      const filled = await partkitJson(['migrate', 'fill', TABLE]);
      expect(filled).toMatchObject({ state: 'filled', complete: true });

      // The dry run prints the capture moving onto the workers with the rest of the swap, and changes nothing.
      const planned = await partkitJson(['migrate', 'swap', TABLE, '--dry-run']);
      expect(planned.sql as string).toMatch(/SET LOCAL citus\.enable_unsafe_triggers = on[\s\S]*LOCK TABLE[\s\S]*create_distributed_table\('"public"\."Chat Messages_capture"', 'Session Id', colocate_with => '"public"\."Chat Messages"'\)[\s\S]*FOR EACH ROW/);
      expect(await citusKind('public."Chat Messages_capture"')).toBeNull();
      const swapped = await partkitJson(['migrate', 'swap', TABLE]);
      expect(swapped).toMatchObject({ state: 'swapped' });
      lockHeld.push(Number(swapped.lockHeldMs));
      // After the swap the capture follows the distributed table: co-located with it, on the workers.
      expect(await citusKind('public."Chat Messages_capture"')).toBe('Session Id');
      expect(await colocated('public."Chat Messages_capture"', TABLE)).toBe(true);
      await writer.advance(150);
      await oracle(writer, 'after the swap');
      await writer.advance(150);

      const undone = await partkitJson(['migrate', 'unswap', TABLE]);
      expect(undone).toMatchObject({ state: 'unswapped' });
      lockHeld.push(Number(undone.lockHeldMs));
      expect(await citusKind(TABLE)).toBeNull();
      expect(await citusKind('public."Chat Messages_capture"')).toBeNull();
      await writer.advance(150);
      await oracle(writer, 'after the unswap');
      await writer.advance(100);

      const again = await partkitJson(['migrate', 'swap', TABLE]);
      expect(again).toMatchObject({ state: 'swapped' });
      lockHeld.push(Number(again.lockHeldMs));
      await writer.advance(150);
      const dropped = await partkitJson(['migrate', 'drop', TABLE, '--yes']);
      expect(dropped).toMatchObject({ state: 'dropped', rows: { differing: 0 } });
      expect((dropped.rows as { sampled: number }).sampled).toBeGreaterThan(1000);
      // Registration and maintenance of the distributed table, as for any other table.
      const provisioned = await partkitJson(['provision']);
      expect(provisioned.changes).toBeGreaterThan(0);
      await writer.advance(150);
    } finally {
      const stats = await writer.stop();
      console.log(`[citus] migrate with a live writer: ${JSON.stringify(stats)}; swap/unswap/swap held their lock ${lockHeld.join(', ')} ms`);
      expect(stats.inserts + stats.updates + stats.deletes).toBeGreaterThan(300);
      expect(stats.updates).toBeGreaterThan(30);
      expect(stats.deletes).toBeGreaterThan(15);
      expect(stats.errors, stats.lastError).toBe(0);
    }
    const oracleEnd = await compareWithTruth(db.url, [TABLE]);
    expect({ missing: oracleEnd.missing.length, resurrected: oracleEnd.resurrected.length, stale: oracleEnd.stale.length, duplicated: oracleEnd.duplicated.length }).toEqual(CLEAN);

    const distribution = await distributionOf(db, TABLE);
    expect(distribution.column).toBe('Session Id');
    expect(distribution.months).toBeGreaterThanOrEqual(6);
    expect((await db.query(`SELECT relname FROM pg_class WHERE relname IN ('Chat Messages_retired', 'Chat Messages_capture', 'Chat Messages_partitioned')`)).rows).toEqual([]);
    const verified = await runPartkit(['verify', '--config', config, '--database-url', db.url]);
    expect(verified.exitCode, verified.stdout).toBe(0);
  });
});
