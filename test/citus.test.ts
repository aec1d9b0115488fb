/**
 * Semibot's four tables distributed on a real Citus cluster (coordinator + 2 workers, the citus
 * target): provision -> maintain -> verify, retention into the archive schema, archive export and
 * restore, with pg_partman and with partkit's plpgsql fallback.
 */
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configFiles } from './helpers/cli.js';
import { createCitusDatabase, describeCitus, type CitusDatabase } from './helpers/citus.js';
import { midMonth, monthOf } from './helpers/clock.js';
import { runPartkit } from './helpers/targets.js';

const { dir: configDir, write: writeConfig } = configFiles('citus');

/** Semibot's tables with the distribution columns the README recommends. */
export const SEMIBOT_DISTRIBUTED = [
  { name: 'public.messages', distribution: { column: 'session_id' } },
  { name: 'public.execution_logs', distribution: { column: 'execution_id' } },
  { name: 'public.api_key_logs', distribution: { column: 'api_key_id' } },
  { name: 'public.usage_records', distribution: { column: 'organization_id' } },
];

interface DistributedRelation {
  relation: string;
  column: string | null;
  colocationid: number | null;
  shards: number;
  nodes: number;
}

/** Every attached month of `table` and the parent, as Citus holds it. */
async function distributionOf(db: CitusDatabase, table: string): Promise<DistributedRelation[]> {
  const { rows } = await db.query<DistributedRelation>(
    `SELECT r.relid::regclass::text AS relation,
            CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END AS column,
            p.colocationid,
            (SELECT count(*)::int FROM pg_dist_shard s WHERE s.logicalrelid = r.relid) AS shards,
            (SELECT count(DISTINCT pl.groupid)::int FROM pg_dist_shard s JOIN pg_dist_placement pl USING (shardid) WHERE s.logicalrelid = r.relid) AS nodes
       FROM (SELECT $1::regclass::oid AS relid UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass) r
       LEFT JOIN pg_dist_partition p ON p.logicalrelid = r.relid
      ORDER BY 1`,
    [table],
  );
  return rows;
}

