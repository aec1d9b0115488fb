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
import { ConnectionError, typedError, UsageError } from '../core/errors.js';
import { eventLogger, silentLogger, type LogEvent, type Logger } from '../core/log.js';
import { LOCK_TIMEOUT } from '../core/context.js';
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
   * transactions on it and puts back the settings it changes (lock_timeout, TimeZone). It is not ended.
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
  /** Cancels the call: it stops before its next statement and throws the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Receives what the command logs (each step as it runs, waits, warnings). */
  readonly logger?: Logger | undefined;
  /** Receives every event (log lines, the config used, fill progress) as a value. */
  readonly onEvent?: ((event: PartkitEvent) => void) | undefined;
  /** lock_timeout of each step, e.g. "5s" (default; migrate swap and unswap: "2s"). Lock errors are retried. */
  readonly lockTimeout?: string | undefined;
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

/** Opens the session the options describe; the caller closes it. */
export async function openSession(options: CommonOptions, defaults: { lockTimeout?: string } = {}): Promise<Session> {
  options.signal?.throwIfAborted();
  checkConnectionOptions(options);
  const lockTimeout = options.lockTimeout ?? defaults.lockTimeout ?? DEFAULT_EXECUTOR_OPTIONS.lockTimeout;
  if (!LOCK_TIMEOUT.test(lockTimeout)) throw new UsageError(`lockTimeout "${lockTimeout}" is not a duration.`, 'Use e.g. 5s, 500ms or 1min.');
  const logger = loggerOf(options);
  const config = await configOf(options);
  options.onEvent?.({ type: 'config', origin: config.origin });
  const executor: ExecutorOptions = { ...DEFAULT_EXECUTOR_OPTIONS, lockTimeout, log: logger, signal: options.signal };
  const database = await connectDatabase(options, executor);
  return { database, config, logger, close: () => database.close() };
}

async function connectDatabase(options: CommonOptions, executor: ExecutorOptions): Promise<Database> {
  if (options.client !== undefined) return Database.borrow(options.client, targetOfClient(options.client), executor, () => undefined);
  if (options.pool !== undefined) {
    let lent: PoolClient;
    try {
      lent = await options.pool.connect();
    } catch (error) {
      throw new ConnectionError(`Cannot get a connection from the application's pool: ${(error as Error).message}.`, 'Check the pool\'s settings and that the server is running.', { cause: error });
    }
    return Database.borrow(lent, targetOfClient(lent), executor, () => lent.release());
  }
  const target: ConnectionTarget = resolveConnection(options.databaseUrl, options.env ?? process.env);
  return Database.connect(target, executor);
}

/**
 * Every error the API throws is a PartkitError with its exitCode and hint (typedError: a server
 * error typed by its SQLSTATE, as the CLI's exit code is); an abort is passed on as the signal's reason.
 */
export function asPartkitError(error: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted && error === signal.reason) return error;
  return typedError(error);
}

/** Opens a session, runs `body`, closes the session; errors come out typed (asPartkitError). */
export async function withSession<T>(options: CommonOptions, body: (session: Session) => Promise<T>, defaults: { lockTimeout?: string } = {}): Promise<T> {
  let session: Session | undefined;
  try {
    session = await openSession(options, defaults);
    return await body(session);
  } catch (error) {
    throw asPartkitError(error, options.signal);
  } finally {
    await session?.close();
  }
}
