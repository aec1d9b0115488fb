/**
 * `distribution` that cannot be honoured is refused before anything changes: a column the table
 * lacks, a server without Citus, a primary key without the distribution column (with the DDL that
 * fixes it; once it is run, provision distributes the table), and a migrate prep of a table with a
 * trigger or a foreign key to a local table. The table name has a space and capitals, the column too.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configFiles } from './helpers/cli.js';
import { createCitusDatabase, describeCitus, distributionOf, type CitusDatabase } from './helpers/citus.js';
import { createTestDatabase, describeTarget, runPartkit, type TestDatabase } from './helpers/targets.js';

const { write: writeConfig } = configFiles('citus-refusals');

/** What provision would have created or registered: none of it may exist after a refusal. */
const FOOTPRINT = `SELECT (SELECT count(*)::int FROM pg_namespace WHERE nspname IN ('partkit', 'partman', 'partkit_archive')) AS schemas,
                          (SELECT count(*)::int FROM pg_class WHERE relname IN ('messages', 'execution_logs', 'api_key_logs', 'usage_records')) AS tables,
                          (SELECT count(*)::int FROM pg_inherits) AS partitions`;

describeCitus('distribution refused on Citus, nothing changed', () => {
  let db: CitusDatabase;
  beforeAll(async () => {
    db = await createCitusDatabase();
    await db.query(`CREATE TABLE public."Chat Log" (id bigint GENERATED ALWAYS AS IDENTITY, "Session Id" uuid NOT NULL, body text, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
  });
  afterAll(() => db?.drop());

  const distributedCount = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_dist_partition')).rows[0]!.n;

  it('a distribution column the template lacks: exit 2, naming the columns it has', async () => {
    const before = (await db.query(FOOTPRINT)).rows[0];
    const config = writeConfig('no-column-template', { tables: [{ name: 'public.messages', distribution: { column: 'tenant_id' } }] });
    const result = await runPartkit(['provision', '--config', config, '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/tables\[0\]\.distribution\.column.*no column "tenant_id".*session_id/);
    expect((await db.query(FOOTPRINT)).rows[0]).toEqual(before);
    expect(await distributedCount()).toBe(0);
  });

  it('a distribution column an existing table lacks: exit 4', async () => {
    const before = (await db.query(FOOTPRINT)).rows[0];
    const config = writeConfig('no-column-table', { defaults: { distribution: { column: 'Tenant Id' } }, tables: [{ name: 'public."Chat Log"' }] });
    const result = await runPartkit(['provision', '--config', config, '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(4);
    expect(result.stderr).toMatch(/public\."Chat Log" has no column "Tenant Id" to distribute by \(field "defaults\.distribution\.column"/);
    expect((await db.query(FOOTPRINT)).rows[0]).toEqual(before);
    expect(await distributedCount()).toBe(0);
  });

  it('a primary key without the distribution column: exit 4 with the exact DDL; after running it, provision distributes the table', async () => {
    const before = (await db.query(FOOTPRINT)).rows[0];
    const config = writeConfig('pk', { tables: [{ name: 'public."Chat Log"', distribution: { column: 'Session Id' } }] });
    const result = await runPartkit(['provision', '--config', config, '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(4);
    const ddl = 'ALTER TABLE "public"."Chat Log" DROP CONSTRAINT "Chat Log_pkey", ADD PRIMARY KEY ("id", "created_at", "Session Id");';
    expect(result.stderr).toContain(ddl);
    expect((await db.query(FOOTPRINT)).rows[0]).toEqual(before);
    expect(await distributedCount()).toBe(0);

    await db.query(ddl);
    const fixed = await runPartkit(['provision', '--json', '--config', config, '--database-url', db.url]);
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    const distribution = await distributionOf(db, 'public."Chat Log"');
    expect(distribution.column).toBe('Session Id');
    expect(distribution.months).toBeGreaterThanOrEqual(5);
    const verified = await runPartkit(['verify', '--config', config, '--database-url', db.url]);
    expect(verified.exitCode, verified.stdout).toBe(0);
    const again = await runPartkit(['provision', '--json', '--config', config, '--database-url', db.url]);
    expect((JSON.parse(again.stdout) as { changes: number }).changes).toBe(0);
  });

  it('migrate prep of a table Citus cannot distribute as it is (a foreign key to a local table, a trigger): exit 4 each, nothing changed', async () => {
    await db.query(`CREATE TABLE public."Sessions 'x'" (id uuid PRIMARY KEY)`);
    await db.query(
      `CREATE TABLE public."Old Log" (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "Session Id" uuid NOT NULL REFERENCES public."Sessions 'x'" (id), body text, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    await db.query(`CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.body := coalesce(NEW.body, ''); RETURN NEW; END$$`);
    await db.query(`CREATE TRIGGER "Touch It" BEFORE INSERT ON public."Old Log" FOR EACH ROW EXECUTE FUNCTION public.touch()`);
    const config = writeConfig('migrate-refusals', { tables: [{ name: 'public."Old Log"', distribution: { column: 'Session Id' } }] });
    const footprint = async () => (await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'Old Log%'`)).rows[0];
    const before = await footprint();
    const distributedBefore = await distributedCount();
    const prep = () => runPartkit(['migrate', 'prep', 'public."Old Log"', '--config', config, '--database-url', db.url]);

    const withForeignKey = await prep();
    expect(withForeignKey.exitCode, withForeignKey.stderr).toBe(4);
    expect(withForeignKey.stderr).toMatch(/has foreign keys to other tables, and Citus allows a distributed table's foreign keys only to reference tables/);
    expect(withForeignKey.stderr).toMatch(/nothing was changed/);
    expect(await footprint()).toEqual(before);
    expect(await distributedCount()).toBe(distributedBefore);

    await db.query(`ALTER TABLE public."Old Log" DROP CONSTRAINT "Old Log_Session Id_fkey"`);
    const withTrigger = await prep();
    expect(withTrigger.exitCode, withTrigger.stderr).toBe(4);
    expect(withTrigger.stderr).toMatch(/has triggers \(Touch It\); Citus runs a distributed table's triggers on each shard/);
    expect(await footprint()).toEqual(before);
    expect(await distributedCount()).toBe(distributedBefore);

    await db.query(`DROP TRIGGER "Touch It" ON public."Old Log"`);
    const prepared = await runPartkit(['migrate', 'prep', 'public."Old Log"', '--json', '--config', config, '--database-url', db.url]);
    expect(prepared.exitCode, prepared.stderr).toBe(0);
    expect((await distributionOf(db, 'public."Old Log_partitioned"')).column).toBe('Session Id');
  });
});

describeTarget('pg17-partman5', 'distribution on a server without Citus', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5');
  });
  afterAll(() => db?.drop());

  it('is refused with exit 4 and the reason, nothing changed', async () => {
    const before = (await db.query(FOOTPRINT)).rows[0];
    const config = writeConfig('non-citus', { tables: [{ name: 'public.messages', distribution: { column: 'session_id' } }] });
    const result = await runPartkit(['provision', '--config', config, '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(4);
    expect(result.stderr).toMatch(/has no citus extension/);
    expect(result.stderr).toMatch(/Nothing was changed/);
    expect((await db.query(FOOTPRINT)).rows[0]).toEqual(before);
  });

  it('migrate prep with a distribution is refused with exit 4, nothing changed', async () => {
    await db.query(`CREATE TABLE public."Chat Log" (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "Session Id" uuid NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
    const config = writeConfig('non-citus-migrate', { tables: [{ name: 'public."Chat Log"', distribution: { column: 'Session Id' } }] });
    const result = await runPartkit(['migrate', 'prep', 'public."Chat Log"', '--config', config, '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(4);
    expect(result.stderr).toMatch(/has no citus extension \(nothing was changed\)/);
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'Chat Log%' AND relname <> 'Chat Log' AND relname <> 'Chat Log_pkey'`);
    expect(rows[0]!.n).toBe(0);
  });
});
