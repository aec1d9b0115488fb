/**
 * Short lock waits (issue 20, part 2). A long reading transaction holds ACCESS SHARE on `messages`
 * while maintain (and partition create) must take ACCESS EXCLUSIVE on it to make a missing month.
 * A DDL that waits for its lock blocks every later query of the table (the lock queue), so a writer
 * of current rows stalls for as long as partkit waits: partkit must wait at most lock_timeout
 * (default 500ms) per attempt, back off, retry a bounded number of times, then give up with exit 5,
 * naming the reader (pid, application_name), with nothing half-done. Once the reader is gone the
 * same command succeeds. The pg_cron job runs the kit's procedure without partkit around it: the
 * procedure keeps the same bound itself (its lock_timeout defaults to 500ms, 8 attempts). On
 * pg_partman 4.7, 5.2 and the fallback.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_EXECUTOR_OPTIONS } from '../src/core/db.js';
import { configFiles, partkit } from './helpers/cli.js';
import { attachedPartitions, createTestDatabase, describeTarget, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

const TARGETS: { name: TargetName; strategy: 'partman' | 'plpgsql' }[] = [
  { name: 'pg15-partman4', strategy: 'partman' },
  { name: 'pg17-partman5', strategy: 'partman' },
  { name: 'bare18', strategy: 'plpgsql' },
];

/** The writers' longest statement may not exceed this (the default lock_timeout is 500ms; a 5 s one stalled them 5 s). */
const WRITER_STALL_BOUND_MS = 2000;

interface Writer {
  /** Stops after the statement in flight; the duration of every statement, in ms. */
  stop(): Promise<number[]>;
}

/** A writer of current rows: one INSERT into messages after another, each timed (lock waits included). */
async function startWriter(url: string): Promise<Writer> {
  const client = new pg.Client({ connectionString: url, application_name: 'current-writer' });
  await client.connect();
  await client.query(`SET lock_timeout = '30s'`);
  const durations: number[] = [];
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const started = Date.now();
      await client.query(`INSERT INTO messages (session_id, role, content) VALUES (gen_random_uuid(), 'user', 'current')`);
      durations.push(Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      await client.end();
      return durations;
    },
  };
}

