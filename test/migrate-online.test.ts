/**
 * `partkit migrate` under a live writer, checked against an oracle.
 *
 * The writer inserts, updates (half of them move created_at to another month) and deletes (half of
 * them rows of the oldest months), each op in the same transaction as the same change to a truth
 * table. The migration runs prep -> fill (SIGKILLed twice, then resumed) -> swap -> unswap -> swap
 * -> drop while it writes, on a uuid-keyed table whose name is mixed case with a space. The table
 * must then hold exactly the truth: 0 missing, 0 resurrected, 0 stale, 0 duplicate rows.
 *
 * Also: the race that a copy-on-write trigger loses (a fill batch holding an old snapshot across a
 * delete), forced deterministically; and dependents (view, trigger, identity, grants) carried through.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRole, createTestDatabase, describeTarget, runPartkit, startLiveWorkload, type TargetName, type TestDatabase } from './helpers/targets.js';
import { count, killFillAfter, partkit } from './helpers/cli.js';

const TABLE = 'public."Chat Messages"';
const SEED = 30_000;

/** Waits until `check` is true (polling), failing after `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Writer {
  readonly ops: { insert: number; update: number; move: number; delete: number; deleteOld: number; errors: number };
  readonly longestWaitMs: () => number;
  pause(): Promise<void>;
  resume(): void;
  /** Resolves once the writer has committed (or failed) `count` more operations: progress, not time. */
  advance(count: number): Promise<void>;
  stop(): Promise<void>;
}

/** A writer at about `rate` ops/s: each op and its truth-table twin in one transaction. */
async function startWriter(db: TestDatabase, table: string, rate: number): Promise<Writer> {
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => undefined);
  await client.connect();
  const endWorkload = startLiveWorkload();
  const { rows: live } = await client.query<{ id: string; old: boolean }>(
    `SELECT id::text, created_at < (SELECT min(created_at) FROM truth) + interval '3 months' AS old FROM truth WHERE NOT deleted`,
  );
  const ids = live.map((r) => r.id);
  const oldIds = live.filter((r) => r.old).map((r) => r.id);
  const ops = { insert: 0, update: 0, move: 0, delete: 0, deleteOld: 0, errors: 0 };
  let longest = 0;
  let stopped = false;
  let paused: Promise<void> | undefined;
  let resumePaused: (() => void) | undefined;
  let idle: (() => void) | undefined;
  const pick = (list: string[]) => list.splice(Math.floor(Math.random() * list.length), 1)[0];
  // A random instant in the 30 months before now (server clock), as SQL.
  const randomWhen = `now() - random() * interval '900 days'`;

  const loop = (async () => {
    while (!stopped) {
      if (paused) {
        idle?.();
        await paused;
        continue;
      }
      const roll = Math.random();
      const started = performance.now();
      try {
        await client.query('BEGIN');
        if (roll < 0.6 || ids.length < 100) {
          const id = randomUUID();
          const body = `insert ${ops.insert}`;
          const { rows } = await client.query<{ created_at: string }>(`INSERT INTO ${table} (id, created_at, body) VALUES ($1, ${Math.random() < 0.5 ? 'now()' : randomWhen}, $2) RETURNING created_at::text`, [id, body]);
          await client.query('INSERT INTO truth (id, created_at, body) VALUES ($1, $2::timestamptz, $3)', [id, rows[0]!.created_at, body]);
          await client.query('COMMIT');
          ids.push(id);
          ops.insert += 1;
        } else if (roll < 0.85) {
          const id = ids[Math.floor(Math.random() * ids.length)]!;
          const move = Math.random() < 0.5;
          const body = `update ${ops.update + ops.move}`;
          // A move goes to another month: 40 to 400 days earlier or later than now, whatever the row had.
          const { rows } = await client.query<{ created_at: string }>(
            `UPDATE ${table} SET body = $2${move ? `, created_at = created_at + (CASE WHEN created_at > now() - interval '450 days' THEN -1 ELSE 1 END) * (40 + random() * 360) * interval '1 day'` : ''} WHERE id = $1 RETURNING created_at::text`,
            [id, body],
          );
          if (rows.length !== 1) throw new Error(`update of ${id} found ${rows.length} rows`);
          await client.query('UPDATE truth SET body = $2, created_at = $3::timestamptz WHERE id = $1', [id, body, rows[0]!.created_at]);
          await client.query('COMMIT');
          if (move) ops.move += 1;
          else ops.update += 1;
        } else {
          const old = Math.random() < 0.5 && oldIds.length > 0;
          let id = old ? pick(oldIds)! : ids[Math.floor(Math.random() * ids.length)]!;
          if (!ids.includes(id)) id = ids[Math.floor(Math.random() * ids.length)]!;
          const { rowCount } = await client.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
          if (rowCount !== 1) throw new Error(`delete of ${id} found ${rowCount} rows`);
          await client.query('UPDATE truth SET deleted = true WHERE id = $1', [id]);
          await client.query('COMMIT');
          ids.splice(ids.indexOf(id), 1);
          if (old) ops.deleteOld += 1;
          else ops.delete += 1;
        }
      } catch (error) {
        ops.errors += 1;
        console.warn(`writer: ${(error as Error).message}`);
        await client.query('ROLLBACK').catch(() => undefined);
      }
      longest = Math.max(longest, performance.now() - started);
      const gap = 1000 / rate - (performance.now() - started);
      if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
    }
  })();

  const resume = () => {
    const release = resumePaused;
    paused = undefined;
    idle = undefined;
    release?.();
  };
  return {
    ops,
    longestWaitMs: () => Math.round(longest),
    async pause() {
      paused = new Promise((resolve) => {
        resumePaused = resolve;
      });
      await new Promise<void>((resolve) => {
        idle = resolve;
      });
    },
    resume,
    async advance(count) {
      const total = () => ops.insert + ops.update + ops.move + ops.delete + ops.deleteOld + ops.errors;
      const target = total() + count;
      await until(async () => total() >= target, 60_000, `the writer's next ${count} operations`);
    },
    async stop() {
      stopped = true;
      resume();
      await loop;
      endWorkload();
      await client.end();
    },
  };
}

