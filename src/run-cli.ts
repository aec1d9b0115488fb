/**
 * The command line as a function: `runCli(argv, { env })` parses the arguments, runs the command and
 * returns its exit code, without touching process.exitCode and without exiting. `src/cli.ts` (the
 * `partkit` binary) is this with the process's own arguments and environment; tests call it in
 * process instead of spawning node for every run.
 */
import yargs from 'yargs';
import { commandsFor } from './commands/index.js';
import { reportError, type CliSession } from './core/context.js';
import { DEFAULT_EXECUTOR_OPTIONS } from './core/db.js';
import { ExitCode, UsageError } from './core/errors.js';
import { PARTKIT_VERSION } from './core/version.js';

export interface RunCliOptions {
  /** The environment the command reads (DATABASE_URL, PG*, PARTKIT_CONFIG, ...); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Terminal width for --help; default the width of stdout. */
  readonly columns?: number;
  /** Stops the run (src/cli.ts aborts it on SIGINT/SIGTERM): the statement in progress is cancelled and rolled back. */
  readonly signal?: AbortSignal;
}

/**
 * yargs turns `--junit` without a file into '' and `--rows abc` into NaN, and the command would
 * go on with them: both are refused here, naming the option, before anything connects.
 */
function refuseEmptyValues(argv: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '$0' || /[A-Z]/.test(key)) continue;
    if (typeof value === 'number' && Number.isNaN(value)) throw new UsageError(`--${key} needs a number.`, `For example: --${key} 10`);
    if (value === '') throw new UsageError(`--${key} needs a value.`, `See partkit ${[...(argv._ as unknown[]), '--help'].join(' ')}`);
  }
}

/**
 * yargs lays out a command's whole help before every run of it, in case the handler asks to show it;
 * partkit's handlers never do (errors go through .fail and name `--help`), and that layout was more
 * than half of a run's own CPU (30 to 5 ms per in-process run). The usage object is reached the way
 * yargs 18's own command module reaches it; were it to move, the run goes on as before, only slower.
 * `--help` itself does not go through this cache.
 */
function skipHelpLayoutPerRun(cli: unknown): void {
  const usage = (cli as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

export async function runCli(argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  const json = argv.includes('--json');
  const session: CliSession = { env: options.env ?? process.env, exitCode: ExitCode.ok };
  let cli = yargs([...argv])
    .scriptName('partkit')
    .usage('$0 <command> [options]\n\nMonthly time partitions for PostgreSQL: pg_partman + pg_cron where the server has them, a plpgsql fallback where not.')
    .option('database-url', { type: 'string', describe: 'postgres:// URL (else DATABASE_URL, else PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE)' })
    .option('config', { type: 'string', describe: 'JSON config file (else PARTKIT_CONFIG, else partkit.json in the working directory, else the four Semibot tables)' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output on stdout' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print the SQL that would run (a psql script) and change nothing (the session is read-only)' })
    .option('lock-timeout', {
      type: 'string',
      describe: `The longest one statement waits for a lock, default ${DEFAULT_EXECUTOR_OPTIONS.lockTimeout} (writers queued behind it wait no longer); then it is rolled back and retried after a jittered back-off`,
    })
    .option('lock-retries', { type: 'number', describe: `Attempts per step when a lock is busy, default ${DEFAULT_EXECUTOR_OPTIONS.retries}; then exit 5, naming the session that holds the lock` })
    .option('verbose', { type: 'boolean', default: false, describe: 'Log every statement to stderr' })
    // What a command needs from this layer: its name (application_name `partkit <command>`) and the stop signal.
    .middleware((args) => {
      args.command = args._.map(String).join(' ');
      if (options.signal) args.signal = options.signal;
    })
    .strict()
    .demandCommand(1, 'Name a command; see partkit --help.')
    .recommendCommands()
    .help()
    .alias('help', 'h')
    // partkit's own version: yargs would otherwise read the package.json nearest the working directory (the app's).
    .version(PARTKIT_VERSION)
    .epilogue('SIGINT or SIGTERM stops a run: the statement in progress is cancelled on the server and rolled back (exit 130, or 143 for SIGTERM); run the command again to continue.')
    .exitProcess(false)
    .wrap(Math.min(110, options.columns ?? process.stdout.columns ?? 100))
    .middleware(refuseEmptyValues, true)
    .fail((message, error) => {
      // Throwing stops yargs before any command runs; the catch below reports it once.
      throw error ?? new UsageError(message, 'See partkit --help.');
    });
  for (const command of await commandsFor(argv)) cli = cli.command(command);
  skipHelpLayoutPerRun(cli);
  try {
    // The session reaches every handler as args.session (yargs merges this context into argv).
    // With a callback, yargs hands over what --help and --version print instead of printing it.
    await cli.parseAsync([...argv], { session }, (_error, _args, output) => {
      if (output) process.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
    });
    return session.exitCode;
  } catch (error) {
    return reportError(error, json);
  }
}
