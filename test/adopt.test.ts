/**
 * Adoption: an existing partitioned table whose months are named in a way partkit would not name
 * them. Months are recognised by their bounds, not their names, on every strategy: provision,
 * maintain and verify then work, and no month is made twice.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachedPartitions, createTestDatabase, describeTarget, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

const TARGETS: { name: TargetName; strategy: 'partman' | 'plpgsql' }[] = [
  { name: 'pg15-partman4', strategy: 'partman' },
  { name: 'pg17-partman5', strategy: 'partman' },
  { name: 'bare18', strategy: 'plpgsql' },
];
const TABLE = 'public."Adopt ""Me"" Log"';

for (const { name, strategy } of TARGETS) {
  describeTarget(name, `adopting oddly named months on ${name} (${strategy})`, () => {
    let db: TestDatabase;
    const workDir = mkdtempSync(path.join(tmpdir(), 'partkit-adopt-'));
    const config = path.join(workDir, 'partkit.json');
    beforeAll(async () => {
      db = await createTestDatabase(name);
      await db.query(`SET TimeZone = 'UTC'`);
      await db.query(`CREATE TABLE ${TABLE} (id bigint NOT NULL, note text, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
      // Last month, this month and next month, named after nothing partkit or pg_partman would use.
      for (const offset of [-1, 0, 1]) {
        const { rows } = await db.query<{ lower: string; upper: string; label: string }>(
          `SELECT to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00' AS lower, to_char(m + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00' AS upper, to_char(m, 'YYYY-MM') AS label
             FROM (SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => $1) AS m) x`,
          [offset],
        );
        const { lower, upper, label } = rows[0]!;
        await db.query(`CREATE TABLE public."Adopt ""Me"" Log named ${label}" PARTITION OF ${TABLE} FOR VALUES FROM ('${lower}') TO ('${upper}')`);
        await db.query(`INSERT INTO ${TABLE} VALUES (${offset + 10}, 'before', '${lower}'::timestamptz + interval '2 days')`);
      }
      writeFileSync(config, JSON.stringify({ strategy, tables: [{ name: TABLE }] }));
    });
    afterAll(() => db?.drop());

    it('provision, maintain and verify adopt the months by their bounds; a second provision changes nothing', async () => {
      const provision = await runPartkit(['provision', '--json', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
      expect(provision.exitCode, `${provision.stderr}\n${provision.stdout}`).toBe(0);
      for (let run = 0; run < 2; run += 1) {
        const maintain = await runPartkit(['maintain', '--json', '--config', config, '--database-url', db.url]);
        expect(maintain.exitCode, `${maintain.stderr}\n${maintain.stdout}`).toBe(0);
      }
      const verify = await runPartkit(['verify', '--json', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
      const report = JSON.parse(verify.stdout) as { checks: { table: string | null; check: string; ok: boolean; detail: string }[] };
      expect(report.checks.filter((c) => !c.ok).map((c) => `${c.table}/${c.check}: ${c.detail}`)).toEqual([]);
      const months = (await attachedPartitions(db, TABLE)).filter((k) => k.lower !== null);
      // Each month once, from last month on without a gap: the fallback keeps the adopted names,
      // pg_partman renames them to its own (the hand-over partkit does at provision).
      expect(new Set(months.map((k) => k.lower)).size).toBe(months.length);
      const { rows: expected } = await db.query<{ lower: string }>(
        `SELECT to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00' AS lower
           FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month', date_trunc('month', now() AT TIME ZONE 'UTC') + interval '4 months', interval '1 month') m`,
      );
      expect(months.map((k) => k.lower).slice(0, expected.length)).toEqual(expected.map((r) => r.lower));
      expect(months.filter((k) => k.name.includes(' named ')).length).toBe(strategy === 'plpgsql' ? 3 : 0);
      expect((await db.query(`SELECT count(*)::int AS n FROM ${TABLE}`)).rows[0]!.n).toBe(3);
      const again = await runPartkit(['provision', '--json', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
      expect(again.exitCode, again.stderr).toBe(0);
      expect((JSON.parse(again.stdout) as { changes: number }).changes).toBe(0);
    });
  });
}