interface Oracle {
  readonly missing: number;
  readonly resurrected: number;
  readonly stale: number;
  readonly duplicate: number;
}

/** The table against the truth. */
async function oracle(db: TestDatabase, table: string): Promise<Oracle> {
  const { rows } = await db.query<{ missing: number; resurrected: number; stale: number; duplicate: number }>(
    `SELECT (SELECT count(*)::int FROM truth t WHERE NOT t.deleted AND NOT EXISTS (SELECT 1 FROM ${table} m WHERE m.id = t.id)) AS missing,
            (SELECT count(*)::int FROM truth t WHERE t.deleted AND EXISTS (SELECT 1 FROM ${table} m WHERE m.id = t.id)) AS resurrected,
            (SELECT count(*)::int FROM truth t JOIN ${table} m ON m.id = t.id WHERE NOT t.deleted AND (m.created_at, m.body) IS DISTINCT FROM (t.created_at, t.body)) AS stale,
            (SELECT count(*)::int FROM (SELECT id FROM ${table} GROUP BY id HAVING count(*) > 1) d) AS duplicate`,
  );
  return rows[0]!;
}

const CLEAN: Oracle = { missing: 0, resurrected: 0, stale: 0, duplicate: 0 };

for (const name of ['bare18', 'pg17-partman5'] as TargetName[]) {
  describeTarget(name, `migrate under a live writer on ${name}: the oracle finds nothing missing, resurrected, stale or duplicated`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
      await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
      await db.query(`CREATE TABLE ${TABLE} (id uuid PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)`);
      await db.query(`CREATE INDEX ON ${TABLE} (created_at)`);
      await db.query('CREATE TABLE truth (id uuid PRIMARY KEY, created_at timestamptz NOT NULL, body text NOT NULL, deleted boolean NOT NULL DEFAULT false)');
      // 30 months of history, evenly spread.
      await db.query(
        `WITH seed AS (SELECT gen_random_uuid() AS id, now() - (g % 900) * interval '1 day' - (g % 24) * interval '1 hour' AS created_at, 'seed ' || g AS body FROM generate_series(1, ${SEED}) g),
              a AS (INSERT INTO ${TABLE} SELECT * FROM seed)
         INSERT INTO truth (id, created_at, body) SELECT * FROM seed`,
      );
    });
    afterAll(() => db?.drop());

    it('prep -> fill (killed twice, resumed) -> swap -> unswap -> swap -> drop', { timeout: 600_000 }, async () => {
      const writer = await startWriter(db, TABLE, 200);
      const lockHeld: number[] = [];
      try {
        await writer.advance(50);
        await partkit(db, ['migrate', 'prep', TABLE, '--json']);
        await writer.advance(50);
        await killFillAfter([TABLE, '--batch-size', '300', '--sleep', '50', '--database-url', db.url], 3);
        await killFillAfter([TABLE, '--batch-size', '300', '--sleep', '50', '--database-url', db.url], 3);
        const filled = await partkit(db, ['migrate', 'fill', TABLE, '--batch-size', '1500', '--json']);
        expect(filled.json).toMatchObject({ state: 'filled', complete: true });
        expect(filled.json.resumedAtBlock).toBeGreaterThan(0);

        const swapped = await partkit(db, ['migrate', 'swap', TABLE, '--lock-timeout', '2s', '--json']);
        expect(swapped.json).toMatchObject({ state: 'swapped' });
        lockHeld.push(Number(swapped.json.lockHeldMs));
        await writer.advance(150);
        await writer.pause();
        expect(await oracle(db, TABLE), 'after the swap').toEqual(CLEAN);
        writer.resume();
        await writer.advance(150);

        const undone = await partkit(db, ['migrate', 'unswap', TABLE, '--lock-timeout', '2s', '--json']);
        expect(undone.json).toMatchObject({ state: 'unswapped' });
        lockHeld.push(Number(undone.json.lockHeldMs));
        await writer.advance(150);
        await writer.pause();
        expect(await oracle(db, TABLE), 'after the unswap').toEqual(CLEAN);
        expect(await count(db, `SELECT count(*)::int AS n FROM pg_class WHERE oid = to_regclass($1) AND relkind = 'r'`, [TABLE])).toBe(1);
        writer.resume();
        await writer.advance(100);

        const again = await partkit(db, ['migrate', 'swap', TABLE, '--lock-timeout', '2s', '--json']);
        expect(again.json).toMatchObject({ state: 'swapped' });
        lockHeld.push(Number(again.json.lockHeldMs));
        await writer.advance(150);
        const dropped = await partkit(db, ['migrate', 'drop', TABLE, '--yes', '--json']);
        expect(dropped.json).toMatchObject({ state: 'dropped', rows: { differing: 0 } });
        await writer.advance(50);
      } finally {
        await writer.stop();
      }
      const result = await oracle(db, TABLE);
      const writes = writer.ops;
      const longestLock = Math.max(...lockHeld);
      console.log(
        `[${name}] oracle after prep/fill(killed x2)/swap/unswap/swap/drop: ${JSON.stringify(result)}; writer ops ${JSON.stringify(writes)}; longest writer wait ${writer.longestWaitMs()} ms; longest lock held by swap/unswap ${longestLock} ms`,
      );
      expect(result).toEqual(CLEAN);
      expect(writes.errors).toBe(0);
      expect(writes.move).toBeGreaterThan(10);
      expect(writes.deleteOld).toBeGreaterThan(5);
      expect(await count(db, `SELECT count(*)::int AS n FROM pg_class WHERE oid = to_regclass($1) AND relkind = 'p'`, [TABLE])).toBe(1);
      expect(await count(db, `SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('Chat Messages_retired', 'Chat Messages_capture', 'Chat Messages_partitioned')`)).toBe(0);
      // Every row sits in its month's partition (or the default for months beyond the made ones).
      expect(await count(db, `SELECT count(*)::int AS n FROM truth WHERE NOT deleted`)).toBe(await count(db, `SELECT count(*)::int AS n FROM ${TABLE}`));
    });
  });
}

