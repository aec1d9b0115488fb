import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveConnection } from '../src/core/connection.js';
import { reportError } from '../src/core/context.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS, StepFailedError } from '../src/core/db.js';
import { CheckFailedError, ExitCode, InterruptedError } from '../src/core/errors.js';
import { runPhases, type Phase } from '../src/core/runner.js';
import { createLogger, silentLogger } from '../src/core/log.js';
import { renderPlan, sqlStep, type Plan } from '../src/core/plan.js';
import { createTestDatabase, describeTarget, psql, runPartkit, spawnPartkit, type TestDatabase } from './helpers/targets.js';

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

  it('takes turns with another run through the advisory lock, and identifies itself as application_name partkit <command>', async () => {
    // Hold partkit's run lock ('part', 'kit') as another run would: provision must wait for it, visibly.
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1, $2)', [0x70617274, 0x6b6974]);
      const waiting = spawnPartkit(['provision', '--json', '--database-url', db.url]);
      // Release the lock only once partkit says it waits for it; meanwhile it shows in pg_stat_activity.
      let said = '';
      await new Promise<void>((resolve, reject) => {
        waiting.stderr!.on('data', (chunk: Buffer) => {
          said += chunk.toString();
          if (said.includes('Waiting for another partkit run on this database to finish')) resolve();
        });
        waiting.once('exit', () => reject(new Error(`provision exited without waiting for the lock: ${said}`)));
      });
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'partkit provision' AND datname = current_database()`);
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

describeTarget('bare18', 'exit codes: one SQLSTATE table for steps, reads and the CLI', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    const result = await runPartkit(['provision', '--scheduler', 'external', '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(0);
  });
  afterAll(() => db?.drop());

  /** partkit's own session in this database (application_name partkit <command>). */
  async function partkitPids(): Promise<number[]> {
    const { rows } = await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'partkit%' AND datname = current_database()`);
    return rows.map((row) => row.pid);
  }

  it('a backend terminated while partkit waits for the run lock exits 3 (connection), not 5', async () => {
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1, $2)', [0x70617274, 0x6b6974]);
      const waiting = spawnPartkit(['maintain', '--database-url', db.url]);
      let said = '';
      await new Promise<void>((resolve, reject) => {
        waiting.stderr!.on('data', (chunk: Buffer) => {
          said += chunk.toString();
          if (said.includes('Waiting for another partkit run on this database to finish')) resolve();
        });
        waiting.once('exit', () => reject(new Error(`maintain exited without waiting for the lock: ${said}`)));
      });
      const pids = await partkitPids();
      expect(pids.length).toBeGreaterThan(0);
      for (const pid of pids) await db.query('SELECT pg_terminate_backend($1)', [pid]);
      const result = await waiting;
      expect(result.exitCode, result.stderr).toBe(3);
      expect(result.stderr).toMatch(/Lost the connection to/);
    } finally {
      await other.end();
    }
  });

  it('a backend terminated in the middle of a step exits 3 (connection), and the step is rolled back', async () => {
    // A missing month gives provision a step; a SHARE lock lets it inspect but makes that step wait: terminate it there.
    const { rows: newest } = await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.messages'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
        ORDER BY pg_get_expr(c.relpartbound, c.oid) DESC LIMIT 1`,
    );
    await db.query(`DROP TABLE "${newest[0]!.name}"`);
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE public.messages IN SHARE MODE');
      const running = spawnPartkit(['provision', '--scheduler', 'external', '--lock-timeout', '60s', '--database-url', db.url]);
      let pid: number | undefined;
      for (let i = 0; i < 200 && pid === undefined; i += 1) {
        const { rows } = await db.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'partkit%' AND datname = current_database() AND wait_event_type = 'Lock'`,
        );
        pid = rows[0]?.pid;
        if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(pid, 'partkit never waited on the table lock').toBeDefined();
      await db.query('SELECT pg_terminate_backend($1)', [pid]);
      const result = await running;
      expect(result.exitCode, result.stderr).toBe(3);
      expect(result.stderr).toMatch(/SQLSTATE 57P01|Lost the connection/);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const { rows: back } = await db.query(`SELECT to_regclass($1) AS t`, [`public."${newest[0]!.name}"`]);
    expect(back[0]!.t).toBeNull();
  });

  it('a step that fails with a data exception (22xxx) or an internal error (XX000) is reported as a bug, exit 6', async () => {
    const cases: [string, number, RegExp][] = [
      ['22012', 6, /bug in partkit or the server, please report it/],
      ['XX000', 6, /bug in partkit or the server, please report it/],
      ['42501', 4, /grant rights or install an extension/],
      ['23505', 5, /fix the cause and run again/],
      ['57P01', 3, /session was terminated or the server went away/],
    ];
    const database = await Database.connect(resolveConnection(db.url), { ...DEFAULT_EXECUTOR_OPTIONS, retries: 1, log: createLogger({ verbose: false, write: (line) => process.stderr.write(`${line}\n`) }) });
    try {
      for (const [state, exitCode, hint] of cases) {
        const step = sqlStep(`raise ${state}`, `DO $$ BEGIN RAISE EXCEPTION 'raised %', '${state}' USING ERRCODE = '${state}'; END $$`);
        const error = await database.applyPlan({ steps: [step] }).then(() => undefined, (caught: unknown) => caught);
        expect(error, state).toBeInstanceOf(StepFailedError);
        expect((error as StepFailedError).exitCode, state).toBe(exitCode);
        expect((error as StepFailedError).hint, state).toMatch(hint);
      }
      const divided = await database.applyPlan({ steps: [sqlStep('divide by zero', 'SELECT 1 / 0')] }).then(() => undefined, (caught: unknown) => caught);
      expect((divided as StepFailedError).exitCode).toBe(6);
      // The same table decides for a read.
      const read = await database.query('SELECT 1 / 0').then(() => undefined, (caught: unknown) => caught);
      expect(reportError(read, false)).toBe(6);
    } finally {
      await database.close();
    }
  });

  it('a JavaScript error that is not a PartkitError exits 6 (internal), not 1 (a check failed)', () => {
    expect(ExitCode.internal).toBe(6);
    expect(reportError(new TypeError("Cannot read properties of undefined (reading 'rows')"), false)).toBe(6);
    expect(reportError(new CheckFailedError('a check failed'), false)).toBe(1);
    // A failed system call is the machine's state, not a bug.
    const missingFile = (() => {
      try {
        readFileSync(path.join(tmpdir(), 'partkit-no-such-dir', 'file'));
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(reportError(missingFile, false)).toBe(5);
  });
});

describeTarget('bare18', 'runPhases: each round read afresh, planned, applied, until the phase is done', () => {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await createTestDatabase('bare18');
  });
  afterAll(() => target?.drop());

  /** A queue of `rows` ids; a phase moves up to 3 of them per round to "Moved", reading how many are left before each round. */
  async function queue(rows: number) {
    await target.query(`DROP TABLE IF EXISTS "Queue", "Moved"; CREATE TABLE "Queue" (id int); CREATE TABLE "Moved" (id int, round int); INSERT INTO "Queue" SELECT generate_series(1, ${rows})`);
    const seen: number[] = [];
    const moved: number[] = [];
    let failOnce = false;
    const phase: Phase<number> = {
      description: 'move the queue',
      async read(db) {
        const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Queue"`);
        seen.push(row!.n);
        return row!.n;
      },
      plan: (left, round) =>
        left === 0
          ? null
          : {
              steps: [
                ...(failOnce ? [sqlStep('fail', 'SELECT 1 / 0')] : []),
                sqlStep(`move 3 (round ${round + 1})`, `WITH m AS (DELETE FROM "Queue" WHERE id IN (SELECT id FROM "Queue" ORDER BY id LIMIT 3) RETURNING id) INSERT INTO "Moved" SELECT id, $1::int FROM m RETURNING id`, { params: [round + 1], id: 'move' }),
              ],
            },
      later: (left) => `rounds of 3 until none of the ${left} is left`,
      applied: (results) => moved.push(results.find((r) => r.step.id === 'move')!.rows.length),
      replan: () => {
        const retry = failOnce;
        failOnce = false;
        return retry;
      },
    };
    return { phase, seen, moved, failNext: () => (failOnce = true) };
  }
  const connect = (signal?: AbortSignal) => Database.connect(resolveConnection(target.url, {}), { ...DEFAULT_EXECUTOR_OPTIONS, log: silentLogger, signal });

  it('a dry run reads once and prints the first round and the note, changing nothing; a run moves everything, each round planned from a fresh read', async () => {
    const { phase, seen, moved } = await queue(10);
    const db = await connect();
    try {
      const dry = await runPhases(db, [phase], { dryRun: true });
      expect(dry.dryRun && dry.sql).toMatch(/WITH m AS \(DELETE FROM "Queue"[^\n]*RETURNING id;\nCOMMIT;\n\n-- Later rounds are not printed[^\n]*\n-- move the queue: rounds of 3 until none of the 10 is left\n$/);
      expect(seen).toEqual([10]);
      const outcome = await runPhases(db, [phase], { dryRun: false });
      expect(outcome).toEqual({ dryRun: false, rounds: [4] });
    } finally {
      await db.close();
    }
    expect(seen).toEqual([10, 10, 7, 4, 1, 0]);
    expect(moved).toEqual([3, 3, 3, 1]);
    expect((await target.query(`SELECT round, count(*)::int AS n FROM "Moved" GROUP BY round ORDER BY round`)).rows).toEqual([
      { round: 1, n: 3 },
      { round: 2, n: 3 },
      { round: 3, n: 3 },
      { round: 4, n: 1 },
    ]);
  });

  it('a round the phase can plan around is read and planned again once; a failure it cannot is the step\'s error, with the rounds before it kept', async () => {
    const { phase, seen, failNext } = await queue(4);
    const db = await connect();
    try {
      failNext();
      expect(await runPhases(db, [phase], { dryRun: false })).toEqual({ dryRun: false, rounds: [2] });
      expect(seen).toEqual([4, 4, 1, 0]);
      await target.query(`INSERT INTO "Queue" SELECT generate_series(1, 4)`);
      const stubborn: Phase<number> = { ...phase, plan: (left, round) => (round === 1 ? { steps: [sqlStep('fail', 'SELECT 1 / 0')] } : phase.plan(left, round)), replan: () => true };
      await expect(runPhases(db, [stubborn], { dryRun: false })).rejects.toBeInstanceOf(StepFailedError);
    } finally {
      await db.close();
    }
    expect((await target.query(`SELECT count(*)::int AS n FROM "Queue"`)).rows[0]!.n).toBe(1);
  });

  it('stops between rounds when the run is aborted (InterruptedError), keeping the rounds applied', async () => {
    const { phase } = await queue(9);
    const controller = new AbortController();
    const db = await connect(controller.signal);
    try {
      const slow: Phase<number> = { ...phase, pauseMs: 60_000, applied: () => controller.abort(new Error('stop')) };
      const started = Date.now();
      await expect(runPhases(db, [slow], { dryRun: false })).rejects.toBeInstanceOf(InterruptedError);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await db.close();
    }
    expect((await target.query(`SELECT count(*)::int AS n FROM "Queue"`)).rows[0]!.n).toBe(6);
  });
});
