/**
 * The programmatic API (src/index.ts) in process, against a real server (pg17-partman5): one
 * options object per call; the app's own pg.Client and pg.Pool borrowed and given back as they
 * were (still connected, the pool's client released, the session's settings unchanged); config as
 * an object; dryRun changing nothing; errors typed with exitCode and hint; an aborted signal
 * stopping the call (before it connects, and a statement in progress cancelled on the server); onEvent hearing the config and the steps; a plan rendered and run by a tool;
 * and nothing written to stdout or stderr by the library itself.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as api from '../src/index.js';
import { ConfigError, ConnectionError, doctor, InterruptedError, maintain, MissingCapabilityError, openSession, PartkitError, planProvision, provision, renderPlan, run, status, verify, type PartkitEvent } from '../src/index.js';
import { createTestDatabase, describeTarget, runPartkit, type TestDatabase } from './helpers/targets.js';

/** Commands only for a person at a terminal: each brings its own throwaway server and prints for the reader. */
const CLI_ONLY = new Set(['demo', 'bench']);

/** The commands a help text lists ("  partkit migrate prep <table>   Phase 1: ..." gives "migrate prep"). */
function listedCommands(help: string): string[] {
  const section = help.split('\nCommands:\n')[1]?.split('\n\n')[0] ?? '';
  return [...section.matchAll(/^ {2}partkit ([a-z][a-z ]*?)(?: <[^>]+>)*(?: {2,}|$)/gm)].map((match) => match[1]!);
}

describe('the API has a function for every command of the CLI', () => {
  it('named as the command in camelCase (migrate prep: migratePrep), demo and bench excepted', async () => {
    const top = listedCommands((await runPartkit(['--help'])).stdout);
    expect(top).toContain('migrate');
    const commands: string[] = [];
    for (const command of top.filter((name) => !CLI_ONLY.has(name))) {
      const sub = listedCommands((await runPartkit([command, '--help'])).stdout);
      commands.push(...(sub.length > 0 ? sub : [command]));
    }
    expect(commands).toEqual(expect.arrayContaining(['doctor', 'migrate prep', 'migrate status', 'archive restore', 'config show']));
    const missing = commands.map((command) => command.replace(/ ([a-z])/g, (_, letter: string) => letter.toUpperCase())).filter((name) => typeof (api as Record<string, unknown>)[name] !== 'function');
    expect(missing).toEqual([]);
  });
});

const CONFIG = { tables: [{ name: 'public.messages' }], defaults: { timeZone: 'Asia/Tokyo' } };

