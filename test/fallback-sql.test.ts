import path from 'node:path';
import pg from 'pg';
import { loadMigrationFiles } from 'postgres-migrations';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeTarget, psql, REPO_DIR, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';
import { count } from './helpers/cli.js';

const INSTALL_SCRIPT = path.join(REPO_DIR, 'sql', 'install.psql');
const MIGRATIONS_DIR = path.join(REPO_DIR, 'sql', 'migrations');

/** Runs `fn` on one dedicated connection whose session TimeZone is `timeZone`. */
async function inSession<T>(db: TestDatabase, timeZone: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`SET TimeZone = '${timeZone}'`);
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Children of a table with bounds printed in a UTC session, default last. */
async function bounds(db: TestDatabase, table: string) {
  return inSession(db, 'UTC', async (client) => {
    const { rows } = await client.query<{ name: string; bound: string }>(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = $1::regclass ORDER BY pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', 2`,
      [table],
    );
    return rows;
  });
}

/** The kit's objects as the catalog sees them: functions (with a digest of their body) and tables with columns. */
async function kitCatalog(db: TestDatabase) {
  const functions = await db.query<{ name: string; args: string; result: string; body: string; kind: string; volatility: string; config: string[] | null }>(
    `SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result,
            md5(p.prosrc) AS body, p.prokind AS kind, p.provolatile AS volatility, p.proconfig AS config
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'partkit' ORDER BY 1, 2`,
  );
  const columns = await db.query(
    `SELECT c.relname AS table, c.relkind AS kind, a.attnum AS position, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
      WHERE n.nspname = 'partkit' AND c.relkind IN ('r', 'p') ORDER BY 1, 3`,
  );
  const others = await db.query(
    `SELECT c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'partkit' AND c.relkind NOT IN ('r', 'p') ORDER BY 1`,
  );
  const constraints = await db.query(
    `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE connamespace = 'partkit'::regnamespace ORDER BY 1, 2`,
  );
  const triggers = await db.query(
    `SELECT tgrelid::regclass::text AS table, tgname AS name, pg_get_triggerdef(oid) AS def
       FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'partkit'::regnamespace) ORDER BY 1, 2`,
  );
  return { functions: functions.rows, columns: columns.rows, others: others.rows, constraints: constraints.rows, triggers: triggers.rows };
}

