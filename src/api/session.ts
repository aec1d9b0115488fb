/**
 * What every function of the API (src/api/commands.ts) does around its command: reads the options
 * object (where to connect, which config, how to report), opens one session on the database,
 * runs the command, and closes the session, whatever happens. Nothing here writes to stdout,
 * stderr or a file: reports go to the caller's `logger` or `onEvent`, or nowhere.
 */
import type { Client, Pool, PoolClient } from 'pg';
import { loadConfig, resolveConfig, type Config, type ConfigFile, type ConfigOrigin } from '../core/config.js';
import { resolveConnection, targetOfClient, type ConnectionTarget } from '../core/connection.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS, type ExecutorOptions } from '../core/db.js';
import { ConnectionError, InterruptedError, typedError, UsageError, type PartkitError } from '../core/errors.js';
import { eventLogger, silentLogger, type LogEvent, type Logger } from '../core/log.js';
import { lockSettings } from '../core/context.js';
import type { FillBatchEvent } from '../migrate/fill.js';

/** Where the config came from, reported once per call before anything else. */
export interface ConfigEvent {
  readonly type: 'config';
  readonly origin: ConfigOrigin;
}

/** Everything a call reports while it runs; `onEvent` receives each. */
export type PartkitEvent = LogEvent | ConfigEvent | FillBatchEvent;

/** Where to connect: exactly one of these, else DATABASE_URL or the libpq variables (PGHOST, ...) of `env`. */
export interface ConnectionOptions {
  /** postgres://user:password@host:5432/database */
  readonly databaseUrl?: string | undefined;
  /** The application's own pool: partkit borrows one client for the call and releases it. */
  readonly pool?: Pool | undefined;
  /**
   * The application's own connected client, outside any transaction: partkit runs its own
   * transactions on it and puts back the session settings it changes (lock_timeout, TimeZone,
   * default_transaction_read_only, client_connection_check_interval). It is not ended, unless
   * `signal` aborts a statement that cannot be cancelled on the server.
   */
  readonly client?: Client | undefined;
}

/** The options every function takes. */
export interface CommonOptions extends ConnectionOptions {
  /**
   * The config: a path to a JSON file, or the file's content as an object. Default: PARTKIT_CONFIG
   * of `env`, else `partkit.json` in `cwd`, else the built-in default (the four Semibot tables).
   */
  readonly config?: string | ConfigFile | undefined;
  /** Plan and return the SQL (`result.sql`) without changing anything. */
  readonly dryRun?: boolean | undefined;
  /**
   * Stops the call: the statement in progress is cancelled on the server and rolled back, nothing
   * more is sent, and the call throws InterruptedError (exit code 130). Steps that had committed are
   * kept; calling again continues from there.
   */
  readonly signal?: AbortSignal | undefined;
  /** Receives what the command logs (each step as it runs, waits, warnings). */
  readonly logger?: Logger | undefined;
  /** Receives every event (log lines, the config used, fill progress) as a value. */
  readonly onEvent?: ((event: PartkitEvent) => void) | undefined;
  /** The longest one statement waits for a lock, e.g. "500ms" (the default); then it is rolled back and retried. */
  readonly lockTimeout?: string | undefined;
  /** Attempts per step when a lock is busy (default 6); then LockError (exit code 5) names the session that holds it. */
  readonly lockRetries?: number | undefined;
  /** Environment to read DATABASE_URL, PG* and PARTKIT_CONFIG from (default: process.env). */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Where to look for partkit.json (default: process.cwd()). */
  readonly cwd?: string | undefined;
}

/** An open session: the database partkit runs on, the resolved config, and how to close it. */
export interface Session {
  readonly database: Database;
  readonly config: Config;
  readonly logger: Logger;
  close(): Promise<void>;
}

/** The caller's logger and onEvent, joined; silent when neither is given. */
export function loggerOf(options: Pick<CommonOptions, 'logger' | 'onEvent'>): Logger {
  const sinks = [options.logger, options.onEvent ? eventLogger(options.onEvent) : undefined].filter((sink): sink is Logger => sink !== undefined);
  if (sinks.length === 0) return silentLogger;
  if (sinks.length === 1) return sinks[0]!;
  return { info: (m) => sinks.forEach((s) => s.info(m)), debug: (m) => sinks.forEach((s) => s.debug(m)), warn: (m) => sinks.forEach((s) => s.warn(m)) };
}

