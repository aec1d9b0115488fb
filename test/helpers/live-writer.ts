/**
 * A live writer with an oracle: it inserts, updates and deletes rows of a table while an operation
 * (maintain, migrate, archive, restore) runs, and records every change in a truth table in the
 * same transaction. Afterwards `compareWithTruth` says what is missing, resurrected, stale or
 * duplicated, looking in the table and in any other tables given (an archive schema, say).
 */
import pg from 'pg';
import { startLiveWorkload } from './targets.js';

export interface LiveWriterOptions {
  /** Connection URL of the database. */
  readonly url: string;
  /** The table, as SQL (quoted as needed). It must have a uuid `id`, a text column `content` and the control column `created_at`. */
  readonly table: string;
  /** Extra column list and values for an insert, e.g. `session_id, role` / `gen_random_uuid(), 'user'`. */
  readonly extraColumns?: string;
  readonly extraValues?: string;
  /** SQL expressions (evaluated by the server at each insert) for created_at, chosen in turn at random. */
  readonly createdAt: readonly string[];
  /**
   * SQL expressions for the id an insert supplies, chosen at random (default: gen_random_uuid()).
   * The writer records the id the insert returns, so a table that replaces ids is checked too.
   */
  readonly ids?: readonly string[];
  /**
   * Of `createdAt`, the expressions whose rows are only inserted, never updated or deleted: rows of
   * a month past the retention belong to the archive, which the application does not write to.
   */
  readonly insertOnly?: readonly string[];
  /** Operations per second, about. */
  readonly opsPerSecond?: number;
  /** Share of updates and deletes among operations (the rest are inserts). */
  readonly updateShare?: number;
  readonly deleteShare?: number;
  /** Updates also move created_at to one of `createdAt` (to another month, often): default false. */
  readonly moveOnUpdate?: boolean;
}

export interface WriterStats {
  inserts: number;
  updates: number;
  deletes: number;
  /** Transactions that failed (then rolled back: nothing recorded either). */
  errors: number;
  /** The longest time one operation took, in ms (waiting for locks included). */
  longestMs: number;
  lastError?: string;
}

export interface LiveWriter {
  readonly stats: WriterStats;
  /** Stops after the operation in flight; resolves when the writer's connection is closed. */
  stop(): Promise<WriterStats>;
  /** Holds the writer after the operation in flight (resolves then), for an oracle check mid-run. */
  pause(): Promise<void>;
  resume(): void;
  /** Resolves once `count` more operations have ended (committed or failed): the writer's progress, not time. */
  advance(count: number): Promise<void>;
}

export const TRUTH_TABLE = 'oracle_truth';