describeTarget('bare18', 'the race a copy-on-write trigger loses: a fill batch holding an old snapshot across a delete', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
  });
  afterAll(() => db?.drop());

  it('the batch re-inserts the deleted row from its snapshot; the replay after it deletes it again', async () => {
    await db.query('CREATE TABLE race (id int PRIMARY KEY, created_at timestamptz NOT NULL, body text NOT NULL)');
    await db.query(`INSERT INTO race SELECT g, now() - g * interval '1 day', 'row ' || g FROM generate_series(1, 10) g`);
    await partkit(db, ['migrate', 'prep', 'race', '--json']);
    // Another session holds an uncommitted copy of row 1 in the partitioned table: the fill batch,
    // which reads rows 1..10 in one snapshot, waits on it when it inserts row 1.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`INSERT INTO race_partitioned SELECT * FROM race WHERE id = 1`);
      const fill = runPartkit(['migrate', 'fill', 'race', '--batch-size', '100', '--json', '--database-url', db.url]);
      await until(
        async () => (await count(db, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'partkit%' AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO%race_partitioned%'`)) === 1,
        30_000,
        'the fill batch to wait on the blocker',
      );
      // The batch has its snapshot (row 7 in it). A writer deletes row 7 and commits.
      await db.query('DELETE FROM race WHERE id = 7');
      await blocker.query('ROLLBACK');
      const result = await fill;
      expect(result.exitCode, result.stderr).toBe(0);
      const json = JSON.parse(result.stdout) as { rowsCopied: number; replayed: number };
      // The batch copied all 10 rows it saw, the deleted row 7 among them ...
      expect(json.rowsCopied).toBe(10);
      // ... and the replay of the captured delete removed it.
      expect(json.replayed).toBe(1);
      expect(await count(db, 'SELECT count(*)::int AS n FROM race_partitioned WHERE id = 7')).toBe(0);
      expect(await count(db, 'SELECT count(*)::int AS n FROM (SELECT * FROM race_partitioned EXCEPT SELECT * FROM race) d')).toBe(0);
      expect(await count(db, 'SELECT count(*)::int AS n FROM race_partitioned')).toBe(9);
    } finally {
      await blocker.end();
    }
  });
});