/** The config the options name, validated (ConfigError, exit 2, names the field). */
export async function configOf(options: Pick<CommonOptions, 'config' | 'env' | 'cwd'>): Promise<Config> {
  const env = options.env ?? process.env;
  if (options.config !== undefined && typeof options.config === 'object' && options.config !== null) return resolveConfig(options.config, '(given in code)');
  return loadConfig(options.config, env, options.cwd ?? process.cwd());
}

function checkConnectionOptions(options: ConnectionOptions): void {
  const given = (['databaseUrl', 'pool', 'client'] as const).filter((key) => options[key] !== undefined);
  if (given.length > 1) throw new UsageError(`Give one of databaseUrl, pool and client, not ${given.join(' and ')}.`);
}

/** How a command's session is opened: its name (application_name `partkit <command>`) and whether it only reads. */
export interface SessionKind {
  /** The command as the CLI spells it: `maintain`, `migrate fill`. */
  readonly command: string;
  /** The command only reads (status, verify, a preview): its session is read-only. dryRun implies it. */
  readonly readOnly?: boolean | undefined;
}

/** Opens the session the options describe; the caller closes it. */
export async function openSession(options: CommonOptions, kind: SessionKind = { command: 'api' }): Promise<Session> {
  if (options.signal?.aborted) throw new InterruptedError(options.signal.reason);
  checkConnectionOptions(options);
  const { lockTimeout, retries } = lockSettings(options, { timeout: 'lockTimeout', retries: 'lockRetries' });
  const logger = loggerOf(options);
  const config = await configOf(options);
  options.onEvent?.({ type: 'config', origin: config.origin });
  const executor: ExecutorOptions = {
    ...DEFAULT_EXECUTOR_OPTIONS,
    lockTimeout,
    retries,
    log: logger,
    signal: options.signal,
    readOnly: (kind.readOnly ?? false) || (options.dryRun ?? false),
  };
  const database = await connectDatabase(options, executor, `partkit ${kind.command}`);
  return { database, config, logger, close: () => database.close() };
}

async function connectDatabase(options: CommonOptions, executor: ExecutorOptions, applicationName: string): Promise<Database> {
  const { client } = options;
  if (client !== undefined) {
    // A statement that could not be cancelled on abort leaves no other way to stop it than to end the connection.
    return Database.borrow(client, targetOfClient(client, applicationName), executor, (broken) => (broken ? client.end() : undefined));
  }
  if (options.pool !== undefined) {
    let lent: PoolClient;
    try {
      lent = await options.pool.connect();
    } catch (error) {
      throw new ConnectionError(`Cannot get a connection from the application's pool: ${(error as Error).message}.`, 'Check the pool\'s settings and that the server is running.', { cause: error });
    }
    // A broken connection is released with its error, so that the pool drops it instead of lending it again.
    return Database.borrow(lent, targetOfClient(lent, applicationName), executor, (broken) => lent.release(broken));
  }
  const target: ConnectionTarget = resolveConnection(options.databaseUrl, options.env ?? process.env, applicationName);
  return Database.connect(target, executor);
}

/**
 * Every error the API throws is a PartkitError with its exitCode and hint (typedError: a server
 * error typed by its SQLSTATE, as the CLI's exit code is); once `signal` aborted, whatever failed
 * failed because of it: InterruptedError.
 */
export function asPartkitError(error: unknown, signal?: AbortSignal): PartkitError {
  if (signal?.aborted && !(error instanceof InterruptedError)) return new InterruptedError(signal.reason, { cause: error });
  return typedError(error);
}

/** Opens a session, runs `body`, closes the session; errors come out typed (asPartkitError). */
export async function withSession<T>(options: CommonOptions, kind: SessionKind, body: (session: Session) => Promise<T>): Promise<T> {
  let session: Session | undefined;
  try {
    session = await openSession(options, kind);
    return await body(session);
  } catch (error) {
    throw asPartkitError(error, options.signal);
  } finally {
    await session?.close();
  }
}