/** Creates the truth table (once per database). */
export async function createTruthTable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS ${TRUTH_TABLE} (id uuid PRIMARY KEY, content text NOT NULL, deleted boolean NOT NULL DEFAULT false)`);
  } finally {
    await client.end();
  }
}

export async function startLiveWriter(options: LiveWriterOptions): Promise<LiveWriter> {
  const client = new pg.Client({ connectionString: options.url, application_name: 'oracle-writer' });
  client.on('error', () => undefined);
  await client.connect();
  await client.query(`SET lock_timeout = '30s'`);
  const endWorkload = startLiveWorkload();
  const stats: WriterStats = { inserts: 0, updates: 0, deletes: 0, errors: 0, longestMs: 0 };
  const live: string[] = [];
  let stopping = false;
  // Set by pause(): the loop reports that it is held, then waits for resume().
  const hold: { released: Promise<void> | null; release: () => void; held: () => void } = { released: null, release: () => undefined, held: () => undefined };
  let counter = 0;
  const pause = 1000 / (options.opsPerSecond ?? 100);
  const updateShare = options.updateShare ?? 0.2;
  const deleteShare = options.deleteShare ?? 0.1;
  const extraColumns = options.extraColumns ? `, ${options.extraColumns}` : '';
  const extraValues = options.extraValues ? `, ${options.extraValues}` : '';

  const loop = (async () => {
    while (!stopping) {
      if (hold.released) {
        hold.held();
        await hold.released;
        continue;
      }
      const started = Date.now();
      const dice = Math.random();
      counter += 1;
      const content = `v${counter}`;
      try {
        await client.query('BEGIN');
        if (dice < deleteShare && live.length > 0) {
          const index = Math.floor(Math.random() * live.length);
          const id = live[index]!;
          await client.query(`DELETE FROM ${options.table} WHERE id = $1`, [id]);
          await client.query(`UPDATE ${TRUTH_TABLE} SET deleted = true WHERE id = $1`, [id]);
          await client.query('COMMIT');
          live.splice(index, 1);
          stats.deletes += 1;
        } else if (dice < deleteShare + updateShare && live.length > 0) {
          const id = live[Math.floor(Math.random() * live.length)]!;
          const movable = options.createdAt.filter((at) => !(options.insertOnly ?? []).includes(at));
          const move = options.moveOnUpdate && movable.length > 0 ? `, created_at = ${movable[counter % movable.length]}` : '';
          await client.query(`UPDATE ${options.table} SET content = $2${move} WHERE id = $1`, [id, content]);
          await client.query(`UPDATE ${TRUTH_TABLE} SET content = $2 WHERE id = $1`, [id, content]);
          await client.query('COMMIT');
          stats.updates += 1;
        } else {
          const at = options.createdAt[Math.floor(Math.random() * options.createdAt.length)]!;
          const ids = options.ids ?? ['gen_random_uuid()'];
          const id = ids[Math.floor(Math.random() * ids.length)]!;
          const mutable = !(options.insertOnly ?? []).includes(at);
          const { rows } = await client.query<{ id: string }>(
            `INSERT INTO ${options.table} (id, content, created_at${extraColumns}) VALUES (${id}, $1, ${at}${extraValues}) RETURNING id`,
            [content],
          );
          await client.query(`INSERT INTO ${TRUTH_TABLE} (id, content) VALUES ($1, $2)`, [rows[0]!.id, content]);
          await client.query('COMMIT');
          if (mutable) live.push(rows[0]!.id);
          stats.inserts += 1;
        }
      } catch (error) {
        stats.errors += 1;
        stats.lastError = (error as Error).message;
        await client.query('ROLLBACK').catch(() => undefined);
      }
      const took = Date.now() - started;
      stats.longestMs = Math.max(stats.longestMs, took);
      if (took < pause) await new Promise((resolve) => setTimeout(resolve, pause - took));
    }
  })();

  const resume = (): void => {
    const release = hold.release;
    hold.released = null;
    release();
  };
  return {
    stats,
    async pause() {
      const held = new Promise<void>((resolve) => (hold.held = resolve));
      hold.released = new Promise<void>((resolve) => (hold.release = resolve));
      await held;
    },
    resume,
    async advance(count) {
      const done = () => stats.inserts + stats.updates + stats.deletes + stats.errors;
      const target = done() + count;
      const deadline = Date.now() + 60_000;
      while (done() < target) {
        if (stopping || Date.now() > deadline) throw new Error(`the live writer did not make ${count} more operations (${JSON.stringify(stats)})`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop() {
      stopping = true;
      resume();
      await loop;
      endWorkload();
      await client.end().catch(() => undefined);
      return stats;
    },
  };
}

export interface OracleResult {
  readonly truthRows: number;
  readonly missing: string[];
  readonly resurrected: string[];
  readonly stale: string[];
  readonly duplicated: string[];
}

/**
 * Compares the truth table with the rows of `tables` (SQL names; all of them together hold the
 * data, e.g. the parent and the archived months), in one pass: the rows found, counted per id, and
 * the truth joined once (a full join), each row judged on all four counts. The count is MATERIALIZED
 * so that on Citus it is an intermediate result on the coordinator, joined there with the local truth.
 */
export async function compareWithTruth(url: string, tables: readonly string[]): Promise<OracleResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const union = tables.map((table) => `SELECT id, content FROM ${table}`).join(' UNION ALL ');
    const missing = 'NOT t.deleted AND c.id IS NULL';
    const resurrected = 't.deleted AND c.id IS NOT NULL';
    const stale = 'NOT t.deleted AND c.content <> t.content';
    const duplicated = 'c.n > 1';
    const { rows } = await client.query<{ id: string; missing: boolean | null; resurrected: boolean | null; stale: boolean | null; duplicated: boolean | null }>(
      `WITH counted AS MATERIALIZED (SELECT id, count(*) AS n, min(content) AS content FROM (${union}) AS found GROUP BY id)
       SELECT coalesce(t.id, c.id) AS id, ${missing} AS missing, ${resurrected} AS resurrected, ${stale} AS stale, ${duplicated} AS duplicated
         FROM ${TRUTH_TABLE} t FULL JOIN counted c ON c.id = t.id
        WHERE (${missing}) OR (${resurrected}) OR (${stale}) OR (${duplicated})`,
    );
    const { rows: total } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${TRUTH_TABLE}`);
    const of = (kind: 'missing' | 'resurrected' | 'stale' | 'duplicated') => rows.filter((row) => row[kind] === true).map((row) => row.id);
    return { truthRows: Number(total[0]!.n), missing: of('missing'), resurrected: of('resurrected'), stale: of('stale'), duplicated: of('duplicated') };
  } finally {
    await client.end();
  }
}