for (const strategy of ['partman', 'plpgsql'] as const) {
  describeCitus(`Semibot's tables distributed on Citus, strategy ${strategy}`, () => {
    let db: CitusDatabase;
    let config: string;
    beforeAll(async () => {
      db = await createCitusDatabase();
      await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
      config = writeConfig(`semibot-${strategy}`, { strategy, tables: SEMIBOT_DISTRIBUTED });
    });
    afterAll(() => db?.drop());

    it('provision creates the four tables with widened keys, distributed and co-located by their columns, and says why', async () => {
      const result = await runPartkit(['provision', '--json', '--config', config, '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { strategy: string; changes: number; citus: { table: string; required: string[]; chosen: string[] }[] };
      expect(report.strategy).toBe(strategy);
      expect(report.citus.map((note) => note.table)).toEqual(SEMIBOT_DISTRIBUTED.map((table) => table.name));
      expect(report.citus[0]!.required.join('\n')).toMatch(/primary key \(id, created_at, session_id\)/);
      expect(report.citus[0]!.chosen.join('\n')).toMatch(/shard by session_id/);
      for (const { name, distribution } of SEMIBOT_DISTRIBUTED) {
        const { rows: pk } = await db.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, [name]);
        expect(pk[0]!.def).toBe(`PRIMARY KEY (id, created_at, ${distribution.column})`);
        const relations = await distributionOf(db, name);
        // The parent, 5 months (this one and 4 premade) and the default.
        expect(relations.length).toBeGreaterThanOrEqual(7);
        const parent = relations.find((relation) => relation.relation === name.replace('public.', ''))!;
        for (const relation of relations) {
          expect(relation, relation.relation).toMatchObject({ column: distribution.column, colocationid: parent.colocationid, nodes: 2 });
          expect(relation.shards).toBe(4);
        }
      }
    });

    it('a second provision reports 0 changes', async () => {
      const result = await runPartkit(['provision', '--json', '--config', config, '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect((JSON.parse(result.stdout) as { changes: number }).changes).toBe(0);
    });

    it('verify passes, and checks that every month is distributed on every worker', async () => {
      const result = await runPartkit(['verify', '--config', config, '--database-url', db.url]);
      expect(result.exitCode, result.stdout).toBe(0);
      expect(result.stdout).toMatch(/public\.messages\s+citus distribution\s+.*session_id/);
    });

    it('doctor reports Citus and each table distributed by its column with its shard count', async () => {
      const result = await runPartkit(['doctor', '--json', '--config', config, '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { citus: { installed: boolean; coordinator: boolean; activeWorkers: number; tables: { name: string; distributed: boolean; column: string | null; shards: number }[] } };
      expect(report.citus).toMatchObject({ installed: true, coordinator: true, activeWorkers: 2 });
      expect(report.citus.tables[0]).toEqual({ name: 'public.messages', distributed: true, column: 'session_id', shards: 4, months: expect.any(Number) });
      const text = await runPartkit(['doctor', '--config', config, '--database-url', db.url]);
      expect(text.stdout).toMatch(/citus\s+14\.0.*coordinator, 2 active worker/);
    });

    it('maintain: rows far in the future get their own distributed month, none lost', async () => {
      const far = monthOf(26);
      await db.query(`INSERT INTO messages (session_id, role, content, created_at) SELECT gen_random_uuid(), 'user', 'far future', $1::timestamptz + interval '9 days' FROM generate_series(1, 25)`, [far.start]);
      const result = await runPartkit(['maintain', '--json', '--config', config, '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n FROM messages WHERE content = 'far future'`)).rows[0]!.n).toBe(25);
      // tableoid names a shard on a worker: count per month on the coordinator instead.
      const relations = await distributionOf(db, 'public.messages');
      const holding: string[] = [];
      for (const { relation } of relations.filter((r) => r.relation !== 'messages')) {
        const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ONLY ${relation} WHERE content = 'far future'`);
        if (rows[0]!.n > 0) holding.push(relation);
      }
      expect(holding).toHaveLength(1);
      expect(holding[0]).not.toMatch(/default/);
      const month = relations.find((relation) => relation.relation === holding[0])!;
      expect(month).toMatchObject({ column: 'session_id', nodes: 2, shards: 4 });
      expect(month.colocationid).toBe(relations.find((relation) => relation.relation === 'messages')!.colocationid);
      const verified = await runPartkit(['verify', '--config', config, '--database-url', db.url]);
      expect(verified.exitCode, verified.stdout).toBe(0);
    });

    it('retention: months 13-15 back move to the archive schema and stay distributed, months 1-12 stay; no row lost (counted on the coordinator)', async () => {
      for (let back = 1; back <= 15; back += 1) {
        const { year, month, start } = monthOf(-back);
        if (strategy === 'partman') await db.query(`SELECT partman.create_partition_time('public.usage_records', ARRAY[$1::timestamptz])`, [start]);
        else await db.query(`SELECT partkit.create_monthly_partition('public.usage_records', $1, $2)`, [year, month]);
        await db.query(`INSERT INTO usage_records (organization_id, resource_type, quantity, created_at) SELECT gen_random_uuid(), 'tokens', g, $1 FROM generate_series(1, 10) g`, [midMonth(-back)]);
      }
      const before = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_records`)).rows[0]!.n;
      expect(before).toBe(150);
      const result = await runPartkit(['maintain', '--json', '--config', config, '--database-url', db.url]);
      expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(0);
      const { rows: archived } = await db.query<{ name: string }>(
        `SELECT c.oid::regclass::text AS name FROM pg_class c WHERE c.relnamespace = 'partkit_archive'::regnamespace AND c.relname LIKE 'usage_records%' AND c.relkind = 'r' ORDER BY 1`,
      );
      expect(archived).toHaveLength(3);
      let inArchive = 0;
      for (const { name } of archived) {
        inArchive += (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name}`)).rows[0]!.n;
        const [relation] = await distributionOf(db, name);
        expect(relation, name).toMatchObject({ column: 'organization_id', nodes: 2, shards: 4 });
      }
      const attached = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_records`)).rows[0]!.n;
      expect(attached).toBe(120);
      expect(inArchive).toBe(30);
      const verified = await runPartkit(['verify', '--config', config, '--database-url', db.url]);
      expect(verified.exitCode, verified.stdout).toBe(0);
    });

    it('archive export and restore from the coordinator: the restored month holds the same rows as the distributed one', async () => {
      const dir = mkdtempSync(path.join(configDir, `cold-${strategy}-`));
      const month = monthOf(-14);
      const { rows: archived } = await db.query<{ name: string }>(
        `SELECT c.oid::regclass::text AS name FROM pg_class c WHERE c.relnamespace = 'partkit_archive'::regnamespace AND c.relname LIKE 'usage_records%' AND c.relkind = 'r' ORDER BY 1`,
      );
      const source = archived[1]!.name;
      const rowsOf = async (table: string) =>
        (await db.query<{ row: string }>(`SELECT concat_ws('|', id, organization_id, resource_type, quantity, cost_usd, metadata, created_at) AS row FROM ${table} ORDER BY 1`)).rows.map((r) => r.row);
      const original = await rowsOf(source);
      expect(original).toHaveLength(10);
      const exported = await runPartkit(['archive', 'export', '--to', dir, '--json', '--config', config, '--database-url', db.url]);
      expect(exported.exitCode, exported.stderr).toBe(0);
      const restored = await runPartkit(['archive', 'restore', 'public.usage_records', '--month', month.key, '--from', dir, '--into', 'public."Restored Usage"', '--json', '--config', config, '--database-url', db.url]);
      expect(restored.exitCode, restored.stderr).toBe(0);
      expect(await rowsOf('public."Restored Usage"')).toEqual(original);
    });

    it('purge drops exported archived months on every worker: no shard of them is left', async () => {
      const { rows: archived } = await db.query<{ name: string }>(
        `SELECT c.oid::regclass::text AS name FROM pg_class c WHERE c.relnamespace = 'partkit_archive'::regnamespace AND c.relname LIKE 'usage_records%' AND c.relkind = 'r' ORDER BY 1`,
      );
      const shards = new Map<string, string[]>();
      for (const { name } of archived) {
        const { rows } = await db.query<{ shard: string }>(`SELECT shard_name(logicalrelid, shardid) AS shard FROM pg_dist_shard WHERE logicalrelid = $1::regclass`, [name]);
        shards.set(name, rows.map((row) => row.shard));
        for (const worker of [0, 1]) {
          const { rows: present } = await db.workerQuery<{ n: number }>(worker, 'SELECT count(to_regclass(s))::int AS n FROM unnest($1::text[]) s', [rows.map((row) => row.shard)]);
          expect(present[0]!.n, `${name} on worker ${worker}`).toBeGreaterThan(0);
        }
      }
      const purging = writeConfig(`purge-${strategy}`, { strategy, defaults: { purge: { enabled: true, after: '13 months' } }, tables: SEMIBOT_DISTRIBUTED });
      // purge.after is stored at registration: provision with it, then maintain.
      const provisioned = await runPartkit(['provision', '--config', purging, '--database-url', db.url]);
      expect(provisioned.exitCode, provisioned.stderr).toBe(0);
      const result = await runPartkit(['maintain', '--json', '--config', purging, '--database-url', db.url]);
      expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(0);
      const gone = [];
      for (const { name } of archived) {
        const { rows } = await db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [name]);
        if (rows[0]!.exists) continue;
        gone.push(name);
        for (const worker of [0, 1]) {
          const { rows: present } = await db.workerQuery<{ n: number }>(worker, 'SELECT count(to_regclass(s))::int AS n FROM unnest($1::text[]) s', [shards.get(name)]);
          expect(present[0]!.n, `${name} on worker ${worker}`).toBe(0);
        }
      }
      expect(gone.length).toBeGreaterThanOrEqual(1);
    });

    it('bench runs on the coordinator', async () => {
      const result = await runPartkit(['bench', '--json', '--rows', '10000', '--months', '4', '--reps', '1', '--insert-rows', '1000', '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/"queries"/);
    });
  });
}