describeTarget('bare18', 'swap under a bounded lock', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
  });
  afterAll(() => db?.drop());

  it('behind a long reader, swap retries, gives up with nothing changed, and writers wait about --lock-timeout at most; then it swaps', { timeout: 120_000 }, async () => {
    await db.query('CREATE TABLE "Held Table" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)');
    await db.query(`INSERT INTO "Held Table" (created_at, body) SELECT now() - g * interval '1 hour', 'row ' || g FROM generate_series(1, 2000) g`);
    await partkit(db, ['migrate', 'prep', 'public."Held Table"', '--json']);
    await partkit(db, ['migrate', 'fill', 'public."Held Table"', '--json']);
    const triggersBefore = await count(db, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'public."Held Table"'::regclass AND tgname LIKE 'partkit_capture_%'`);
    expect(triggersBefore).toBe(4);

    const reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    let longestWait = 0;
    let writing = true;
    const writes = (async () => {
      while (writing) {
        const started = performance.now();
        await writer.query(`INSERT INTO "Held Table" (body) VALUES ('during the swap')`);
        longestWait = Math.max(longestWait, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM "Held Table"');
      const refused = await runPartkit(['migrate', 'swap', 'public."Held Table"', '--lock-timeout', '300ms', '--lock-retries', '5', '--json', '--database-url', db.url]);
      expect(refused.exitCode, refused.stderr).toBe(5);
      expect(refused.stderr).toMatch(/Could not take the locks[\s\S]*\(5 attempt\(s\), each waiting at most 300ms\)/);
      await reader.query('COMMIT');
    } finally {
      writing = false;
      await writes;
      await reader.end();
      await writer.end();
    }
    console.log(`[bare18] swap behind a held lock (--lock-timeout 300ms, 5 attempts): longest writer wait ${Math.round(longestWait)} ms`);
    expect(longestWait).toBeLessThan(1000);
    // Nothing changed: the original is live, with its capture; the copy is still the copy.
    expect(await count(db, `SELECT count(*)::int AS n FROM pg_class WHERE oid = to_regclass('public."Held Table"') AND relkind = 'r'`)).toBe(1);
    expect(await count(db, `SELECT count(*)::int AS n FROM pg_class WHERE oid = to_regclass('public."Held Table_partitioned"') AND relkind = 'p'`)).toBe(1);
    expect(await count(db, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'public."Held Table"'::regclass AND tgname LIKE 'partkit_capture_%'`)).toBe(4);

    const swapped = await partkit(db, ['migrate', 'swap', 'public."Held Table"', '--json']);
    expect(swapped.json).toMatchObject({ state: 'swapped' });
    expect(typeof swapped.json.lockHeldMs).toBe('number');
    expect(await count(db, `SELECT count(*)::int AS n FROM "Held Table"`)).toBe(await count(db, `SELECT count(*)::int AS n FROM "Held Table_retired"`));
  });
});