export interface LockWatch {
  /** Stops watching; resolves to the longest time (ms) one backend was seen holding the lock. */
  stop(): Promise<number>;
}

/**
 * Watches pg_locks every 10 ms for an ACCESS EXCLUSIVE lock on any of `tables` held by a session
 * whose application_name starts with the given one (partkit's are `partkit <command>`), and keeps
 * the longest time one backend held it (as seen at that sampling rate: a lower bound, good to about 10 ms).
 */
export async function watchExclusiveLocks(url: string, tables: readonly string[], applicationName = 'partkit'): Promise<LockWatch> {
  const client = new pg.Client({ connectionString: url, application_name: 'oracle-lock-watch' });
  client.on('error', () => undefined);
  await client.connect();
  const since = new Map<number, number>();
  let longest = 0;
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const { rows } = await client.query<{ pid: number }>(
        `SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.granted AND l.mode = 'AccessExclusiveLock' AND l.locktype = 'relation'
            AND l.relation = ANY (SELECT to_regclass(t)::oid FROM unnest($1::text[]) t) AND starts_with(a.application_name, $2)`,
        [tables, applicationName],
      );
      const now = Date.now();
      const holding = new Set(rows.map((row) => row.pid));
      for (const pid of holding) if (!since.has(pid)) since.set(pid, now);
      for (const [pid, start] of since) {
        longest = Math.max(longest, now - start);
        if (!holding.has(pid)) since.delete(pid);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      await client.end().catch(() => undefined);
      return longest;
    },
  };
}

export interface LiveReader {
  /** Stops after the query in flight; resolves to what it saw. */
  stop(): Promise<ReaderStats>;
}

export interface ReaderStats {
  queries: number;
  errors: number;
  /** The longest time one query took, in ms (waiting for locks included). */
  longestMs: number;
  /** Every query's time, in ms, in order. */
  samplesMs: number[];
  /** What `check` said about the rows it saw, at most the first 10 (empty: every answer was right). */
  wrong: string[];
  lastError?: string;
}

/**
 * A reader on its own connection: runs `sql` in a loop (each statement its own snapshot) while an
 * operation runs, and keeps the longest time one query took. `check` looks at each answer and
 * returns what is wrong with it, or null: e.g. a month's row count that must not change, or the
 * table's count against the truth table's in the same snapshot (a row missing or twice at that instant).
 */
export async function startLiveReader(url: string, sql: string, options: { check?: (row: Record<string, unknown>) => string | null; pauseMs?: number } = {}): Promise<LiveReader> {
  const check = options.check ?? (() => null);
  const client = new pg.Client({ connectionString: url, application_name: 'oracle-reader' });
  client.on('error', () => undefined);
  await client.connect();
  const stats: ReaderStats = { queries: 0, errors: 0, longestMs: 0, samplesMs: [], wrong: [] };
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const started = performance.now();
      try {
        const { rows } = await client.query(sql);
        const wrong = check(rows[0] ?? {});
        if (wrong !== null && stats.wrong.length < 10) stats.wrong.push(wrong);
        stats.queries += 1;
      } catch (error) {
        stats.errors += 1;
        stats.lastError = (error as Error).message;
      }
      const took = performance.now() - started;
      stats.samplesMs.push(took);
      stats.longestMs = Math.max(stats.longestMs, took);
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 5));
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      await client.end().catch(() => undefined);
      return stats;
    },
  };
}
