#!/usr/bin/env node
/**
 * The partkit command line. Each command lives in its own module under src/commands/.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index.js';
import { reportError } from './core/context.js';
import { DEFAULT_EXECUTOR_OPTIONS } from './core/db.js';
import { ExitCode, UsageError } from './core/errors.js';

const json = process.argv.includes('--json');

/**
 * SIGINT and SIGTERM stop the run: the library cancels the statement in progress on the server
 * and rolls it back, the command reports InterruptedError (exit 130, or 143 for SIGTERM) and
 * closes its connections, which releases the run lock. A second signal, or a run still going
 * 10 s later, exits at once. The library installs no handlers: this layer passes the signal down.
 */
const stop = new AbortController();
const exitCodeOf = (signal: NodeJS.Signals) => (signal === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stop.signal.aborted) {
      process.stderr.write(`partkit: ${signal} again: exiting now.\n`);
      process.exit(exitCodeOf(signal));
    }
    process.stderr.write(`partkit: ${signal}: stopping (the statement in progress is cancelled and rolled back)...\n`);
    stop.abort(signal);
    setTimeout(() => {
      process.stderr.write('partkit: still running 10 s after the signal: exiting now.\n');
      process.exit(exitCodeOf(signal));
    }, 10_000).unref();
  });
}

let cli = yargs(hideBin(process.argv))
  .scriptName('partkit')
  .usage('$0 <command> [options]\n\nMonthly time partitions for PostgreSQL: pg_partman + pg_cron where the server has them, a plpgsql fallback where not.')
  .option('database-url', { type: 'string', describe: 'postgres:// URL (else DATABASE_URL, else PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE)' })
  .option('config', { type: 'string', describe: 'JSON config file (else PARTKIT_CONFIG, else the four Semibot tables)' })
  .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output on stdout' })
  .option('dry-run', { type: 'boolean', default: false, describe: 'Print the SQL that would run (a psql script) and change nothing (the session is read-only)' })
  .option('lock-timeout', {
    type: 'string',
    describe: `The longest one statement waits for a lock, default ${DEFAULT_EXECUTOR_OPTIONS.lockTimeout} (writers queued behind it wait no longer); then it is rolled back and retried after a jittered back-off`,
  })
  .option('lock-retries', { type: 'number', describe: `Attempts per step when a lock is busy, default ${DEFAULT_EXECUTOR_OPTIONS.retries}; then exit 5, naming the session that holds the lock` })
  .option('verbose', { type: 'boolean', default: false, describe: 'Log every statement to stderr' })
  // What a command needs from this layer: its name (application_name `partkit <command>`) and the stop signal.
  .middleware((argv) => {
    argv.command = argv._.map(String).join(' ');
    argv.signal = stop.signal;
  })
  .strict()
  .demandCommand(1, 'Name a command; see partkit --help.')
  .recommendCommands()
  .help()
  .alias('help', 'h')
  .version()
  .epilogue('SIGINT or SIGTERM stops a run: the statement in progress is cancelled on the server and rolled back (exit 130, or 143 for SIGTERM); run the command again to continue.')
  .wrap(Math.min(110, process.stdout.columns ?? 100))
  .fail((message, error) => {
    // Throwing stops yargs before any command runs; the catch below reports it once.
    throw error ?? new UsageError(message, 'See partkit --help.');
  });

for (const command of commands) cli = cli.command(command);

try {
  await cli.parseAsync();
} catch (error) {
  process.exitCode = reportError(error, json);
}