for (const name of ['bare18', 'pg17-partman5'] as TargetName[]) {
  describeTarget(name, `migrate carries dependents through on ${name}: view, trigger, foreign key (--foreign-keys drop), identity, grants, policy, comments`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
    });
    afterAll(() => db?.drop());

    it('prep, fill, swap and drop with every dependent', { timeout: 180_000 }, async () => {
      const reader = await createRole('reader', db);
      const role = `"${reader.name}"`;
      await db.query(`CREATE TABLE "Accounts" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL, updated_at timestamptz)`);
      await db.query(`INSERT INTO "Accounts" (created_at, name) SELECT now() - g * interval '3 days', 'account ' || g FROM generate_series(1, 500) g`);
      await db.query(`COMMENT ON COLUMN "Accounts".name IS 'display name'`);
      await db.query(`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$`);
      await db.query(`CREATE TRIGGER "Touch Updated" BEFORE UPDATE ON "Accounts" FOR EACH ROW EXECUTE FUNCTION touch()`);
      await db.query(`CREATE VIEW "Recent Accounts" WITH (security_barrier) AS SELECT id, name FROM "Accounts" WHERE created_at > now() - interval '30 days'`);
      await db.query(`ALTER VIEW "Recent Accounts" OWNER TO ${role}`);
      await db.query(`GRANT SELECT ON "Accounts" TO ${role}`);
      await db.query(`GRANT SELECT ON "Recent Accounts" TO PUBLIC`);
      await db.query(`ALTER TABLE "Accounts" ENABLE ROW LEVEL SECURITY`);
      await db.query(`CREATE POLICY "Everyone Reads" ON "Accounts" FOR SELECT TO PUBLIC USING (true)`);
      await db.query(`CREATE TABLE invoices (id int PRIMARY KEY, account_id bigint NOT NULL REFERENCES "Accounts" (id) ON DELETE CASCADE)`);
      await db.query(`INSERT INTO invoices SELECT g, g FROM generate_series(1, 50) g`);

      await partkit(db, ['migrate', 'prep', '"Accounts"', '--json'], { expectedExit: 4 });
      const prepped = await partkit(db, ['migrate', 'prep', '"Accounts"', '--foreign-keys', 'drop', '--json']);
      // The foreign key pointing at the table is a warning now, with what dropping it costs (issue 21).
      expect((prepped.json.warnings as string[]).join('\n')).toMatch(/invoices_account_id_fkey[\s\S]*will be dropped[\s\S]*MATCH FULL/);
      expect((prepped.json.notes as string[]).join('\n')).toMatch(/trigger Touch Updated recreated/);
      await partkit(db, ['migrate', 'fill', '"Accounts"', '--json']);
      // The copy's trigger is disabled until the swap: the fill copied updated_at as it was (NULL).
      expect(await count(db, `SELECT count(*)::int AS n FROM "Accounts_partitioned" WHERE updated_at IS NOT NULL`)).toBe(0);

      const refused = await partkit(db, ['migrate', 'swap', '"Accounts"', '--json'], { expectedExit: 5 });
      expect(refused.stderr).toMatch(/--foreign-keys drop/);
      const swapped = await partkit(db, ['migrate', 'swap', '"Accounts"', '--foreign-keys', 'drop', '--json']);
      expect(swapped.json).toMatchObject({ state: 'swapped', views: ['public."Recent Accounts"'], triggers: ['Touch Updated'] });
      const fks = swapped.json.foreignKeys as { name: string; recreate: string }[];
      expect(fks.map((fk) => fk.name)).toEqual(['public.invoices.invoices_account_id_fkey']);
      expect(fks[0]!.recreate).toMatch(/REFERENCES "public"\."Accounts" \("id", "created_at"\) MATCH FULL ON DELETE CASCADE/);
      const { rows: saved } = await db.query<{ recreate: string }>(`SELECT recreate FROM "Accounts_foreign_keys"`);
      expect(saved.map((r) => r.recreate)).toEqual([fks[0]!.recreate]);

      // The view reads the new table and kept its owner, grants and options.
      const { rows: view } = await db.query<{ owner: string; options: string[]; public_select: boolean; reads: string }>(
        `SELECT pg_get_userbyid(v.relowner) AS owner, v.reloptions AS options, has_table_privilege('public', v.oid, 'SELECT') AS public_select,
                (SELECT string_agg(DISTINCT t.relname || ':' || t.relkind::text, ',') FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class t ON t.oid = d.refobjid
                  WHERE r.ev_class = v.oid AND d.refclassid = 'pg_class'::regclass AND t.oid <> v.oid) AS reads
           FROM pg_class v WHERE v.oid = '"Recent Accounts"'::regclass`,
      );
      expect(view[0]).toEqual({ owner: reader.name, options: ['security_barrier=true'], public_select: true, reads: 'Accounts:p' });
      // The trigger fires on the new table, not on the retired one (which the replay keeps equal).
      await db.query(`UPDATE "Accounts" SET name = 'renamed' WHERE id = 1`);
      expect(await count(db, `SELECT count(*)::int AS n FROM "Accounts" WHERE id = 1 AND updated_at IS NOT NULL`)).toBe(1);
      // Identity continues past every id; grants, policy, row security and comments are on the new table.
      const { rows: inserted } = await db.query<{ id: string }>(`INSERT INTO "Accounts" (name) VALUES ('new') RETURNING id`);
      expect(Number(inserted[0]!.id)).toBe(501);
      const { rows: carried } = await db.query(
        `SELECT has_table_privilege($1, '"Accounts"', 'SELECT') AS granted, c.relrowsecurity AS rls,
                (SELECT count(*)::int FROM pg_policies WHERE tablename = 'Accounts' AND policyname = 'Everyone Reads') AS policies,
                col_description(c.oid, (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = 'name')) AS comment
           FROM pg_class c WHERE c.oid = '"Accounts"'::regclass`,
        [reader.name],
      );
      expect(carried[0]).toEqual({ granted: true, rls: true, policies: 1, comment: 'display name' });
      // The saved DDL recreates the foreign key against (id, created_at).
      await db.query(fks[0]!.recreate);
      expect(await count(db, `SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'invoices'::regclass AND contype = 'f' AND confrelid = '"Accounts"'::regclass`)).toBe(1);
      await db.query(`DELETE FROM "Accounts" WHERE id = 2`);
      expect(await count(db, `SELECT count(*)::int AS n FROM invoices WHERE account_id = 2`)).toBe(0);

      const dropped = await partkit(db, ['migrate', 'drop', '"Accounts"', '--yes', '--json']);
      expect(dropped.json).toMatchObject({ state: 'dropped', rows: { differing: 0 } });
    });
  });
}

