import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveConnection } from '../src/core/connection.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../src/core/db.js';
import { silentLogger } from '../src/core/log.js';
import { renderPlan, sqlStep, type Plan } from '../src/core/plan.js';
import { createTestDatabase, describeTarget, psql, runPartkit, type TestDatabase } from './helpers/targets.js';

describeTarget('bare18', 'the executor: locks, retries, application_name', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    const result = await runPartkit(['provision', '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(0);
  });
  afterAll(() => db?.drop());

  it('a table another session locks against DDL gives exit 5 after retries, and nothing half-done; it succeeds once the lock is gone', async () => {
    const { rows } = await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.messages'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
        ORDER BY pg_get_expr(c.relpartbound, c.oid) DESC LIMIT 1`,
    );
    const newest = rows[0]!.name;
    await db.query(`DROP TABLE "${newest}"`);

    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      // SHARE lets partkit read the catalog but blocks the DDL of its steps.
      await holder.query('LOCK TABLE public.messages IN SHARE MODE');
      const blocked = await runPartkit(['provision', '--lock-timeout', '100ms', '--database-url', db.url]);
      expect(blocked.exitCode).toBe(5);
      expect(blocked.stderr).toMatch(/Could not take the locks for "create partition public\.messages/);
      expect(blocked.stderr).toMatch(/lock busy \(55P03\), retrying/);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const { rows: missing } = await db.query(`SELECT to_regclass($1) AS t`, [`public."${newest}"`]);
    expect(missing[0]!.t).toBeNull();

    const exclusive = new pg.Client({ connectionString: db.url });
    await exclusive.connect();
    try {
      await exclusive.query('BEGIN');
      await exclusive.query('LOCK TABLE public.messages IN ACCESS EXCLUSIVE MODE');
      const inspecting = await runPartkit(['provision', '--lock-timeout', '100ms', '--database-url', db.url]);
      expect(inspecting.exitCode).toBe(5);
      expect(inspecting.stderr).toMatch(/Another session holds a lock partkit needs to inspect the tables/);
    } finally {
      await exclusive.query('ROLLBACK');
      await exclusive.end();
    }

    const retried = await runPartkit(['provision', '--json', '--database-url', db.url]);
    expect(retried.exitCode, retried.stderr).toBe(0);
    expect(JSON.parse(retried.stdout).changes).toBe(1);
    const { rows: back } = await db.query(`SELECT to_regclass($1) AS t`, [`public."${newest}"`]);
    expect(back[0]!.t).not.toBeNull();
  });

  it('rejects a --lock-timeout that is not a duration with exit 2', async () => {
    const result = await runPartkit(['provision', '--lock-timeout', '5 parsecs', '--database-url', db.url]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--lock-timeout "5 parsecs" is not a duration/);
  });

  it('takes turns with another run through the advisory lock, and identifies itself as application_name = partkit', async () => {
    // Hold partkit's run lock ('part', 'kit') as another run would: provision must wait for it, visibly.
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1, $2)', [0x70617274, 0x6b6974]);
      const waiting = runPartkit(['provision', '--json', '--database-url', db.url]);
      // Release the lock only once partkit says it waits for it; meanwhile it shows in pg_stat_activity.
      let said = '';
      await new Promise<void>((resolve, reject) => {
        waiting.stderr!.on('data', (chunk: Buffer) => {
          said += chunk.toString();
          if (said.includes('Waiting for another partkit run on this database to finish')) resolve();
        });
        waiting.once('exit', () => reject(new Error(`provision exited without waiting for the lock: ${said}`)));
      });
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'partkit' AND datname = current_database()`);
      expect(rows[0]!.n).toBeGreaterThan(0);
      await other.query('SELECT pg_advisory_unlock($1, $2)', [0x70617274, 0x6b6974]);
      const result = await waiting;
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/Waiting for another partkit run on this database to finish/);
      expect(JSON.parse(result.stdout).changes).toBe(0);
    } finally {
      await other.end();
    }
  });
});

describeTarget('bare18', 'the executor and --dry-run run the same units', () => {
  let applied: TestDatabase;
  let scripted: TestDatabase;
  beforeAll(async () => {
    [applied, scripted] = await Promise.all([createTestDatabase('bare18'), createTestDatabase('bare18')]);
    for (const db of [applied, scripted]) await db.query(`CREATE TABLE "Ran Steps" (step text, zone text)`);
  });
  afterAll(async () => {
    await applied?.drop();
    await scripted?.drop();
  });

  /** Two non-transactional steps in one group (the first in another zone), then a plain step. */
  const plan: Plan = {
    steps: [
      sqlStep('first', `INSERT INTO "Ran Steps" VALUES ('first', current_setting('TimeZone'))`, { transaction: false, group: 'g', timeZone: 'Asia/Tokyo' }),
      sqlStep('second', `INSERT INTO "Ran Steps" VALUES ('second', current_setting('TimeZone'))`, { transaction: false, group: 'g' }),
      sqlStep('third', `INSERT INTO "Ran Steps" VALUES ('third', current_setting('TimeZone'))`, { group: 'g' }),
    ],
  };
  const ran = async (db: TestDatabase) => (await db.query<{ step: string; zone: string }>(`SELECT step, zone FROM "Ran Steps" ORDER BY step`)).rows;

  it('applies every step of a group of non-transactional steps, resetting the zone after the one that set it', async () => {
    const db = await Database.connect(resolveConnection(applied.url, {}), { ...DEFAULT_EXECUTOR_OPTIONS, log: silentLogger });
    let sessionZone: string;
    try {
      [{ zone: sessionZone }] = await db.query<{ zone: string }>(`SELECT current_setting('TimeZone') AS zone`) as [{ zone: string }];
      const results = await db.applyPlan(plan);
      expect(results.map((result) => result.step.description)).toEqual(['first', 'second', 'third']);
    } finally {
      await db.close();
    }
    expect(sessionZone).not.toBe('Asia/Tokyo');
    expect(await ran(applied)).toEqual([
      { step: 'first', zone: 'Asia/Tokyo' },
      { step: 'second', zone: sessionZone },
      { step: 'third', zone: sessionZone },
    ]);
  });

  it('a description with newlines stays inside its comment when psql runs the script', async () => {
    await scripted.query(`CREATE TABLE "Victim" (x int)`);
    const evil: Plan = { steps: [sqlStep('job x\nDROP TABLE "Victim";\n--', 'SELECT 1'), sqlStep('cr\rDROP TABLE "Victim";', 'VACUUM "Victim"', { transaction: false })] };
    const result = await psql('bare18', scripted, renderPlan(evil, { appDatabase: scripted.name, lockTimeout: '5s' }));
    expect(result.exitCode, result.stderr).toBe(0);
    expect((await scripted.query(`SELECT to_regclass('"Victim"') IS NOT NULL AS kept`)).rows[0]!.kept).toBe(true);
  });

  it('the rendered script, run by psql, does exactly what apply did', async () => {
    const result = await psql('bare18', scripted, renderPlan(plan, { appDatabase: scripted.name, lockTimeout: '5s' }));
    expect(result.exitCode, result.stderr).toBe(0);
    const [{ zone: psqlZone }] = (await scripted.query<{ zone: string }>(`SELECT current_setting('TimeZone') AS zone`)).rows as [{ zone: string }];
    expect(await ran(scripted)).toEqual([
      { step: 'first', zone: 'Asia/Tokyo' },
      { step: 'second', zone: psqlZone },
      { step: 'third', zone: psqlZone },
    ]);
  });
});
