/**
 * Time-ordered ids with an id range per month (sql/kit/add_id_range.sql): on both strategies, a
 * lookup by id alone opens the id's month and the default, from EXPLAIN, for a literal and for a
 * bound parameter; and no insert is ever rejected. A live writer supplies every kind of id (a v4,
 * NULL, a UUIDv7 of another month, one made a millisecond before midnight) with late rows, rows on
 * both sides of month boundaries and rows for the default partition, while maintenance and
 * partition create run; the oracle then finds every row, none twice, none stale.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compareWithTruth, createTruthTable, startLiveWriter, TRUTH_TABLE } from './helpers/live-writer.js';
import { configFiles, count, partkit } from './helpers/cli.js';
import { monthOf } from './helpers/clock.js';
import { createTestDatabase, describeTarget, type TestDatabase } from './helpers/targets.js';

const SCHEMA = 'App "Data"';
const TABLE = `"App ""Data""".messages`;
const KIT = 'partkit';

interface PlanNode {
  readonly 'Relation Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

function relations(node: PlanNode, into: Set<string> = new Set()): Set<string> {
  if (node['Relation Name']) into.add(node['Relation Name']);
  for (const child of node.Plans ?? []) relations(child, into);
  return into;
}

/** Partitions `WHERE id = ...` opens, with the id as a literal and as a bound parameter (an unnamed statement, as node-postgres sends it). */
async function opened(db: TestDatabase, id: string): Promise<{ literal: string[]; param: string[] }> {
  const explain = async (sql: string, params: unknown[]) => {
    const { rows } = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    return [...relations(rows[0]!['QUERY PLAN'][0]!.Plan)].sort();
  };
  return {
    literal: await explain(`SELECT * FROM ${TABLE} WHERE id = '${id}'`, []),
    param: await explain(`SELECT * FROM ${TABLE} WHERE id = $1`, [id]),
  };
}

/** The UTC instant a UUIDv7 carries (its first 48 bits, in Unix milliseconds). */
function timeOf(id: string): number {
  return Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
}

