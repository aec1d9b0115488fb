/**
 * The one executor of SQL. It owns the connections, the run lock, transactions,
 * lock_timeout, retries on lock errors, and logging. Commands read through `query` (and
 * `readSnapshot` for a consistent multi-statement read) and change things only through the runner
 * (src/core/runner.ts), whose apply sink is `applyPlan`.
 */
import { appendFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { connectionError, withDatabase, type ConnectionTarget } from './connection.js';
import { ConnectionError, EXIT_CODE_OF_KIND, failureKind, LockError, PartkitError, REPORT_BUG_HINT, sqlState, type FailureKind } from './errors.js';
import { quoteIdent, quoteLiteral } from './identifiers.js';
import type { Logger } from './log.js';
import { inlineParams, statementText, walkPlan, type Plan, type SqlStep, type Statement, type Step, type Unit } from './plan.js';

/** Advisory lock key: one partkit run per database at a time ('part' 'kit'). */
const RUN_LOCK = [0x70617274, 0x6b6974] as const;

export interface ExecutorOptions {
  readonly lockTimeout: string;
  /** Attempts for a step that hits a lock error before giving up with exit 5. */
  readonly retries: number;
  /** How long to wait for another partkit run on the same database. */
  readonly runLockWaitMs: number;
  readonly log: Logger;
  /** A file that gets every statement the runner sends, as a script line (PARTKIT_LOG_SQL). */
  readonly sqlLog?: string | undefined;
}

export const DEFAULT_EXECUTOR_OPTIONS = { lockTimeout: '5s', retries: 5, runLockWaitMs: 300_000 } as const;

async function connect(target: ConnectionTarget): Promise<pg.Client> {
  const client = new pg.Client(target.config);
  // A dropped connection is reported by the next query; keep the process from crashing on 'error'.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectionError(target, error);
  }
  return client;
}

/** What a step returned (rows of its statement), for commands that report them. */
export interface StepRows {
  readonly step: Step;
  readonly rows: readonly Record<string, unknown>[];
}

export class Database {
  private cronClient: pg.Client | undefined;
  private holdsRunLock = false;

  private constructor(
    readonly target: ConnectionTarget,
    private readonly client: pg.Client,
    readonly name: string,
    private readonly options: ExecutorOptions,
  ) {}

  static async connect(target: ConnectionTarget, options: ExecutorOptions): Promise<Database> {
    const client = await connect(target);
    // Inspection waits no longer than the steps do: a table locked by someone else is reported, not waited on forever.
    await client.query(`SET lock_timeout = ${quoteLiteral(options.lockTimeout)}`);
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    return new Database(target, client, rows[0]!.db, options);
  }

  get log(): Logger {
    return this.options.log;
  }

  get lockTimeout(): string {
    return this.options.lockTimeout;
  }

