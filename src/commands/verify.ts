/**
 * `partkit verify`: read-only health checks for CI. Every configured table is checked for its
 * shape, month coverage, default partition, registration, retention and indexes; the database
 * for the kit, extension versions and the maintenance schedule. Exit 0 when all pass, 1 if not.
 */
import { writeFile } from 'node:fs/promises';
import type { CommandModule } from 'yargs';
import { decideScheduler, inspect, type Scheduler } from '../core/capabilities.js';
import { checkExtensions, checkKit, checkMaintenance, checkSettings, formatDuration, type MaintenanceAgeLimit } from '../verify/maintenance.js';
import { maxMaintenanceAgeSeconds } from '../core/cron.js';
import { checkTable } from '../verify/table-checks.js';
import type { CheckResult } from '../core/checks/types.js';
import type { Config } from '../core/config.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { withOnlyTable } from '../core/table-option.js';
import type { Database } from '../core/db.js';
import { ExitCode, UsageError } from '../core/errors.js';
import { renderJunit } from '../verify/junit.js';
import { refuseMissingKitRights } from '../core/grants.js';
import { schedulerInForce, settingsInForce } from '../core/settings.js';
import { readOnce } from '../core/snapshot.js';
import { checkCitusTable } from '../citus/report.js';

export interface VerifyOptions {
  /** Rows tolerated in each default partition (default 0). */
  readonly maxDefaultRows?: number | undefined;
  /**
   * With an external scheduler: how old the last maintenance may be, e.g. "2h", "90m", "1d".
   * Default: derived from maintenance.schedule (twice the longest gap between runs, plus 15 minutes).
   */
  readonly maxMaintenanceAge?: string | undefined;
  /** Which scheduler to expect; auto: the one provision recorded, else pg_cron when it is preloaded, else external. */
  readonly scheduler?: 'auto' | Scheduler | undefined;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

const DURATION = /^\s*(\d+)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?)\s*$/i;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "2h", "90m", "1 day", "3600s" -> seconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  const unit = match?.[2]?.toLowerCase();
  const seconds = match && unit ? Number(match[1]) * UNIT_SECONDS[unit[0]!]! : 0;
  if (!match || seconds <= 0) {
    throw new UsageError(`--max-maintenance-age "${text}" is not a duration.`, 'Use e.g. 90m, 2h or 1d.');
  }
  return seconds;
}

/** --max-maintenance-age when given, else what the configured schedule implies. */
export function maintenanceAgeLimit(config: Config, maxMaintenanceAge: string | undefined): MaintenanceAgeLimit {
  if (maxMaintenanceAge !== undefined) {
    const seconds = parseDuration(maxMaintenanceAge);
    return { seconds, label: `--max-maintenance-age ${formatDuration(seconds)}` };
  }
  const seconds = maxMaintenanceAgeSeconds(config.maintenance.schedule);
  return { seconds, label: `${formatDuration(seconds)} (one missed run of the schedule "${config.maintenance.schedule}" plus 15m; --max-maintenance-age sets another limit)` };
}

function checkOptions(options: VerifyOptions, config: Config): { maxDefaultRows: number; maxAge: MaintenanceAgeLimit } {
  const maxDefaultRows = options.maxDefaultRows ?? 0;
  if (!Number.isInteger(maxDefaultRows) || maxDefaultRows < 0) {
    throw new UsageError(`--max-default-rows must be a whole number of 0 or more, not ${String(options.maxDefaultRows)}.`);
  }
  return { maxDefaultRows, maxAge: maintenanceAgeLimit(config, options.maxMaintenanceAge) };
}

/** The exit code travels with the result but stays out of the --json document. */
function withExitCode(result: VerifyResult): VerifyResult {
  return Object.defineProperty(result, 'exitCode', { value: result.ok ? ExitCode.ok : ExitCode.checkFailed, enumerable: false });
}