for (const [name, strategy] of [
  ['bare18', 'plpgsql'],
  ['bare14', 'plpgsql'],
  ['pg15-partman4', 'partman'],
  ['pg17-partman5', 'partman'],
] as const) {
  describeTarget(name, `time-ordered ids on ${name} (${strategy})`, () => {
    let db: TestDatabase;
    let config: string;

    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      await db.query(`CREATE SCHEMA "App ""Data"""`);
      config = configFiles('id-ranges').write('partkit.json', { strategy, tables: [{ name: TABLE, retention: null }] });
      await partkit(db, ['provision', '--json'], { config });
    }, 120_000);
    afterAll(async () => db?.drop());

    it('a second provision plans nothing, and the table has the UUIDv7 id default, the parent trigger and an id range in every partition', async () => {
      const again = await partkit(db, ['provision', '--json'], { config });
      expect(again.json.changes).toBe(0);
      const { rows: defaults } = await db.query<{ expr: string }>(`SELECT pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = $1::regclass AND a.attname = 'id'`, [TABLE]);
      expect(defaults).toEqual([{ expr: `${KIT}.uuid_v7_at(now())` }]);
      const partitions = await db.query<{ name: string; is_default: boolean; has_check: boolean; has_trigger: boolean }>(
        `SELECT c.relname AS name, c.oid = pt.partdefid AS is_default,
                EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.conname = 'partkit_id_range') AS has_check,
                EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'partkit_id_range') AS has_trigger
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent
          WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [TABLE],
      );
      expect(partitions.rows.length).toBeGreaterThanOrEqual(6);
      for (const p of partitions.rows) {
        expect(p.has_trigger, p.name).toBe(true);
        expect(p.has_check, p.name).toBe(!p.is_default);
      }
    });

    it('under a live writer supplying every kind of id, with late, boundary and default-partition rows, while maintain and partition create run: no insert rejected, no row lost or doubled', { timeout: 240_000 }, async () => {
      await createTruthTable(db.url);
      const kit = `"${KIT}"`;
      const writer = await startLiveWriter({
        url: db.url,
        table: TABLE,
        extraColumns: 'session_id, role',
        extraValues: "gen_random_uuid(), 'user'",
        ids: [
          'gen_random_uuid()',
          'NULL',
          `${kit}.uuid_v7_at(now() - interval '3 months')`,
          `${kit}.uuid_v7_at(now() + interval '1 month')`,
          // An application whose clock is a millisecond behind the database's at midnight.
          `${kit}.uuid_v7_at(date_trunc('month', now()) - interval '1 millisecond')`,
        ],
        createdAt: [
          'now()',
          "date_trunc('month', now())",
          "date_trunc('month', now()) - interval '1 microsecond'",
          "date_trunc('month', now()) + interval '1 month' - interval '1 microsecond'",
          "now() - interval '2 months'",
          "now() + interval '2 months'",
          "now() + interval '2 years'",
        ],
        opsPerSecond: 80,
        updateShare: 0.2,
        deleteShare: 0.1,
      });
      try {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await partkit(db, ['maintain'], { config });
        await partkit(db, ['partition', 'create', TABLE, '--from', monthOf(-6).key, '--to', monthOf(-4).key], { config });
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await partkit(db, ['maintain'], { config });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      } finally {
        const stats = await writer.stop();
        expect(stats.errors, stats.lastError).toBe(0);
        expect(stats.inserts).toBeGreaterThan(50);
      }
      const oracle = await compareWithTruth(db.url, [TABLE]);
      expect(oracle).toMatchObject({ missing: [], resurrected: [], stale: [], duplicated: [] });

      // Every row's id lies in its own month (in UTC here): the ranges hold for all of them.
      expect(
        await count(
          db,
          `SELECT count(*) FROM ${TABLE} WHERE isfinite(created_at)
              AND (id < ${kit}.uuid_v7_floor(date_trunc('month', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                OR id >= ${kit}.uuid_v7_floor((date_trunc('month', created_at AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'))`,
        ),
      ).toBe(0);

      // A month that maintenance could not lock at once while the writer ran (add_id_ranges takes its
      // lock NOWAIT), or that a drain attached (its trigger at the swap, its CHECK after), gets its
      // range from the next run: here, one with the writer stopped.
      await partkit(db, ['maintain'], { config });
      // By id alone: for ids of every month, the id's month and the default, literal and bound parameter.
      const samples = await db.query<{ id: string; partition: string }>(
        `SELECT DISTINCT ON (tableoid) id::text, tableoid::regclass::text AS partition FROM ${TABLE} ORDER BY tableoid, id`,
      );
      expect(samples.rows.length).toBeGreaterThanOrEqual(4);
      for (const sample of samples.rows) {
        const { literal, param } = await opened(db, sample.id);
        expect(literal.length, `${sample.id} (${sample.partition}): ${literal.join(', ')}`).toBeLessThanOrEqual(2);
        expect(param).toEqual(literal);
        expect(await count(db, `SELECT count(*) FROM ${TABLE} WHERE id = $1`, [sample.id])).toBe(1);
      }
      // verify reports it from the same EXPLAIN.
      const verify = await partkit(db, ['verify', '--json'], { config, expectedExit: null });
      const check = (verify.json.checks as { check: string; ok: boolean; detail: string }[]).find((c) => c.check === 'id-lookups')!;
      expect(check).toMatchObject({ ok: true, detail: expect.stringMatching(/^id lookups prune: WHERE id = \$1 opens 2 of \d+ partitions/) });
      await db.query(`DELETE FROM ${TRUTH_TABLE}`);
    });

    it('an id the application supplies is kept when it lies in its row\'s month and replaced otherwise; no statement is rejected', async () => {
      const month = monthOf(0);
      const insert = async (id: string | null, at: string) =>
        (await db.query<{ id: string; created_at: Date }>(`INSERT INTO ${TABLE} (id, session_id, role, content, created_at) VALUES ($1, gen_random_uuid(), 'user', 'x', $2) RETURNING id::text, created_at`, [id, at])).rows[0]!;
      const inMonth = (id: string, at: Date) => {
        const start = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
        return timeOf(id) >= start && timeOf(id) < Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);
      };
      const v7 = (at: string) => db.query<{ id: string }>(`SELECT "${KIT}".uuid_v7_at($1)::text AS id`, [at]).then((r) => r.rows[0]!.id);

      // Left to the database: the id is made from the same instant as created_at's default...
      const { rows: fresh } = await db.query<{ id: string; ms: string }>(`INSERT INTO ${TABLE} (session_id, role, content) VALUES (gen_random_uuid(), 'user', 'x') RETURNING id::text, floor(extract(epoch FROM created_at) * 1000)::text AS ms`);
      expect(timeOf(fresh[0]!.id)).toBe(Number(fresh[0]!.ms));
      // ...and for a late row (created_at set by the application) from its created_at, through the month's range.
      const { rows: late } = await db.query<{ id: string; created_at: Date }>(`INSERT INTO ${TABLE} (session_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'x', $1) RETURNING id::text, created_at`, [monthOf(-5).mid]);
      expect(timeOf(late[0]!.id)).toBe(late[0]!.created_at.getTime());
      // An explicit NULL: made from created_at by the parent's trigger.
      const omitted = await insert(null, month.mid);
      expect(timeOf(omitted.id)).toBe(omitted.created_at.getTime());
      const own = await v7(month.mid);
      expect((await insert(own, month.mid)).id).toBe(own);
      for (const foreign of ['9d6f2a3c-1111-4111-8111-111111111111', await v7(monthOf(-7).mid), await v7(`${month.start}`)]) {
        const row = await insert(foreign, monthOf(1).mid);
        expect(row.id).not.toBe(foreign);
        expect(inMonth(row.id, row.created_at)).toBe(true);
      }
      // The last instant of a month with an id made a millisecond later (the next month's).
      const edge = await insert(await v7(monthOf(1).start), new Date(Date.parse(monthOf(1).start.replace(' ', 'T').replace('+00', 'Z')) - 1).toISOString());
      expect(inMonth(edge.id, edge.created_at)).toBe(true);
      // created_at with no month, id left to the database: kept in the default with a random id.
      await db.query(`INSERT INTO ${TABLE} (session_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'forever', 'infinity')`);

      // An update that moves a row to another month: accepted, its id follows its new month.
      const moved = (await db.query<{ id: string; created_at: Date }>(`UPDATE ${TABLE} SET created_at = $2 WHERE id = $1 RETURNING id::text, created_at`, [own, monthOf(2).mid])).rows[0]!;
      expect(moved.id).not.toBe(own);
      expect(inMonth(moved.id, moved.created_at)).toBe(true);
      // An update that sets an id outside the month: accepted, replaced.
      const reset = (await db.query<{ id: string }>(`UPDATE ${TABLE} SET id = '9d6f2a3c-2222-4111-8111-111111111111' WHERE id = $1 RETURNING id::text`, [moved.id])).rows[0]!;
      expect(reset.id).not.toBe('9d6f2a3c-2222-4111-8111-111111111111');
      // ON CONFLICT and COPY go through the same triggers.
      await db.query(`INSERT INTO ${TABLE} (id, session_id, role, content, created_at) VALUES ('9d6f2a3c-3333-4111-8111-111111111111', gen_random_uuid(), 'user', 'upsert', $1) ON CONFLICT DO NOTHING`, [month.mid]);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { from } = await import('pg-copy-streams');
        const stream = client.query(from(`COPY ${TABLE} (id, session_id, role, content, created_at) FROM STDIN`));
        await new Promise<void>((resolve, reject) => {
          stream.on('finish', () => resolve());
          stream.on('error', reject);
          stream.end(`9d6f2a3c-4444-4111-8111-111111111111\t9d6f2a3c-4444-4111-8111-111111111112\tuser\tcopied\t${month.mid}\n`);
        });
      } finally {
        await client.end();
      }
      expect(await count(db, `SELECT count(*) FROM ${TABLE} WHERE content IN ('upsert', 'copied') AND id::text NOT LIKE '9d6f2a3c-%'`)).toBe(2);

    });

    // A named prepared statement may switch to its generic plan after five runs (pg15 did here with
    // this small table): node-postgres's unnamed statements, planned with their values, are what prunes.
    it('the planner skips months by their CHECK for custom plans only: a generic plan opens every partition (the documented limit)', async () => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const partitions = await count(db, `SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass`, [TABLE]);
        const id = (await client.query<{ id: string }>(`SELECT id::text FROM ${TABLE} WHERE isfinite(created_at) LIMIT 1`)).rows[0]!.id;
        await client.query(`PREPARE by_id(uuid) AS SELECT * FROM ${TABLE} WHERE id = $1`);
        await client.query(`SET plan_cache_mode = force_generic_plan`);
        const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) EXECUTE by_id('${id}')`);
        expect(relations(rows[0]!['QUERY PLAN'][0]!.Plan).size).toBe(partitions);
      } finally {
        await client.end();
      }
    });
  });
}

describeTarget('bare18', 'an adopted table keeps its ids', () => {
  it('a table that exists is registered without id ranges, its ids untouched, and verify says lookups by id do not prune', { timeout: 120_000 }, async () => {
    const db = await createTestDatabase('bare18', { kit: true });
    try {
      await db.query(`CREATE TABLE public.messages (id uuid NOT NULL DEFAULT gen_random_uuid(), session_id uuid NOT NULL, role text NOT NULL, content text NOT NULL,
                      created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
      const config = configFiles('id-ranges-adopted').write('partkit.json', { tables: [{ name: 'public.messages', ids: 'uuidv7' }] });
      await partkit(db, ['provision'], { config });
      expect(await count(db, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'partkit_id%'`)).toBe(0);
      expect(await count(db, `SELECT count(*) FROM ${KIT}.managed_table WHERE id_ranges`)).toBe(0);
      const { rows } = await db.query<{ id: string }>(`INSERT INTO public.messages (session_id, role, content) VALUES (gen_random_uuid(), 'user', 'x') RETURNING id::text`);
      expect(rows[0]!.id[14]).toBe('4');
      const verify = await partkit(db, ['verify', '--json'], { config, expectedExit: null });
      const check = (verify.json.checks as { check: string; ok: boolean; detail: string }[]).find((c) => c.check === 'id-lookups')!;
      expect(check).toMatchObject({ ok: true, detail: expect.stringMatching(/^id lookups do not prune: .* the ids are not time-ordered/) });
    } finally {
      await db.drop();
    }
  });
});