describeTarget('bare18', 'migrate status and what the first maintenance will archive', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
  });
  afterAll(() => db?.drop());

  it('prep names the months past the retention (12 months by default) with their rows; status follows the phases', { timeout: 120_000 }, async () => {
    await db.query('CREATE TABLE "Old Logs" (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, line text NOT NULL)');
    // 10 rows in the middle of each of the 31 months from 30 months ago through this one (server clock):
    // a month goes once its end is 12 months old, so months 13 to 30 back go (18 months, 180 rows).
    await db.query(
      `INSERT INTO "Old Logs" SELECT k * 100 + i, date_trunc('month', now()) - k * interval '1 month' + interval '10 days', 'line'
         FROM generate_series(0, 30) k, generate_series(1, 10) i`,
    );
    const before = await partkit(db, ['migrate', 'status', '"Old Logs"', '--json']);
    expect(before.json).toMatchObject({ phase: 'not started', capture: { active: false } });
    const prepped = await partkit(db, ['migrate', 'prep', '"Old Logs"', '--json']);
    const archive = prepped.json.archive as { month: string; rows: number }[];
    expect(archive).toHaveLength(18);
    expect(archive.reduce((sum, m) => sum + m.rows, 0)).toBe(180);
    const { rows: oldest } = await db.query<{ month: string }>(`SELECT to_char(date_trunc('month', now()) - interval '30 months', 'YYYY-MM') AS month`);
    expect(archive[0]!.month).toBe(oldest[0]!.month);
    expect((prepped.json.warnings as string[]).join('\n')).toMatch(/first maintenance after `partkit provision` will archive 18 month\(s\)[\s\S]*180 row\(s\)/);
    expect((await partkit(db, ['migrate', 'status', '"Old Logs"', '--json'])).json).toMatchObject({ phase: 'prepped', capture: { active: true, backlog: 0 } });

    await db.query(`INSERT INTO "Old Logs" VALUES (999999, now(), 'new')`);
    await db.query(`UPDATE "Old Logs" SET line = 'changed' WHERE id BETWEEN 101 AND 103`);
    expect((await partkit(db, ['migrate', 'status', '"Old Logs"', '--json'])).json).toMatchObject({ capture: { backlog: 4 } });
    await partkit(db, ['migrate', 'fill', '"Old Logs"', '--json']);
    const filled = await partkit(db, ['migrate', 'status', '"Old Logs"', '--json']);
    expect(filled.json).toMatchObject({ phase: 'filled', capture: { backlog: 0 }, fill: { rowsCopied: 311, complete: true, etaSeconds: 0 } });
    expect(filled.json.next).toBe(`partkit migrate swap 'public."Old Logs"' (or undo prep and fill: partkit migrate abort 'public."Old Logs"')`);
    await partkit(db, ['migrate', 'swap', '"Old Logs"', '--json']);
    expect((await partkit(db, ['migrate', 'status', '"Old Logs"', '--json'])).json).toMatchObject({ phase: 'swapped', capture: { active: true } });
    await partkit(db, ['migrate', 'drop', '"Old Logs"', '--yes', '--json']);
    expect((await partkit(db, ['migrate', 'status', '"Old Logs"', '--json'])).json).toMatchObject({ phase: 'done', capture: { active: false } });
  });
});