for (const name of ['bare18', 'bare14'] as TargetName[]) {
  describeTarget(name, `create_monthly_partition on ${name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
      const result = await runPartkit(['provision', '--strategy', 'plpgsql', '--database-url', db.url]);
      if (result.exitCode !== 0) throw new Error(`provision failed: ${result.stderr}`);
    });
    afterAll(() => db?.drop());

    it('makes UTC month bounds whatever the session TimeZone, and a second call is harmless', async () => {
      const first = await inSession(db, 'Asia/Shanghai', async (client) => {
        const { rows } = await client.query<{ name: string }>(`SELECT partkit.create_monthly_partition('public.messages', 2030, 1) AS name`);
        // The session's zone is left as it was.
        expect((await client.query(`SELECT current_setting('TimeZone') AS tz`)).rows[0]!.tz).toBe('Asia/Shanghai');
        return rows[0]!.name;
      });
      expect(first).toBe('public.messages_y2030m01');
      const expected = { name: 'messages_y2030m01', bound: "FOR VALUES FROM ('2030-01-01 00:00:00+00') TO ('2030-02-01 00:00:00+00')" };
      expect((await bounds(db, 'public.messages')).filter((b) => b.name.includes('2030'))).toEqual([expected]);

      const again = await inSession(db, 'America/Los_Angeles', async (client) => (await client.query(`SELECT partkit.create_monthly_partition('public.messages', 2030, 1) AS name`)).rows[0]!.name as string);
      expect(again).toBe(first);
      expect((await bounds(db, 'public.messages')).filter((b) => b.name.includes('2030'))).toEqual([expected]);
    });

    it('moves rows of the month waiting in the default into the new child, none lost', async () => {
      await db.query(
        `INSERT INTO messages (session_id, role, content, created_at)
         SELECT gen_random_uuid(), 'user', 'early', t FROM unnest($1::timestamptz[]) t`,
        [['2031-03-01 00:00:00+00', '2031-03-15 12:00:00+00', '2031-03-31 23:59:59.999+00', '2031-04-01 00:00:00+00', '2031-02-28 23:59:59+00']],
      );
      expect(await count(db, `SELECT count(*) FROM ONLY messages_default`)).toBe(5);
      const before = await count(db, `SELECT count(*) FROM messages`);
      const name = await inSession(db, 'Asia/Shanghai', async (client) => (await client.query(`SELECT partkit.create_monthly_partition('public.messages', 2031, 3) AS name`)).rows[0]!.name as string);
      expect(name).toBe('public.messages_y2031m03');
      expect(await count(db, `SELECT count(*) FROM messages`)).toBe(before);
      expect(await count(db, `SELECT count(*) FROM ONLY messages_y2031m03`)).toBe(3);
      expect(await count(db, `SELECT count(*) FROM ONLY messages_default`)).toBe(2);
      // The default is attached again, as the default.
      expect((await bounds(db, 'public.messages')).at(-1)).toEqual({ name: 'messages_default', bound: 'DEFAULT' });
      expect(await count(db, `SELECT count(*) FROM messages_default WHERE created_at >= '2031-03-01 00:00+00' AND created_at < '2031-04-01 00:00+00'`)).toBe(0);
    });

    it('refuses a month that overlaps a hand-made child, naming both, and changes nothing', async () => {
      await db.query(`CREATE TABLE messages_handmade PARTITION OF messages FOR VALUES FROM ('2032-01-15 00:00:00+00') TO ('2032-02-15 00:00:00+00')`);
      const before = await bounds(db, 'public.messages');
      for (const month of [1, 2]) {
        const error = await db.query(`SELECT partkit.create_monthly_partition('public.messages', 2032, $1)`, [month]).then(
          () => undefined,
          (e: Error & { code?: string }) => e,
        );
        expect(error?.message).toMatch(new RegExp(`new partition public\\.messages_y2032m0${month} .* would overlap partition public\\.messages_handmade \\[2032-01-15 00:00:00, 2032-02-15 00:00:00\\) of public\\.messages`));
        expect(error?.code).toBe('42P17');
      }
      expect(await bounds(db, 'public.messages')).toEqual(before);
      const next = await db.query(`SELECT partkit.create_monthly_partition('public.messages', 2032, 3) AS name`);
      expect(next.rows[0]!.name).toBe('public.messages_y2032m03');
    });

    it('a child with the month name but other bounds, or a table that is not a child, is an error', async () => {
      await db.query(`CREATE TABLE messages_y2033m05 PARTITION OF messages FOR VALUES FROM ('2033-05-02 00:00:00+00') TO ('2033-06-01 00:00:00+00')`);
      await expect(db.query(`SELECT partkit.create_monthly_partition('public.messages', 2033, 5)`)).rejects.toThrow(/partition public\.messages_y2033m05 of public\.messages covers \[2033-05-02 00:00:00, 2033-06-01 00:00:00\), not the month/);
      await db.query(`CREATE TABLE messages_y2033m07 (LIKE messages)`);
      await expect(db.query(`SELECT partkit.create_monthly_partition('public.messages', 2033, 7)`)).rejects.toThrow(/public\.messages_y2033m07 already exists and is not a partition of public\.messages/);
      await expect(db.query(`SELECT partkit.create_monthly_partition('public.messages', 2033, 13)`)).rejects.toThrow(/month must be between 1 and 12, got 13/);
    });

    it('works with quoted, mixed-case names, qualified or not', async () => {
      await db.query(`CREATE SCHEMA "Audit Log"`);
      await db.query(`CREATE TABLE "Audit Log"."Odd ""Name"" Logs" (id bigint NOT NULL, "createdAt" timestamptz NOT NULL) PARTITION BY RANGE ("createdAt")`);
      const qualified = await db.query(`SELECT partkit.create_monthly_partition($1, 2030, 12) AS name`, ['"Audit Log"."Odd ""Name"" Logs"']);
      expect(qualified.rows[0]!.name).toBe('"Audit Log"."Odd ""Name"" Logs_y2030m12"');
      const unqualified = await db.query(`SELECT partkit.create_monthly_partition($1, 2030, 12) AS name`, ['"Odd ""Name"" Logs"']);
      expect(unqualified.rows[0]!.name).toBe(qualified.rows[0]!.name);
      const defaultName = await db.query(`SELECT partkit.ensure_default_partition($1) AS name`, ['"Audit Log"."Odd ""Name"" Logs"']);
      expect(defaultName.rows[0]!.name).toBe('"Audit Log"."Odd ""Name"" Logs_default"');
      await db.query(`INSERT INTO "Audit Log"."Odd ""Name"" Logs" VALUES (1, '2030-12-24 10:00+00'), (2, '2031-07-01 00:00+00')`);
      const defaultRows = await count(db, `SELECT count(*) FROM ONLY "Audit Log"."Odd ""Name"" Logs_default"`);
      expect(defaultRows).toBe(1);
      await db.query(`SELECT partkit.create_monthly_partition($1, 2031, 7)`, ['"Audit Log"."Odd ""Name"" Logs"']);
      expect(await count(db, `SELECT count(*) FROM ONLY "Audit Log"."Odd ""Name"" Logs_y2031m07"`)).toBe(1);
      expect((await bounds(db, '"Audit Log"."Odd ""Name"" Logs"')).map((b) => b.name)).toEqual(['Odd "Name" Logs_y2030m12', 'Odd "Name" Logs_y2031m07', 'Odd "Name" Logs_default']);
      // Unquoted folds to lower case, as in SQL: there is no table "odd ""name"" logs".
      await expect(db.query(`SELECT partkit.create_monthly_partition($1, 2030, 12)`, ['"audit log"."Odd ""Name"" Logs"'])).rejects.toThrow(/does not exist/);
    });

    it('a malicious table name cannot inject SQL', async () => {
      await db.query(`CREATE TABLE x (id int)`);
      const attempts = [
        'messages; DROP TABLE x',
        'public.messages; DROP TABLE x; --',
        `messages'; DROP TABLE x; --`,
        '"messages"; DROP TABLE x; --',
        'public.messages_y2030m01 PARTITION OF x',
        'x.y.z',
        '',
      ];
      for (const attempt of attempts) {
        await expect(db.query(`SELECT partkit.create_monthly_partition($1, 2030, 6)`, [attempt]), attempt).rejects.toThrow();
        await expect(db.query(`SELECT partkit.ensure_default_partition($1)`, [attempt]), attempt).rejects.toThrow();
        await expect(db.query(`SELECT * FROM partkit.run_maintenance($1)`, [attempt]), attempt).rejects.toThrow();
      }
      // A name that parses as one quoted identifier is only ever a name.
      await expect(db.query(`SELECT partkit.create_monthly_partition($1, 2030, 6)`, ['"x; DROP TABLE x"'])).rejects.toThrow(/table "x; DROP TABLE x" does not exist/);
      expect(await count(db, `SELECT count(*) FROM pg_class WHERE relname = 'x' AND relkind = 'r'`)).toBe(1);
      expect(await count(db, `SELECT count(*) FROM pg_class WHERE relname = 'messages_y2030m06'`)).toBe(0);
      // x is not partitioned: refused with a clear message.
      await expect(db.query(`SELECT partkit.create_monthly_partition('public.x', 2030, 6)`)).rejects.toThrow(/public\.x is not a range-partitioned table/);
    });
  });

  describeTarget(name, `psql-only install vs partkit provision on ${name}`, () => {
    let viaPsql: TestDatabase;
    let viaCli: TestDatabase;
    beforeAll(async () => {
      [viaPsql, viaCli] = await Promise.all([createTestDatabase(name), createTestDatabase(name)]);
    });
    afterAll(async () => {
      await viaPsql?.drop();
      await viaCli?.drop();
    });

    it('installs the same functions and tables as partkit provision --strategy plpgsql', async () => {
      const installed = await psql(name, viaPsql, INSTALL_SCRIPT, { vars: { schema: 'partkit' } });
      expect(installed.exitCode, installed.stderr).toBe(0);
      const provisioned = await runPartkit(['provision', '--strategy', 'plpgsql', '--database-url', viaCli.url]);
      expect(provisioned.exitCode, provisioned.stderr).toBe(0);

      const fromPsql = await kitCatalog(viaPsql);
      const fromCli = await kitCatalog(viaCli);
      expect(fromPsql.functions.map((f) => f.name)).toEqual(
        expect.arrayContaining(['create_monthly_partition', 'ensure_default_partition', 'run_maintenance', 'add_month_partition', 'archive_partition', 'drop_exported_archive', 'purge_archived_months', 'archive_late_rows', 'run_maintenance_proc', 'drain_step', 'table_metrics', 'uuid_v7_at', 'uuid_v7_floor', 'derive_id', 'use_time_ordered_ids', 'add_id_range', 'add_id_ranges']),
      );
      expect(fromPsql.functions).toHaveLength(48);
      expect(fromPsql.columns.map((c) => c.table)).toEqual(expect.arrayContaining(['managed_table', 'maintenance_run', 'maintenance_event', 'migrations', 'archive_export']));
      expect(fromPsql).toEqual(fromCli);

      const migrationRows = 'SELECT id, name, hash FROM partkit.migrations ORDER BY id';
      expect((await viaPsql.query(migrationRows)).rows).toEqual((await viaCli.query(migrationRows)).rows);
      expect(await count(viaPsql, 'SELECT count(*) FROM partkit.migrations')).toBe((await loadMigrationFiles(MIGRATIONS_DIR)).length);
    });

    it('a second psql install does nothing, and partkit provision afterwards does not re-run migrations', async () => {
      const stamp = 'SELECT id, name, hash, executed_at::text AS at FROM partkit.migrations ORDER BY id';
      const before = (await viaPsql.query(stamp)).rows;
      const again = await psql(name, viaPsql, INSTALL_SCRIPT, { vars: { schema: 'partkit' } });
      expect(again.exitCode, again.stderr).toBe(0);
      expect((await viaPsql.query(stamp)).rows).toEqual(before);
      const oid = 'SELECT oid::int AS oid FROM pg_proc WHERE proname = $1 AND pronamespace = $2::regnamespace';
      const runMaintenanceOid = (await viaPsql.query(oid, ['run_maintenance', 'partkit'])).rows[0]!.oid as number;

      const result = await runPartkit(['provision', '--json', '--strategy', 'plpgsql', '--database-url', viaPsql.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      const steps = (JSON.parse(result.stdout) as { steps: string[] }).steps;
      expect(steps.length).toBeGreaterThan(0); // the tables are new here
      expect(steps.filter((step) => /install partkit's objects/.test(step))).toEqual([]);
      expect((await viaPsql.query(stamp)).rows).toEqual(before);
      expect((await viaPsql.query(oid, ['run_maintenance', 'partkit'])).rows[0]!.oid).toBe(runMaintenanceOid);

      // And the other way round: the psql script skips everything the CLI installed.
      const onCli = await psql(name, viaCli, INSTALL_SCRIPT, { vars: { schema: 'partkit' } });
      expect(onCli.exitCode, onCli.stderr).toBe(0);
      expect(await count(viaCli, 'SELECT count(*) FROM partkit.migrations')).toBe((await loadMigrationFiles(MIGRATIONS_DIR)).length);
      expect(await kitCatalog(viaPsql)).toEqual(await kitCatalog(viaCli));
    });

    it('the psql-installed kit works: maintain runs on it', async () => {
      const result = await runPartkit(['maintain', '--json', '--database-url', viaPsql.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, failed: 0 });
    });
  });
}