  /** Reads (inspection). Statements that change anything belong in a plan. */
  async query<Row extends object = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    this.options.log.debug(inlineParams(sql, params));
    try {
      const result = await this.client.query<Row>(sql, params as unknown[]);
      return result.rows;
    } catch (error) {
      throw readError(this.target, error);
    }
  }

  /** Reads in pg_cron's database (same credentials); undefined when it cannot be reached. */
  async queryCron<Row extends object = Record<string, unknown>>(cronDatabase: string, sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    const client = await this.cronConnection(cronDatabase);
    this.options.log.debug(`[${cronDatabase}] ${inlineParams(sql, params)}`);
    try {
      return (await client.query<Row>(sql, params as unknown[])).rows;
    } catch (error) {
      throw readError(this.target, error);
    }
  }

  private async cronConnection(cronDatabase: string): Promise<pg.Client> {
    if (cronDatabase === this.name) return this.client;
    this.cronClient ??= await connect(withDatabase(this.target, cronDatabase));
    return this.cronClient;
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
        throw new LockError('Another partkit run holds the lock on this database.', 'Wait for it to finish, or look for it in pg_stat_activity (application_name = partkit).');
      }
      if (!announced) {
        this.options.log.info('Waiting for another partkit run on this database to finish...');
        announced = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /**
   * The apply sink of the runner (src/core/runner.ts): sends the statements of walkPlan, unit by
   * unit, exactly as renderPlan prints them. A unit that hits a lock error is rolled back and
   * sent again; the first failing statement names the step it belongs to.
   */
  async applyPlan(plan: Plan, context: { cronDatabase?: string | undefined } = {}): Promise<StepRows[]> {
    const results: StepRows[] = [];
    for (const unit of walkPlan(plan, this.options.lockTimeout)) {
      for (const step of unit.steps) this.options.log.info(`• ${step.description}`);
      results.push(...(await this.applyUnit(unit, context)));
    }
    return results;
  }

  private async applyUnit(unit: Unit, context: { cronDatabase?: string | undefined }): Promise<StepRows[]> {
    const client = unit.database === 'cron' ? await this.cronConnection(context.cronDatabase ?? 'postgres') : this.client;
    for (let attempt = 1; ; attempt += 1) {
      const running: { step: Step } = { step: unit.steps[0]! };
      try {
        return await this.sendUnit(client, unit, running);
      } catch (error) {
        const code = sqlState(error);
        if (failureKind(error) === 'lock') {
          if (attempt >= this.options.retries) {
            throw new LockError(
              `Could not take the locks for "${running.step.description}" after ${attempt} attempts (${(error as Error).message}).`,
              'Another session holds the table; retry later or raise --lock-timeout.',
              { cause: error },
            );
          }
          const delay = Math.min(200 * 2 ** attempt, 5000) * (0.5 + Math.random());
          this.options.log.info(`  lock busy (${code}), retrying in ${Math.round(delay)} ms`);
          await new Promise((resolve) => setTimeout(resolve, delay));
          continue;
        }
        if (error instanceof PartkitError) throw error;
        throw new StepFailedError(running.step, error);
      }
    }
  }

  /** Sends one unit's statements; `running.step` names the step in progress, so a failure blames the right one. */
  private async sendUnit(client: pg.Client, unit: Unit, running: { step: Step }): Promise<StepRows[]> {
    const results: StepRows[] = [];
    try {
      for (const statement of unit.statements) {
        if (statement.step) running.step = statement.step;
        this.logStatement(statement);
        const result = await client.query(statement.sql, statement.params as unknown[] | undefined);
        if (statement.step) results.push({ step: statement.step, rows: result.rows ?? [] });
      }
      return results;
    } catch (error) {
      if (unit.transactional) await client.query('ROLLBACK').catch(() => undefined);
      else if (unit.cleanup) await client.query(unit.cleanup.sql).catch(() => undefined);
      throw error;
    }
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
      await this.client.query(sql);
    };
    await send('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    try {
      for (const [name, value] of Object.entries(settings)) await send(`SET LOCAL ${quoteIdent(name)} = ${quoteLiteral(value)}`);
      const result = await body();
      await send('COMMIT');
      return result;
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /**
   * `COPY ... TO STDOUT` as a stream on the session's connection, inside the transaction the caller
   * opened (a read-only snapshot for an export): the server writes the CSV, so no row passes
   * through JavaScript objects and memory stays flat. rowCount is set once the stream has ended.
   */
  copyOut(sql: string): Readable & { readonly rowCount: number } {
    this.options.log.debug(sql);
    return this.client.query(copyTo(sql));
  }

  /**
   * Loads rows with `COPY ... FROM STDIN` in one transaction: the `before` steps (say CREATE TABLE),
   * the COPY fed by `source`, the `after` steps (say ATTACH PARTITION), then `verify` with the rows
   * COPY took; the transaction commits only when verify returns, so a file that does not check out
   * (or a step that fails) leaves nothing behind.
   */
  async copyIn(load: { readonly before: readonly SqlStep[]; readonly copy: SqlStep; readonly after?: readonly SqlStep[]; readonly source: Readable; readonly verify: (rows: number) => Promise<void> | void }): Promise<number> {
    // The same walk as every plan: the steps must share a group, so they make one transaction.
    const units = walkPlan({ steps: [...load.before, load.copy, ...(load.after ?? [])] }, this.options.lockTimeout);
    if (units.length !== 1 || !units[0]!.transactional) throw new Error('internal: the steps of a load must share one group (one transaction)');
    const running: { step: Step } = { step: load.before[0] ?? load.copy };
    for (const step of [...load.before, load.copy, ...(load.after ?? [])]) this.options.log.info(`• ${step.description}`);
    let rows = 0;
    try {
      for (const statement of units[0]!.statements) {
        if (statement.step) running.step = statement.step;
        // The load is checked before it commits: a file that does not check out leaves nothing behind.
        if (statement.control === 'commit') await load.verify(rows);
        this.logStatement(statement);
        if (statement.step === load.copy) {
          const stream = this.client.query(copyFrom(load.copy.sql));
          await pipeline(load.source, stream);
          rows = Number(stream.rowCount ?? 0);
          continue;
        }
        await this.client.query(statement.sql, statement.params as unknown[] | undefined);
      }
      return rows;
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      if (error instanceof PartkitError) throw error;
      if (sqlState(error) === undefined && !(error instanceof Error && /Connection terminated/.test(error.message))) throw error;
      throw new StepFailedError(running.step, error);
    }
  }

  async close(): Promise<void> {
    if (this.holdsRunLock) {
      await this.client.query('SELECT pg_advisory_unlock($1, $2)', RUN_LOCK as unknown as unknown[]).catch(() => undefined);
    }
    await this.cronClient?.end().catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

/** A failed read: lock and connection errors get their own types; other server errors pass through. */
function readError(target: ConnectionTarget, error: unknown): unknown {
  const kind = failureKind(error);
  if (kind === 'lock') {
    return new LockError(`Another session holds a lock partkit needs to inspect the tables (${(error as Error).message}).`, 'Retry later or raise --lock-timeout; pg_locks shows who holds it.', { cause: error });
  }
  if (kind === 'connection') return lostConnection(target, error);
  return error;
}

/** The session was terminated (pg_terminate_backend, a server shutdown) or the network dropped. */
function lostConnection(target: ConnectionTarget, error: unknown): ConnectionError {
  const code = sqlState(error);
  const reason = error instanceof Error ? error.message : String(error);
  return new ConnectionError(
    `Lost the connection to ${target.display}: ${reason}${code ? ` (SQLSTATE ${code})` : ''}.`,
    'The session was terminated or the server went away; the statement in progress was rolled back. Check the server, then run again.',
    { cause: error },
  );
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