export async function verify(db: Database, fileConfig: Config, options: VerifyOptions = {}): Promise<VerifyResult> {
  checkOptions(options, fileConfig); // bad options are refused before anything is read
  // A user who may not read the kit is told the GRANTs before the settings are read from it.
  await refuseMissingKitRights(db, fileConfig, 'read', 'verify');
  // Every check reads the same moment: one read-only snapshot, with the server's clock fixed at its start.
  // (The checks still read as they go: splitting them into reads and pure checks is open, issue 24.)
  const checks = await readOnce(db, async () => {
    // The config file's settings, or (without one) those provision recorded in the database.
    const settings = await settingsInForce(db, fileConfig);
    const config = settings.config;
    const { maxDefaultRows, maxAge } = checkOptions(options, config);
    const caps = await inspect(db, config);
    const scheduler = schedulerInForce(settings, options.scheduler)?.scheduler ?? decideScheduler(caps, config).scheduler;
    const found: CheckResult[] = [await checkKit(db, caps, config), checkExtensions(caps)];
    if (caps.kit.installed) found.push(checkSettings(settings, options.scheduler, caps.database));
    found.push(...(await checkMaintenance(db, caps, config, scheduler, maxAge, options.scheduler === 'pg_cron')));
    for (const [index, table] of config.tables.entries()) {
      found.push(...(await checkTable(db, caps, config, table, caps.tables[index]!, { maxDefaultRows })));
      found.push(...checkCitusTable(caps, table, index));
    }
    return found;
  });
  return withExitCode({ ok: checks.every((check) => check.ok), checks });
}

/** Suites by table; database-wide checks go in a suite named "database". */
export function verifyJunit(result: VerifyResult, timestamp: Date = new Date()): string {
  return renderJunit(
    'partkit verify',
    result.checks.map((check) => ({ suite: check.table ?? 'database', name: check.check, ok: check.ok, detail: check.detail })),
    timestamp,
  );
}

function useColour(): boolean {
  return process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
}

export function renderVerify(result: VerifyResult, colour = useColour()): string {
  const paint = (code: number, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const failed = result.checks.filter((check) => !check.ok).length;
  const warnings = result.checks.filter((check) => check.warning).length;
  const tableWidth = Math.max(8, ...result.checks.map((check) => (check.table ?? '(database)').length));
  const checkWidth = Math.max(5, ...result.checks.map((check) => check.check.length));
  const lines = [
    result.ok ? paint(32, `partkit verify: all ${result.checks.length} checks passed${warnings > 0 ? ` (${warnings} with a warning)` : ''}`) : paint(31, `partkit verify: ${failed} of ${result.checks.length} checks FAILED`),
    '',
    `       ${'TABLE'.padEnd(tableWidth)}  ${'CHECK'.padEnd(checkWidth)}  DETAIL`,
  ];
  for (const check of result.checks) {
    const mark = !check.ok ? paint(31, '✗ FAIL') : check.warning ? paint(33, '! warn') : paint(32, '✓ pass');
    lines.push(`${mark} ${(check.table ?? '(database)').padEnd(tableWidth)}  ${check.check.padEnd(checkWidth)}  ${check.detail}`);
  }
  return lines.join('\n');
}

interface VerifyArgs extends GlobalOptions {
  readonly table?: string;
  readonly maxDefaultRows?: number;
  readonly maxMaintenanceAge?: string;
  readonly junit?: string;
  readonly scheduler?: 'auto' | Scheduler;
}

async function writeJunit(file: string, result: VerifyResult): Promise<void> {
  try {
    await writeFile(file, verifyJunit(result));
  } catch (error) {
    throw new UsageError(`Cannot write the JUnit report to ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`, 'Check the path given to --junit.');
  }
}

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const verifyCommand: CommandModule<GlobalOptions, VerifyArgs> = {
  command: 'verify',
  describe: 'Check the partition sets, registration, retention, indexes and maintenance schedule (exit 1 if a check fails; for CI)',
  builder: (yargs) =>
    yargs
      .option('max-default-rows', { type: 'number', default: 0, describe: 'Rows tolerated in each default partition' })
      .option('max-maintenance-age', { type: 'string', describe: 'Without pg_cron: the last maintenance must have finished within this time (e.g. 90m, 2h, 1d); default: twice the longest gap of maintenance.schedule, plus 15m (2h15m for hourly)' })
      .option('scheduler', { choices: ['auto', 'pg_cron', 'external'] as const, default: 'auto' as const, describe: 'Scheduler to expect; auto: the one provision recorded in the database, else pg_cron when it is preloaded, else external' })
      .option('table', { type: 'string', describe: 'Only this table of the config (and the database-wide checks)' })
      .option('junit', { type: 'string', describe: 'Also write a JUnit XML report to this file (one test case per check)' }),
  handler: async (args) => {
    await runCommand(
      { ...args, readOnly: true },
      async (ctx) => {
        const result = await verify(await ctx.database(), withOnlyTable(ctx.config, args.table, 'verify'), { maxDefaultRows: args.maxDefaultRows, maxMaintenanceAge: args.maxMaintenanceAge, scheduler: args.scheduler });
        if (args.junit !== undefined) await writeJunit(args.junit, result);
        return result;
      },
      (result) => renderVerify(result),
    );
  },
};