/** A session that read `messages` in a transaction it keeps open: ACCESS SHARE on the parent and every month. */
async function startLongReader(url: string): Promise<{ pid: number; end(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url, application_name: 'long-reader' });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await client.query('BEGIN');
  await client.query('SELECT count(*) FROM messages');
  return {
    pid: rows[0]!.pid,
    async end() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

for (const { name, strategy } of TARGETS) {
  describeTarget(name, `short lock waits behind a long reader on ${name} (${strategy})`, () => {
    let db: TestDatabase;
    let config: string;

    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      config = configFiles('lock-waits').write('partkit', { strategy, tables: [{ name: 'public.messages' }] });
      await partkit(db, ['provision', '--scheduler', 'external'], { config });
    });
    afterAll(() => db?.drop());

    /** The newest month of messages, dropped so that the next maintain must create it (a DDL on the parent). */
    async function dropNewestMonth(): Promise<string> {
      const months = (await attachedPartitions(db, 'public.messages')).filter((partition) => partition.lower !== null);
      const newest = months.at(-1)!;
      await db.query(`DROP TABLE ${newest.schema}."${newest.name}"`);
      return newest.name;
    }

    it(`maintain waits at most lock_timeout (${DEFAULT_EXECUTOR_OPTIONS.lockTimeout}) per attempt, gives up with exit 5 naming the reader, and changes nothing; writers stall about one lock_timeout at most`, async () => {
      const missing = await dropNewestMonth();
      const before = await attachedPartitions(db, 'public.messages');
      const reader = await startLongReader(db.url);
      const writer = await startWriter(db.url);
      let durations: number[];
      let result;
      try {
        await new Promise((resolve) => setTimeout(resolve, 300));
        result = await runPartkit(['maintain', '--lock-retries', '3', '--config', config, '--database-url', db.url]);
        await new Promise((resolve) => setTimeout(resolve, 300));
      } finally {
        durations = await writer.stop();
        await reader.end();
      }
      const longest = Math.max(...durations);
      console.log(`[${name}] maintain behind a long reader: exit ${result.exitCode}; ${durations.length} writer statements, longest ${longest} ms (lock_timeout ${DEFAULT_EXECUTOR_OPTIONS.lockTimeout})`);
      expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(5);
      expect(result.stderr).toMatch(/Maintenance of public\.messages could not take its locks \(3 attempt\(s\), each waiting at most 500ms\)/);
      expect(result.stderr).toContain(`blocked by pid ${reader.pid} (application_name "long-reader"`);
      expect(result.stderr).toMatch(/SELECT count\(\*\) FROM messages/);
      expect(result.stderr).toContain(`SELECT pg_terminate_backend(${reader.pid});`);
      // Nothing half-done: the month is still missing and no other month moved.
      expect(await attachedPartitions(db, 'public.messages')).toEqual(before);
      // The fallback's CREATE TABLE ... PARTITION OF asks for ACCESS EXCLUSIVE on the parent: the
      // writer did queue behind it (the lock queue is real), but never much longer than one
      // lock_timeout. pg_partman attaches (SHARE UPDATE EXCLUSIVE on the parent, ACCESS EXCLUSIVE
      // on the default), which current rows never wait for.
      if (strategy === 'plpgsql') expect(longest).toBeGreaterThanOrEqual(300);
      expect(longest).toBeLessThan(WRITER_STALL_BOUND_MS);

      const again = await partkit(db, ['maintain', '--json'], { config });
      expect(again.json).toMatchObject({ ok: true, failed: 0 });
      expect((await attachedPartitions(db, 'public.messages')).map((partition) => partition.name)).toContain(missing);
    });

    it("the pg_cron job's command (the procedure with its defaults) waits at most 500ms per lock too: writers stall about one lock_timeout, the run records the reader as the blocker, nothing half-done", async () => {
      const missing = await dropNewestMonth();
      const before = await attachedPartitions(db, 'public.messages');
      const reader = await startLongReader(db.url);
      const writer = await startWriter(db.url);
      // What pg_cron runs (test/provision-*.test.ts assert that the job's command is exactly this),
      // on a session of its own whose lock_timeout is the server's default (none).
      const job = new pg.Client({ connectionString: db.url, application_name: 'pg_cron' });
      await job.connect();
      let durations: number[];
      let runId: number;
      try {
        expect((await job.query<{ lock_timeout: string }>('SHOW lock_timeout')).rows[0]!.lock_timeout).toBe('0');
        await new Promise((resolve) => setTimeout(resolve, 300));
        runId = Number((await job.query<{ p_run_id: string }>('CALL "partkit".run_maintenance_proc()')).rows[0]!.p_run_id);
        await new Promise((resolve) => setTimeout(resolve, 300));
      } finally {
        durations = await writer.stop();
        await reader.end();
        await job.end();
      }
      const longest = Math.max(...durations);
      console.log(`[${name}] the pg_cron job's call behind a long reader: ${durations.length} writer statements, longest ${longest} ms`);
      const { rows: events } = await db.query<{ action: string; detail: string | null }>(`SELECT action, detail FROM partkit.maintenance_event WHERE run_id = $1 ORDER BY id`, [runId]);
      expect(events).toEqual([
        { action: 'failed', detail: expect.stringMatching(new RegExp(`^55P03: premake and retention: a lock on public\\.messages was not taken in 8 attempts of 500ms; held by pid ${reader.pid} \\(long-reader\\)`)) },
      ]);
      expect(await attachedPartitions(db, 'public.messages')).toEqual(before);
      if (strategy === 'plpgsql') expect(longest).toBeGreaterThanOrEqual(300);
      expect(longest).toBeLessThan(WRITER_STALL_BOUND_MS);

      const again = await partkit(db, ['maintain', '--json'], { config });
      expect(again.json).toMatchObject({ ok: true, failed: 0 });
      expect((await attachedPartitions(db, 'public.messages')).map((partition) => partition.name)).toContain(missing);
    }, 90_000);

    it('partition create behind the reader gives up the same way (exit 5, the reader named, nothing created), then succeeds', async () => {
      const missing = await dropNewestMonth();
      const before = await attachedPartitions(db, 'public.messages');
      const months = before.filter((partition) => partition.lower !== null);
      // The month after the newest one left: the one just dropped.
      const next = new Date(`${months.at(-1)!.upper!.slice(0, 10)}T12:00:00Z`);
      const month = `${next.getUTCFullYear()}-${String(next.getUTCMonth() + 1).padStart(2, '0')}`;
      const reader = await startLongReader(db.url);
      let result;
      try {
        result = await runPartkit(['partition', 'create', 'public.messages', '--month', month, '--lock-retries', '2', '--config', config, '--database-url', db.url]);
      } finally {
        await reader.end();
      }
      expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(5);
      expect(result.stderr).toMatch(/Could not take the locks for ".*" \(2 attempt\(s\), each waiting at most 500ms\)/);
      expect(result.stderr).toContain(`blocked by pid ${reader.pid} (application_name "long-reader"`);
      expect(result.stderr).toMatch(/lock busy \((55P03|P0001)\), retrying in \d+ ms/);
      expect(await attachedPartitions(db, 'public.messages')).toEqual(before);

      await partkit(db, ['partition', 'create', 'public.messages', '--month', month], { config });
      expect((await attachedPartitions(db, 'public.messages')).map((partition) => partition.name)).toContain(missing);
    });
  });
}