describeTarget('pg17-partman5', 'the API, in process (pg17-partman5)', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let pool: pg.Pool;
  const written: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`SET lock_timeout = '9s'; SET TimeZone = 'America/Chicago'; SET search_path = app, public`);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    // The library writes nothing of its own: every write during these tests is a failure.
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
    }
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await client?.end();
    await pool?.end();
    await db?.drop();
  });

  it('dryRun on the app\'s client plans, changes nothing, and gives the client back as it was', async () => {
    const events: PartkitEvent[] = [];
    const planned = await provision({ client, config: CONFIG, dryRun: true, scheduler: 'external', onEvent: (event) => events.push(event) });
    expect(planned.dryRun).toBe(true);
    expect(planned.changes).toBeGreaterThan(3);
    expect(planned.sql).toContain('create_parent');
    expect(events[0]).toEqual({ type: 'config', origin: { from: 'code', path: null, description: '(given in code)' } });
    expect((await client.query(`SELECT to_regnamespace('partkit') IS NULL AS none`)).rows[0].none).toBe(true);
    const { rows } = await client.query<{ s: string }>(`SELECT current_setting('lock_timeout') || '|' || current_setting('TimeZone') || '|' || current_setting('search_path') AS s`);
    expect(rows[0]!.s).toBe('9s|America/Chicago|app, public');
  });

  it('provision through the app\'s pool releases its client; verify and status agree; a second provision plans nothing', async () => {
    const events: PartkitEvent[] = [];
    const applied = await provision({ pool, config: CONFIG, scheduler: 'external', onEvent: (event) => events.push(event) });
    expect(applied.changes).toBeGreaterThan(3);
    expect(events.some((event) => event.type === 'log' && event.message.startsWith('• '))).toBe(true);
    expect(pool.totalCount - pool.idleCount).toBe(0);
    const checked = await verify({ pool, config: CONFIG, scheduler: 'external' });
    expect(checked.ok, JSON.stringify(checked.checks.filter((check) => !check.ok))).toBe(true);
    const shown = await status({ databaseUrl: db.url, config: CONFIG, scheduler: 'external' });
    expect(shown.tables.map((table) => table.table)).toEqual(['public.messages']);
    expect((await provision({ client, config: CONFIG, scheduler: 'external' })).changes).toBe(0);
    expect((await client.query(`SELECT current_setting('TimeZone') AS zone`)).rows[0].zone).toBe('America/Chicago');
  });

  it('a plan is a value a tool renders and runs on a session', async () => {
    const { plan, database, lockTimeout } = await planProvision({ databaseUrl: db.url, config: { ...CONFIG, tables: [...CONFIG.tables, { name: 'public.execution_logs' }] }, scheduler: 'external' });
    expect(plan.steps.length).toBeGreaterThan(0);
    expect(renderPlan(plan, { appDatabase: database, lockTimeout })).toMatch(/^-- partkit plan: \d+ step\(s\) for database /);
    const session = await openSession({ databaseUrl: db.url });
    try {
      const outcome = await run(session.database, plan, { dryRun: false });
      expect(outcome.dryRun).toBe(false);
    } finally {
      await session.close();
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM partkit.managed_table`)).rows[0]!.n).toBe(2);
  });

  it('errors are PartkitErrors with the exit code and a hint: a bad config (2), an unreachable server (3), no kit (4), two connections given (2)', async () => {
    const bad = await provision({ databaseUrl: db.url, config: { defaults: { premake: 0 } } }).catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as ConfigError).exitCode).toBe(2);
    expect((bad as ConfigError).message).toMatch(/field "defaults\.premake"/);
    const unreachable = await doctor({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none' }).catch((error: unknown) => error);
    expect(unreachable).toBeInstanceOf(ConnectionError);
    expect((unreachable as ConnectionError).exitCode).toBe(3);
    expect((unreachable as ConnectionError).hint).toBeTruthy();
    const noKit = await maintain({ pool, config: { ...CONFIG, kitSchema: 'no_kit_here' } }).catch((error: unknown) => error);
    expect(noKit).toBeInstanceOf(MissingCapabilityError);
    expect((noKit as MissingCapabilityError).exitCode).toBe(4);
    expect((noKit as MissingCapabilityError).hint).toMatch(/partkit provision/);
    const both = await doctor({ databaseUrl: db.url, pool }).catch((error: unknown) => error);
    expect(both).toBeInstanceOf(PartkitError);
    expect((both as PartkitError).exitCode).toBe(2);
  });

  it('an aborted signal stops the call before it connects: InterruptedError, exit code 130', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deploy cancelled'));
    const stopped = await provision({ pool, config: CONFIG, signal: controller.signal }).catch((error: unknown) => error);
    expect(stopped).toBeInstanceOf(InterruptedError);
    expect((stopped as InterruptedError).exitCode).toBe(130);
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('a signal aborted while a statement waits on the app\'s client cancels it on the server; the client comes back as it was', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      // The table and its partitions (LOCK TABLE takes the descendants too).
      await holder.query('LOCK TABLE public.messages IN ACCESS EXCLUSIVE MODE');
      const waiting = async () => (await holder.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0]!.n;
      const controller = new AbortController();
      const started = Date.now();
      const running = maintain({ client, config: CONFIG, lockTimeout: '60s', signal: controller.signal }).catch((error: unknown) => error);
      // Wait until partkit's statement is queued behind the lock, then stop it.
      await expect.poll(async () => await waiting(), { timeout: 20_000 }).toBe(1);
      controller.abort('deploy cancelled');
      const stopped = await running;
      expect(stopped).toBeInstanceOf(InterruptedError);
      expect((stopped as InterruptedError).exitCode).toBe(130);
      // Cancelled on the server, not waited out: far sooner than the 60 s lock_timeout (bounded generously: the machine is shared).
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(await waiting()).toBe(0);
      const { rows } = await client.query<{ s: string }>(`SELECT current_setting('lock_timeout') || '|' || current_setting('TimeZone') || '|' || current_setting('default_transaction_read_only') AS s`);
      expect(rows[0]!.s).toBe('9s|America/Chicago|off');
    } finally {
      await holder.end();
    }
  });

  it('a preview runs read-only on the app\'s pool and gives its client back writable', async () => {
    await verify({ pool, config: CONFIG, scheduler: 'external' });
    // Both of the pool's clients (max 2), whichever verify borrowed.
    const lent = [await pool.connect(), await pool.connect()];
    try {
      for (const one of lent) expect((await one.query(`SELECT current_setting('default_transaction_read_only') AS ro`)).rows[0].ro).toBe('off');
    } finally {
      for (const one of lent) one.release();
    }
  });

  it('wrote nothing to stdout or stderr', () => {
    expect(written).toEqual([]);
  });
});
