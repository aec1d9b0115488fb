/**
 * What every command gets: validated options, the config, a logger, and a database connection
 * made on demand. Also the one place that turns results and errors into output and exit codes.
 */
import { loadConfig, type Config, type ConfigOrigin } from './config.js';
import { redact, resolveConnection, type ConnectionTarget } from './connection.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from './db.js';
import { ExitCode, InterruptedError, isPartkitError, REPORT_BUG_HINT, typedError, UsageError } from './errors.js';
import { createLogger, type Logger } from './log.js';

export interface GlobalOptions {
  readonly databaseUrl?: string | undefined;
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
  readonly lockTimeout?: string | undefined;
  /** Attempts per step when a lock is busy. */
  readonly lockRetries?: number | undefined;
  readonly verbose?: boolean | undefined;
  /** The command as typed (`maintain`, `migrate fill`): its sessions show as application_name `partkit <command>`. */
  readonly command?: string | undefined;
  /** Stops the run (the CLI aborts it on SIGINT and SIGTERM): see ExecutorOptions.signal. */
  readonly signal?: AbortSignal | undefined;
  /** The command only reads (status, verify, doctor, a preview): its session is read-only. --dry-run implies it. */
  readonly readOnly?: boolean | undefined;
  /** Set by the command line (src/run-cli.ts): its environment, and where the exit code goes. */
  readonly session?: CliSession | undefined;
}

/** One run of the command line: the environment it reads and the exit code it ends with. */
export interface CliSession {
  readonly env: NodeJS.ProcessEnv;
  exitCode: number;
}

export interface CommandContext {
  readonly options: GlobalOptions;
  readonly config: Config;
  readonly log: Logger;
  readonly target: ConnectionTarget;
  readonly lockTimeout: string;
  /** Connects on first use; closed by runCommand. */
  database(): Promise<Database>;
}

/** A result may carry its own exit code (1 when a check failed). */
export interface CommandResult {
  readonly exitCode?: number;
}

/** A lock_timeout partkit accepts: 500ms, 5s, 1min (or a bare number of milliseconds). */
const LOCK_TIMEOUT = /^\d+(ms|s|min)?$/;

/**
 * The lock wait and the attempts per step a run asked for (else the defaults), checked; `names`
 * spells the two options as the caller wrote them (--lock-timeout on the command line, lockTimeout in code).
 */
export function lockSettings(
  given: { readonly lockTimeout?: string | undefined; readonly lockRetries?: number | undefined },
  names: { readonly timeout: string; readonly retries: string },
): { lockTimeout: string; retries: number } {
  const lockTimeout = given.lockTimeout ?? DEFAULT_EXECUTOR_OPTIONS.lockTimeout;
  if (!LOCK_TIMEOUT.test(lockTimeout)) throw new UsageError(`${names.timeout} "${lockTimeout}" is not a duration.`, 'Use e.g. 500ms, 1s or 1min.');
  const retries = given.lockRetries ?? DEFAULT_EXECUTOR_OPTIONS.retries;
  if (!Number.isInteger(retries) || retries < 1 || retries > 100) {
    throw new UsageError(`${names.retries} ${retries} must be a whole number from 1 to 100.`, `Use e.g. ${names.retries} ${DEFAULT_EXECUTOR_OPTIONS.retries}.`);
  }
  return { lockTimeout, retries };
}

export async function createContext(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<CommandContext & { usedConfig(): ConfigOrigin | undefined; close(): Promise<void> }> {
  const { lockTimeout, retries } = lockSettings(options, { timeout: '--lock-timeout', retries: '--lock-retries' });
  const config = await loadConfig(options.config, env);
  const log = createLogger({ verbose: options.verbose ?? false, write: (line) => process.stderr.write(`${line}\n`) });
  const target = resolveConnection(options.databaseUrl, env, options.command ? `partkit ${options.command}` : 'partkit');
  let db: Database | undefined;
  let configUsed = false;
  return {
    options,
    // Every command that reads the config says which one it used, once (with --json, in the document's
    // "config" instead); demo and bench, which bring their own, say nothing.
    get config() {
      if (!configUsed && !options.json) log.info(`partkit: config ${config.origin.description}`);
      configUsed = true;
      return config;
    },
    usedConfig: () => (configUsed ? config.origin : undefined),
    log,
    target,
    lockTimeout,
    async database() {
      db ??= await Database.connect(target, {
        ...DEFAULT_EXECUTOR_OPTIONS,
        lockTimeout,
        retries,
        log,
        sqlLog: env.PARTKIT_LOG_SQL || undefined,
        signal: options.signal,
        readOnly: (options.readOnly ?? false) || (options.dryRun ?? false),
      });
      return db;
    },
    async close() {
      await db?.close();
    },
  };
}

/**
 * Runs a command body, prints its result (text or --json) and returns the exit code, which it also
 * records in the command line's session.
 */
export async function runCommand<R extends object>(
  options: GlobalOptions,
  body: (ctx: CommandContext) => Promise<R>,
  render: (result: R) => string,
): Promise<number> {
  let context: Awaited<ReturnType<typeof createContext>> | undefined;
  let exitCode: number;
  try {
    context = await createContext(options, options.session?.env);
    const result = await body(context);
    const config = context.usedConfig();
    const text = options.json ? `${JSON.stringify(config ? { ...result, config } : result, null, 2)}\n` : render(result);
    if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    exitCode = (result as CommandResult).exitCode ?? ExitCode.ok;
  } catch (error) {
    // Once the run is stopped, whatever failed failed because of it (a cancelled COPY, a closed stream).
    const stopped = options.signal?.aborted && !(error instanceof InterruptedError) ? new InterruptedError(options.signal.reason, { cause: error }) : error;
    exitCode = reportError(stopped, options.json ?? false);
  } finally {
    await context?.close();
  }
  if (options.session) options.session.exitCode = exitCode;
  return exitCode;
}

/**
 * Errors partkit did not type itself: a server error maps through the one SQLSTATE table in
 * errors.ts (2 a name too long, 3 connection, 4 missing, 5 conflict, 6 a bug); anything else is a defect (6).
 */
function exitCodeOf(error: unknown): number {
  return typedError(error).exitCode;
}

export function reportError(error: unknown, json: boolean): number {
  const exitCode = exitCodeOf(error);
  const untyped = !isPartkitError(error);
  const internal = untyped && exitCode === ExitCode.internal;
  const message = redact(`${internal ? 'internal error: ' : ''}${error instanceof Error ? error.message : String(error)}`);
  const rawHint = isPartkitError(error) ? error.hint : internal ? REPORT_BUG_HINT : undefined;
  const hint = rawHint ? redact(rawHint) : undefined;
  if (json) {
    // `type` names partkit's error class (ConflictError, IdentifierTooLongError, ...): finer than the exit code.
    const type = isPartkitError(error) ? error.name : undefined;
    process.stdout.write(`${JSON.stringify({ error: { type, message, hint, exitCode } }, null, 2)}\n`);
  }
  process.stderr.write(`partkit: ${message}\n${hint ? `hint: ${hint}\n` : ''}`);
  return exitCode;
}
