/**
 * The one executor of SQL. It owns the connections, the run lock, transactions,
 * lock_timeout, retries on lock errors, cancellation, and logging. Commands read through `query` (and
 * `readSnapshot` for a consistent multi-statement read) and change things only through the runner
 * (src/core/runner.ts), whose apply sink is `applyPlan`.
 *
 * Locks: a statement waits at most `lockTimeout` for a lock (a DDL that waits blocks every later
 * query of its table, so the wait must be short), then is rolled back and sent again after a
 * jittered back-off, `retries` times in all. While a statement runs, a second connection (the
 * monitor) reads who blocks it (pg_blocking_pids), so that giving up names that session.
 *
 * Stopping: when `signal` aborts, the monitor cancels the statement in progress on the server
 * (pg_cancel_backend), its transaction rolls back, nothing more is sent, and the call throws
 * InterruptedError. A process that dies without that (SIGKILL) leaves its statement to the server:
 * every session sets client_connection_check_interval (PostgreSQL 14+), so the server notices the
 * closed socket within a second and rolls the statement back.
 */
import { appendFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { blockersQuery, describeBlocker, lockGivenUp, type Blocker } from './blockers.js';
import { withDatabase, type ConnectionTarget } from './connection.js';
import { EXIT_CODE_OF_KIND, failureKind, InternalError, InterruptedError, LockError, PartkitError, REPORT_BUG_HINT, sqlState, type FailureKind } from './errors.js';
import { quoteIdent, quoteLiteral } from './identifiers.js';
import type { Logger } from './log.js';
import { inlineParams, statementText, walkPlan, type Plan, type SqlStep, type Statement, type Step, type Unit } from './plan.js';
import { borrowSession, connect, lostConnection, openSession, type Session, type SessionSettings } from './session.js';

/** Advisory lock key: one partkit run per database at a time ('part' 'kit'). */
const RUN_LOCK = [0x70617274, 0x6b6974] as const;

/** The session's settings (lockTimeout, readOnly: src/core/session.ts), and how the executor runs. */
export interface ExecutorOptions extends SessionSettings {
  /** Attempts for a step (or a read outside a transaction) that hits a lock error before giving up with exit 5. */
  readonly retries: number;
  /** How long to wait for another partkit run on the same database. */
  readonly runLockWaitMs: number;
  readonly log: Logger;
  /** A file that gets every statement the runner sends, as a script line (PARTKIT_LOG_SQL). */
  readonly sqlLog?: string | undefined;
  /** Stops the run: the statement in progress is cancelled on the server and rolled back, and the call throws InterruptedError. */
  readonly signal?: AbortSignal | undefined;
}

/** 500 ms, as pgroll: writers queued behind a waiting DDL wait no longer than that per attempt. */
export const DEFAULT_EXECUTOR_OPTIONS = { lockTimeout: '500ms', retries: 6, runLockWaitMs: 300_000 } as const;

/** The first back-off after a lock error; it doubles with each attempt (up to 5 s), times a random 0.5 to 1.5. */
const LOCK_BACKOFF_MS = 250;

/** A lock_timeout as milliseconds ('500ms', '2s', '1min', '300' = ms, as PostgreSQL reads it). */
function durationMs(text: string): number {
  const match = /^(\d+)\s*(ms|s|min)?$/.exec(text.trim());
  if (!match) return Number.NaN;
  return Number(match[1]) * ({ ms: 1, s: 1000, min: 60_000 }[match[2] ?? 'ms'] ?? 1);
}


/** What a step returned (rows of its statement), for commands that report them. */
export interface StepRows {
  readonly step: Step;
  readonly rows: readonly Record<string, unknown>[];
}





export class Database {
  private cron: Session | undefined;
  private monitorClient: Promise<pg.Client> | undefined;
  private holdsRunLock = false;
  /** Sessions with a statement on the server right now (cancelled on abort). */
  private readonly running = new Set<Session>();
  /** Who blocked the statements of the current attempt, as the monitor last saw them. */
  private blockers: Blocker[] = [];
  /** retryingLocks calls in progress: only the outermost forgets the blockers an attempt saw (a nested read must not). */
  private retryDepth = 0;
  /** Inside readSnapshot or copyIn: a read that fails cannot be retried in the aborted transaction. */
  private inTransaction = false;
  private readOnlySession: boolean;
  private readonly onAbort = (): void => void this.cancelRunning();

  private constructor(
    readonly target: ConnectionTarget,
    private readonly session: Session,
    readonly name: string,
    private readonly options: ExecutorOptions,
  ) {
    this.readOnlySession = options.readOnly ?? false;
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  static async connect(target: ConnectionTarget, options: ExecutorOptions): Promise<Database> {
    checkOptions(options);
    return Database.start(target, await openSession(target, options), options);
  }

  /**
   * A session on an application's own connection (a pg.Client, or a client of its pg.Pool): the
   * settings partkit gives its session are put back as they were before `giveBack` hands the
   * connection back, and the connection is never ended here (unless a statement on it could not be
   * cancelled: then `giveBack` gets that error, so that a pool drops the client).
   */
  static async borrow(client: pg.ClientBase, target: ConnectionTarget, options: ExecutorOptions, giveBack: (error?: Error) => void | Promise<void>): Promise<Database> {
    try {
      checkOptions(options);
    } catch (error) {
      await giveBack();
      throw error;
    }
    return Database.start(target, await borrowSession(client, target, options, giveBack), options);
  }

  private static async start(target: ConnectionTarget, session: Session, options: ExecutorOptions): Promise<Database> {
    try {
      const { rows } = await session.client.query<{ db: string }>('SELECT current_database() AS db');
      return new Database(target, session, rows[0]!.db, options);
    } catch (error) {
      await session.close().catch(() => undefined);
      throw failureKind(error) === 'connection' ? lostConnection(target, error) : error;
    }
  }

  get log(): Logger {
    return this.options.log;
  }

  get lockTimeout(): string {
    return this.options.lockTimeout;
  }

  /** Reads (inspection). Statements that change anything belong in a plan. A read that waits too long for a lock is retried like a step. */
  async query<Row extends object = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    this.options.log.debug(inlineParams(sql, params));
    try {
      const send = () => this.send(this.session, () => this.session.client.query<Row>(sql, params as unknown[]));
      const result = this.inTransaction ? await send() : await this.retryingLocks(send);
      return result.rows;
    } catch (error) {
      throw this.readError(error);
    }
  }

  /** Reads in pg_cron's database (same credentials); undefined when it cannot be reached. */
  async queryCron<Row extends object = Record<string, unknown>>(cronDatabase: string, sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    const session = await this.cronSession(cronDatabase);
    this.options.log.debug(`[${cronDatabase}] ${inlineParams(sql, params)}`);
    try {
      return (await this.send(session, () => session.client.query<Row>(sql, params as unknown[]))).rows;
    } catch (error) {
      throw this.readError(error);
    }
  }

  private async cronSession(cronDatabase: string): Promise<Session> {
    if (cronDatabase === this.name) return this.session;
    this.cron ??= await openSession(withDatabase(this.target, cronDatabase), { ...this.options, readOnly: this.readOnlySession });
    return this.cron;
  }

  /** Session advisory lock so that concurrent partkit runs on one database take turns. */
  async acquireRunLock(): Promise<void> {
    if (this.holdsRunLock) return;
    const deadline = Date.now() + this.options.runLockWaitMs;
    let announced = false;
    for (;;) {
      const [row] = await this.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', RUN_LOCK);
      if (row?.ok) {
        this.holdsRunLock = true;
        return;
      }
      if (Date.now() > deadline) {
        throw new LockError('Another partkit run holds the lock on this database.', "Wait for it to finish, or look for it in pg_stat_activity (application_name LIKE 'partkit%').");
      }
      if (!announced) {
        this.options.log.info('Waiting for another partkit run on this database to finish...');
        announced = true;
      }
      await this.pause(250);
    }
  }

  /** Waits `ms`, or less when the run is stopped (then throws InterruptedError). */
  async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, this.options.signal ? { signal: this.options.signal } : {});
    } catch (error) {
      throw this.interrupted(error);
    }
  }

  /**
   * Runs `body` with every transaction of the session read-only (default_transaction_read_only),
   * so that a preview cannot write, whatever it calls; the server refuses a write with 25006.
   */
  async readOnly<T>(body: () => Promise<T>): Promise<T> {
    if (this.readOnlySession) return body();
    await this.query('SET default_transaction_read_only = on');
    this.readOnlySession = true;
    try {
      return await body();
    } finally {
      this.readOnlySession = false;
      await this.session.client.query('RESET default_transaction_read_only').catch(() => undefined);
    }
  }

  /**
   * The apply sink of the runner (src/core/runner.ts): sends the statements of walkPlan, unit by
   * unit, exactly as renderPlan prints them. A unit that hits a lock error is rolled back and
   * sent again; the first failing statement names the step it belongs to.
   */
  async applyPlan(plan: Plan, context: { cronDatabase?: string | undefined } = {}): Promise<StepRows[]> {
    if (this.readOnlySession) throw new InternalError(`A preview tried to change the database (step "${plan.steps[0]?.description ?? ''}"); nothing was sent.`, REPORT_BUG_HINT);
    const results: StepRows[] = [];
    for (const unit of walkPlan(plan, this.options.lockTimeout)) {
      for (const step of unit.steps) this.options.log.info(`• ${step.description}`);
      results.push(...(await this.applyUnit(unit, context)));
    }
    return results;
  }

  private async applyUnit(unit: Unit, context: { cronDatabase?: string | undefined }): Promise<StepRows[]> {
    const session = unit.database === 'cron' ? await this.cronSession(context.cronDatabase ?? 'postgres') : this.session;
    const running: { step: Step } = { step: unit.steps[0]! };
    try {
      return await this.retryingLocks(() => this.sendUnit(session, unit, running), { what: () => `Could not take the locks for "${running.step.description}"` });
    } catch (error) {
      if (error instanceof PartkitError) throw error;
      throw new StepFailedError(running.step, error);
    }
  }

  /**
   * Runs `attempt` until it does not fail on a lock (55P03 lock_timeout, 40P01, 40001), `retries`
   * attempts in all, with a jittered exponential back-off between them. Each attempt waits at most
   * lock_timeout per lock, so writers queued behind partkit's request wait no longer than that.
   * Giving up throws LockError naming the sessions that blocked the last attempt (`what` failed;
   * `undone` says what was left as it was). Public for work whose lock errors the server reports
   * as data (a table of run_maintenance that failed on one): `attemptsMade` counts the try already made.
   */
  async retryingLocks<T>(attempt: () => Promise<T>, options: { what?: () => string; undone?: string; attemptsMade?: number } = {}): Promise<T> {
    const what = options.what ?? (() => 'Another session holds a lock partkit needs to inspect the tables');
    const backoff = (made: number) => Math.round(Math.min(LOCK_BACKOFF_MS * 2 ** (made - 1), 5000) * (0.5 + Math.random()));
    let made = options.attemptsMade ?? 0;
    if (made > 0) await this.pause(backoff(made));
    const outermost = this.retryDepth === 0;
    for (;;) {
      if (outermost) this.blockers = [];
      made += 1;
      try {
        return await this.nested(attempt);
      } catch (error) {
        if (this.options.signal?.aborted) throw this.interrupted(error);
        if (failureKind(error) !== 'lock') throw error;
        if (made >= this.options.retries) throw lockGivenUp(`${what()} (${made} attempt(s), each waiting at most ${this.options.lockTimeout})`, this.blockers, error, options.undone);
        const delay = backoff(made);
        const who = this.blockers.length > 0 ? `; blocked by ${this.blockers.map(describeBlocker).join('; ')}` : '';
        this.options.log.info(`  lock busy (${sqlState(error)}), retrying in ${delay} ms${who}`);
        await this.pause(delay);
      }
    }
  }

  private async nested<T>(attempt: () => Promise<T>): Promise<T> {
    this.retryDepth += 1;
    try {
      return await attempt();
    } finally {
      this.retryDepth -= 1;
    }
  }

  /** Sends one unit's statements; `running.step` names the step in progress, so a failure blames the right one. */
  private async sendUnit(session: Session, unit: Unit, running: { step: Step }): Promise<StepRows[]> {
    const results: StepRows[] = [];
    try {
      for (const statement of unit.statements) {
        if (statement.step) running.step = statement.step;
        this.logStatement(statement);
        const result = await this.send(session, () => session.client.query(statement.sql, statement.params as unknown[] | undefined));
        if (statement.step) results.push({ step: statement.step, rows: result.rows ?? [] });
      }
      return results;
    } catch (error) {
      if (unit.transactional) await session.client.query('ROLLBACK').catch(() => undefined);
      else if (unit.cleanup) await session.client.query(unit.cleanup.sql).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Every statement goes through here: none starts once the run is stopped; while it runs it can
   * be cancelled (see cancelRunning), and the monitor notes who blocks it, until it ends.
   */
  private async send<T>(session: Session, statement: () => Promise<T>): Promise<T> {
    if (this.options.signal?.aborted) throw new InterruptedError(this.options.signal.reason);
    this.running.add(session);
    const watch = this.watchBlockers(session);
    try {
      return await statement();
    } finally {
      this.running.delete(session);
      watch.stop();
    }
  }

  /**
   * Polls pg_blocking_pids of the session's backend while a statement runs: first after 100 ms
   * (the monitor may have to connect), then every half lock_timeout.
   */
  private watchBlockers(session: Session): { stop(): void } {
    const every = Math.max(50, Math.floor(durationMs(this.options.lockTimeout) / 2));
    const first = Math.min(100, every);
    let stopped = false;
    let timer: NodeJS.Timeout;
    const look = async (): Promise<void> => {
      try {
        const monitor = await this.monitor();
        if (stopped) return;
        const blockers = blockersQuery(session.pid);
        const { rows } = await monitor.query<Blocker>(blockers.sql, blockers.params);
        if (rows.length > 0) this.blockers = rows;
      } catch {
        // Watching is best effort: the statement's own outcome is what counts.
      }
      if (!stopped) timer = setTimeout(() => void look(), every).unref();
    };
    timer = setTimeout(() => void look(), first).unref();
    return {
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  /** The second connection, opened when first needed: it reads who blocks a statement and cancels statements. */
  private monitor(): Promise<pg.Client> {
    if (this.monitorClient === undefined) {
      const made = connect({ ...this.target, config: { ...this.target.config, application_name: `${this.target.config.application_name ?? 'partkit'} (monitor)` } });
      // A failed connect is tried again next time.
      made.catch(() => {
        if (this.monitorClient === made) this.monitorClient = undefined;
      });
      this.monitorClient = made;
    }
    return this.monitorClient;
  }

  /**
   * On abort: cancels the statements in progress on the server (pg_cancel_backend, from the
   * monitor connection, since their own connection is busy). Each fails with 57014 and its
   * transaction is rolled back by the code that sent it.
   */
  private async cancelRunning(): Promise<void> {
    const pids = [...this.running].map((session) => session.pid);
    if (pids.length === 0) return;
    this.options.log.info(`cancelling the statement in progress (backend ${pids.join(', ')})...`);
    try {
      const monitor = await this.monitor();
      await monitor.query('SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    } catch (error) {
      this.options.log.warn(`could not cancel the statement in progress: ${(error as Error).message}; closing the connection instead`);
      for (const session of this.running) session.destroy();
    }
  }

  /** The error to throw once the run is stopped (any error after an abort is its consequence). */
  private interrupted(error: unknown): unknown {
    if (!this.options.signal?.aborted || error instanceof InterruptedError) return error;
    return new InterruptedError(this.options.signal.reason, { cause: error });
  }

  /** A failed read: lock and connection errors get their own types; other server errors pass through. */
  private readError(error: unknown): unknown {
    if (this.options.signal?.aborted) return this.interrupted(error);
    if (error instanceof PartkitError) return error;
    if (failureKind(error) === 'lock') return lockGivenUp('Another session holds a lock partkit needs to inspect the tables', this.blockers, error);
    if (failureKind(error) === 'connection') return lostConnection(this.target, error);
    return error;
  }

  /** --verbose logs each statement; PARTKIT_LOG_SQL=<file> appends it to that file as a script line. */
  private logStatement(statement: Statement): void {
    const text = statementText(statement);
    this.options.log.debug(text);
    if (this.options.sqlLog) appendFileSync(this.options.sqlLog, `${text}\n`);
  }

  /**
   * A consistent read of several statements (an export's COPY): `body` runs inside one REPEATABLE
   * READ, READ ONLY transaction on the session's connection, with `settings` set LOCAL in it (say
   * TimeZone = UTC, so the server writes timestamps one way). Nothing in it can change anything.
   */
  async readSnapshot<T>(settings: Readonly<Record<string, string>>, body: () => Promise<T>): Promise<T> {
    const send = async (sql: string) => {
      this.options.log.debug(sql);
      await this.send(this.session, () => this.session.client.query(sql));
    };
    await send('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    this.inTransaction = true;
    try {
      for (const [name, value] of Object.entries(settings)) await send(`SET LOCAL ${quoteIdent(name)} = ${quoteLiteral(value)}`);
      const result = await body();
      await send('COMMIT');
      return result;
    } catch (error) {
      await this.session.client.query('ROLLBACK').catch(() => undefined);
      throw this.interrupted(error);
    } finally {
      this.inTransaction = false;
    }
  }

  /**
   * `COPY ... TO STDOUT` as a stream on the session's connection, inside the transaction the caller
   * opened (a read-only snapshot for an export): the server writes the CSV, so no row passes
   * through JavaScript objects and memory stays flat. rowCount is set once the stream has ended.
   * The COPY counts as running (an abort cancels it) until the stream ends.
   */
  copyOut(sql: string): Readable & { readonly rowCount: number } {
    this.options.log.debug(sql);
    if (this.options.signal?.aborted) throw new InterruptedError(this.options.signal.reason);
    const stream = this.session.client.query(copyTo(sql));
    this.running.add(this.session);
    const watch = this.watchBlockers(this.session);
    const done = () => {
      this.running.delete(this.session);
      watch.stop();
    };
    stream.once('end', done).once('error', done).once('close', done);
    return stream;
  }

  /**
   * Loads rows with `COPY ... FROM STDIN` in one transaction: the `before` steps (say CREATE TABLE),
   * the COPY fed by `source`, the `after` steps (say ATTACH PARTITION), then `verify` with the rows
   * COPY took; the transaction commits only when verify returns, so a file that does not check out
   * (or a step that fails) leaves nothing behind.
   */
  async copyIn(load: { readonly before: readonly SqlStep[]; readonly copy: SqlStep; readonly after?: readonly SqlStep[]; readonly source: Readable; readonly verify: (rows: number) => Promise<void> | void }): Promise<number> {
    if (this.readOnlySession) throw new InternalError(`A preview tried to load rows (step "${load.copy.description}"); nothing was sent.`, REPORT_BUG_HINT);
    // The same walk as every plan: the steps must share a group, so they make one transaction.
    const units = walkPlan({ steps: [...load.before, load.copy, ...(load.after ?? [])] }, this.options.lockTimeout);
    if (units.length !== 1 || !units[0]!.transactional) throw new Error('internal: the steps of a load must share one group (one transaction)');
    const running: { step: Step } = { step: load.before[0] ?? load.copy };
    for (const step of [...load.before, load.copy, ...(load.after ?? [])]) this.options.log.info(`• ${step.description}`);
    let rows = 0;
    this.inTransaction = true;
    try {
      for (const statement of units[0]!.statements) {
        if (statement.step) running.step = statement.step;
        // The load is checked before it commits: a file that does not check out leaves nothing behind.
        if (statement.control === 'commit') await load.verify(rows);
        this.logStatement(statement);
        if (statement.step === load.copy) {
          await this.send(this.session, async () => {
            const stream = this.session.client.query(copyFrom(load.copy.sql));
            // On abort the COPY stream is destroyed, which sends CopyFail: the server stops waiting for rows.
            await pipeline(load.source, stream, this.options.signal ? { signal: this.options.signal } : {});
            rows = Number(stream.rowCount ?? 0);
          });
          continue;
        }
        await this.send(this.session, () => this.session.client.query(statement.sql, statement.params as unknown[] | undefined));
      }
      return rows;
    } catch (error) {
      await this.session.client.query('ROLLBACK').catch(() => undefined);
      if (this.options.signal?.aborted) throw this.interrupted(error);
      if (error instanceof PartkitError) throw error;
      if (failureKind(error) === 'lock') throw lockGivenUp(`Could not take the locks for "${running.step.description}"`, this.blockers, error);
      if (sqlState(error) === undefined && !(error instanceof Error && /Connection terminated/.test(error.message))) throw error;
      throw new StepFailedError(running.step, error);
    } finally {
      this.inTransaction = false;
    }
  }

  async close(): Promise<void> {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    if (this.holdsRunLock) {
      await this.session.client.query('SELECT pg_advisory_unlock($1, $2)', RUN_LOCK as unknown as unknown[]).catch(() => undefined);
    }
    await this.cron?.close().catch(() => undefined);
    const monitor = this.monitorClient;
    this.monitorClient = undefined;
    await monitor?.then((client) => client.end()).catch(() => undefined);
    await this.session.close().catch(() => undefined);
  }
}

function checkOptions(options: ExecutorOptions): void {
  if (Number.isNaN(durationMs(options.lockTimeout))) throw new InternalError(`lockTimeout "${options.lockTimeout}" is not a duration (use e.g. 500ms or 2s).`);
  if (options.signal?.aborted) throw new InterruptedError(options.signal.reason);
}





const STEP_HINTS: Readonly<Record<FailureKind, string>> = {
  usage: 'A name is longer than PostgreSQL keeps (63 bytes); give the table a shorter name. Nothing after this step was applied.',
  missing: 'An administrator may need to grant rights or install an extension; run `partkit doctor`.',
  connection: 'The session was terminated or the server went away; this step was rolled back. Check the server, then run again (steps already applied are kept and skipped next time).',
  lock: 'Another session holds the table; retry later or raise --lock-timeout.',
  conflict: 'Nothing after this step was applied; fix the cause and run again (steps already applied are kept and skipped next time).',
  internal: `Nothing after this step was applied. ${REPORT_BUG_HINT}`,
};

/** A step the server rejected; the message names the step and the server's reason. */
export class StepFailedError extends PartkitError {
  readonly exitCode;
  constructor(step: Step, error: unknown) {
    const code = sqlState(error);
    const reason = error instanceof Error ? error.message : String(error);
    // An error without a SQLSTATE or a lost connection is partkit's own (e.g. postgres-migrations').
    const kind = failureKind(error) ?? 'internal';
    super(`Step failed: ${step.description}: ${reason}${code ? ` (SQLSTATE ${code})` : ''}.`, STEP_HINTS[kind], { cause: error });
    this.exitCode = EXIT_CODE_OF_KIND[kind];
  }
}
