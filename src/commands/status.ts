/**
 * `partkit status`: what is there now, for people. Per table the strategy and settings as
 * registered, every month with its range, estimated rows and size, the default partition, the
 * archived months; and the maintenance job with its last run. Read-only; `--json` has the same content.
 */
import type { CommandModule } from 'yargs';
import { METRIC_COLUMNS, readTableMetrics, type TableMetrics } from '../verify/metrics.js';
import { decideScheduler, inspect, type Capabilities, type Scheduler } from '../core/capabilities.js';
import { formatDuration } from '../verify/maintenance.js';
import { countRows, readArchivedMonths, readLastCronRun, readLastMaintenanceRun, readPartmanConfig, type ArchivedMonth, type CronRun, type MaintenanceRun, type ManagedTable, type PartmanConfig } from '../core/checks/state.js';
import type { Config, Strategy, TableConfig } from '../core/config.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { withOnlyTable } from '../core/table-option.js';
import type { Database } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { renderOpenMetrics } from '../verify/openmetrics.js';
import { controlTypeOf, coveredMonth, listPartitions, type Partition } from '../core/partitions.js';
import { crontabLine, findJob, jobName, type CronJob } from '../core/schedule.js';
import { registeredTable, schedulerInForce, settingsInForce, type SettingsInForce } from '../core/settings.js';
import { readOnce } from '../core/snapshot.js';
import { strategyOf } from '../strategies/index.js';
import { managedSettings } from '../strategies/registration.js';

/** Default rows are counted up to this many, so a huge default stays cheap to report. */
const DEFAULT_ROW_COUNT_LIMIT = 1_000_000;

export interface ChildStatus {
  readonly schema: string;
  readonly name: string;
  /** 'YYYY-MM' when the child is exactly one month in the table's zone. */
  readonly month: string | null;
  /** Wall-clock bounds in the table's zone, 'YYYY-MM-DD HH24:MI:SS'. */
  readonly from: string | null;
  readonly to: string | null;
  readonly bound: string;
  readonly estimatedRows: number;
  readonly bytes: number;
}

export interface TableStatus {
  readonly table: string;
  readonly exists: boolean;
  readonly partitioned: boolean;
  /** Who manages it (from the kit's managed_table / pg_partman's part_config); null when nobody does. */
  readonly strategy: Strategy | null;
  readonly interval: string;
  readonly premake: number;
  readonly retention: string | null;
  readonly archiveSchema: string | null;
  readonly timeZone: string;
  readonly children: readonly ChildStatus[];
  readonly default: { readonly schema: string; readonly name: string; readonly rows: number; readonly rowsCapped: boolean; readonly bytes: number } | null;
  readonly archived: readonly ArchivedMonth[];
}

export interface MaintenanceStatus {
  readonly scheduler: Scheduler;
  /** The pg_cron job partkit schedules (null without pg_cron, or when it is missing). */
  readonly job: (CronJob & { readonly name: string; readonly cronDatabase: string }) | null;
  readonly lastCronRun: CronRun | null;
  /** The kit's last finished run_maintenance, whoever ran it. */
  readonly lastRun: MaintenanceRun | null;
  /** Without pg_cron: the command an external scheduler should run. */
  readonly externalCommand: string | null;
}

export interface StatusResult {
  readonly database: string;
  readonly maintenance: MaintenanceStatus;
  readonly tables: readonly TableStatus[];
}

/** What status reads of one configured table (by index in the config in force). */
export interface TableStatusState {
  readonly managed: ManagedTable | null;
  readonly partConfig: PartmanConfig | null;
  /** Children with their bounds in the table's zone (the registered one, else the config's). */
  readonly partitions: readonly Partition[];
  /** The default partition's rows, counted up to DEFAULT_ROW_COUNT_LIMIT. */
  readonly defaultRows: number;
  readonly archived: readonly ArchivedMonth[];
}

/** Everything status reports, read in one read-only snapshot (src/core/snapshot.ts). */
export interface StatusState {
  readonly settings: SettingsInForce;
  readonly caps: Capabilities;
  /** The scheduler in force: the flag, else the recorded one, else what the server allows. */
  readonly scheduler: Scheduler;
  readonly tables: readonly TableStatusState[];
  /** The pg_cron job and its last run, when the scheduler is pg_cron and the job could be read. */
  readonly job: CronJob | null;
  readonly lastCronRun: CronRun | null;
  readonly lastRun: MaintenanceRun | null;
}

/** The settings a table's maintainer has recorded (the config's where none), the zone its months are in, its strategy. */
function registration(table: TableConfig, managed: ManagedTable | null, partConfig: PartmanConfig | null) {
  const strategy: Strategy | null = managed?.strategy ?? (partConfig ? 'partman' : null);
  const settings = strategy ? strategyOf(strategy).registeredSettings(table, managed, partConfig) : managedSettings(table, managed);
  return { strategy, settings, timeZone: managed?.timeZone ?? table.timeZone };
}

async function readTableStatus(db: Database, caps: Capabilities, settings: SettingsInForce, index: number): Promise<TableStatusState> {
  const table = settings.config.tables[index]!;
  const state = caps.tables[index]!;
  // The kit's row of the table: read with the settings, all rows at once.
  const managed = registeredTable(settings, table.name);
  const partConfig = await readPartmanConfig(db, caps, table.name);
  const { settings: registered, timeZone } = registration(table, managed, partConfig);
  const controlType = controlTypeOf(state.controlColumn.type);
  const partitions = state.partitioned && controlType ? await listPartitions(db, table.name, timeZone, controlType) : [];
  const defaultPartition = partitions.find((p) => p.isDefault);
  return {
    managed,
    partConfig,
    partitions,
    defaultRows: defaultPartition ? await countRows(db, defaultPartition, DEFAULT_ROW_COUNT_LIMIT) : 0,
    archived: registered.archiveSchema && state.exists ? await readArchivedMonths(db, registered.archiveSchema, table.name) : [],
  };
}

/** The pg_cron job partkit schedules and its last run; a job that cannot be read is reported as missing, with a warning. */
async function readCronJob(db: Database, caps: Capabilities, config: Config): Promise<{ job: CronJob | null; lastCronRun: CronRun | null }> {
  const cron = caps.extensions.pg_cron;
  const none = { job: null, lastCronRun: null };
  if (!cron.installed || !cron.databaseName) return none;
  // In this very database the read runs inside the snapshot, where a failed statement would end it: ask first.
  if (cron.databaseName === caps.database && cron.rights.usage === false) {
    db.log.warn(`cannot read pg_cron's tables in database ${cron.databaseName}: no USAGE on schema ${cron.rights.schema ?? 'cron'}`);
    return none;
  }
  try {
    const found = await findJob(db, caps, jobName(config, caps.database));
    return found ? { job: found, lastCronRun: await readLastCronRun(db, caps, found) } : none;
  } catch (error) {
    if (cron.databaseName === caps.database) throw error;
    db.log.warn(`cannot read pg_cron's tables in database ${cron.databaseName}: ${(error as Error).message}`);
    return none;
  }
}

/** Every read status reports from, in one read-only snapshot. */
export async function readStatusState(db: Database, fileConfig: Config, schedulerFlag: 'auto' | Scheduler | undefined): Promise<StatusState> {
  return readOnce(db, async () => {
    // The config file's settings, or (without one) those provision recorded in the database.
    const settings = await settingsInForce(db, fileConfig);
    const config = settings.config;
    const caps = await inspect(db, config);
    const scheduler = schedulerInForce(settings, schedulerFlag)?.scheduler ?? decideScheduler(caps, config).scheduler;
    const tables: TableStatusState[] = [];
    for (const index of config.tables.keys()) tables.push(await readTableStatus(db, caps, settings, index));
    const cron = scheduler === 'pg_cron' ? await readCronJob(db, caps, config) : { job: null, lastCronRun: null };
    return { settings, caps, scheduler, tables, ...cron, lastRun: await readLastMaintenanceRun(db, caps) };
  });
}

/** The report, from the state read: no server. */
export function statusOf(state: StatusState): StatusResult {
  const config = state.settings.config;
  const tables = config.tables.map((table, index): TableStatus => {
    const read = state.tables[index]!;
    const tableState = state.caps.tables[index]!;
    const { strategy, settings, timeZone } = registration(table, read.managed, read.partConfig);
    const defaultPartition = read.partitions.find((p) => p.isDefault);
    return {
      table: tableState.name,
      exists: tableState.exists,
      partitioned: tableState.partitioned,
      strategy,
      interval: settings.interval,
      premake: settings.premake,
      retention: settings.retention,
      archiveSchema: settings.archiveSchema,
      timeZone,
      children: read.partitions
        .filter((p) => !p.isDefault)
        .map((p) => ({ schema: p.schema, name: p.name, month: coveredMonth(p) ?? null, from: p.lower, to: p.upper, bound: p.bound, estimatedRows: p.estimatedRows, bytes: p.bytes })),
      default: defaultPartition
        ? { schema: defaultPartition.schema, name: defaultPartition.name, rows: read.defaultRows, rowsCapped: read.defaultRows >= DEFAULT_ROW_COUNT_LIMIT, bytes: defaultPartition.bytes }
        : null,
      archived: read.archived,
    };
  });
  const cronDatabase = state.caps.extensions.pg_cron.databaseName;
  const name = jobName(config, state.caps.database);
  return {
    database: state.caps.database,
    maintenance: {
      scheduler: state.scheduler,
      job: state.job && cronDatabase ? { ...state.job, name, cronDatabase } : null,
      lastCronRun: state.lastCronRun,
      lastRun: state.lastRun,
      externalCommand: state.scheduler === 'external' ? crontabLine(config) : null,
    },
    tables,
  };
}

export async function status(db: Database, fileConfig: Config, options: { scheduler?: 'auto' | Scheduler | undefined } = {}): Promise<StatusResult> {
  return statusOf(await readStatusState(db, fileConfig, options.scheduler));
}

/** `status --format prometheus`: the kit's metrics view, every managed table of the database. */
export interface StatusMetrics {
  readonly database: string;
  readonly tables: readonly TableMetrics[];
}

export async function statusMetrics(db: Database, config: Config): Promise<StatusMetrics> {
  return { database: db.name, tables: await readTableMetrics(db, config.kitSchema) };
}

/** OpenMetrics text for node_exporter's textfile collector: one gauge family per column of the view. */
export function renderPrometheus(result: StatusMetrics): string {
  return renderOpenMetrics(
    METRIC_COLUMNS.map(({ column, help }) => ({
      name: `partkit_${column}`,
      help,
      samples: result.tables.flatMap((row) => {
        const value = row.values[column];
        return value === null ? [] : [{ labels: { database: row.database, table: row.table }, value }];
      }),
    })),
  );
}

/** 1536 -> "1.5 kB". */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function renderMaintenance(m: MaintenanceStatus): string[] {
  const lines: string[] = [];
  if (m.scheduler === 'pg_cron') {
    if (!m.job) lines.push('maintenance: pg_cron, but the job is missing (run `partkit provision`)');
    else {
      lines.push(`maintenance: pg_cron job ${m.job.name} (#${m.job.jobid}) "${m.job.schedule}" in database ${m.job.database}, ${m.job.active ? 'active' : 'INACTIVE'} (job lives in ${m.job.cronDatabase})`);
      const run = m.lastCronRun;
      lines.push(run ? `  last cron run: ${run.status} at ${run.startTime ?? '?'}${run.status === 'failed' && run.returnMessage ? `: ${run.returnMessage.trim()}` : ''}` : '  last cron run: none yet');
    }
  } else {
    lines.push('maintenance: external scheduler (no pg_cron); it should run:', `  ${m.externalCommand ?? ''}`);
  }
  const run = m.lastRun;
  lines.push(run ? `  last maintenance: #${run.id} finished ${run.finishedAt} (${formatDuration(run.ageSeconds)} ago): ${run.ok ? 'ok' : 'FAILED'}${run.detail ? `, ${run.detail}` : ''}${run.failures.length ? `: ${run.failures.join('; ')}` : ''}` : '  last maintenance: none recorded');
  return lines;
}

function renderTable(t: TableStatus): string[] {
  if (!t.exists) return [`${t.table}: does not exist`];
  if (!t.partitioned) return [`${t.table}: exists but is not partitioned`];
  const lines = [
    `${t.table}: ${t.strategy ?? 'not registered'}, interval ${t.interval}, premake ${t.premake}, retention ${t.retention ?? 'none'}${t.retention && t.archiveSchema ? ` (then moved to ${t.archiveSchema})` : ''}, zone ${t.timeZone}`,
  ];
  const nameWidth = Math.max(5, ...t.children.map((c) => `${c.schema}.${c.name}`.length));
  lines.push(`  ${'CHILD'.padEnd(nameWidth)}  ${'FROM'.padEnd(19)}  ${'TO'.padEnd(19)}  ${'EST. ROWS'.padStart(10)}  SIZE`);
  for (const child of t.children) {
    lines.push(`  ${`${child.schema}.${child.name}`.padEnd(nameWidth)}  ${(child.from ?? '').padEnd(19)}  ${(child.to ?? '').padEnd(19)}  ${String(child.estimatedRows).padStart(10)}  ${formatBytes(child.bytes)}`);
  }
  if (t.children.length === 0) lines.push('  (no monthly children)');
  lines.push(t.default ? `  default ${t.default.schema}.${t.default.name}: ${t.default.rowsCapped ? 'at least ' : ''}${t.default.rows} row(s), ${formatBytes(t.default.bytes)}` : '  default partition: none');
  if (t.archiveSchema) {
    lines.push(
      t.archived.length === 0
        ? `  archive ${t.archiveSchema}: empty`
        : `  archive ${t.archiveSchema}: ${t.archived.map((a) => `${a.name} (${a.month ?? '?'}, ~${a.estimatedRows} rows, ${formatBytes(a.bytes)})`).join(', ')}`,
    );
  }
  return lines;
}

export function renderStatus(result: StatusResult): string {
  const lines = [`database ${result.database}`, ...renderMaintenance(result.maintenance)];
  for (const table of result.tables) lines.push('', ...renderTable(table));
  return lines.join('\n');
}

interface StatusArgs extends GlobalOptions {
  readonly scheduler?: 'auto' | Scheduler;
  readonly table?: string;
  readonly format?: 'text' | 'prometheus';
}

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const statusCommand: CommandModule<GlobalOptions, StatusArgs> = {
  command: 'status',
  describe: 'Show each table: strategy, settings, months with ranges, rows and sizes, the default, the archive, and the maintenance job',
  builder: (yargs) =>
    yargs
      .option('scheduler', { choices: ['auto', 'pg_cron', 'external'] as const, default: 'auto' as const, describe: 'Scheduler to report; auto: the one provision recorded in the database, else pg_cron when it is preloaded, else external' })
      .option('table', { type: 'string', describe: 'Only this table of the config' })
      .option('format', { choices: ['text', 'prometheus'] as const, default: 'text' as const, describe: "prometheus: OpenMetrics text of the kit's metrics view, for node_exporter's textfile collector (see docs/monitoring.md)" })
      .example('$0 status --format prometheus > /var/lib/prometheus/node-exporter/partkit.prom.$$ && mv /var/lib/prometheus/node-exporter/partkit.prom.$$ /var/lib/prometheus/node-exporter/partkit.prom', 'for node_exporter\'s textfile collector (Debian\'s folder), from cron'),
  handler: async (args) => {
    if (args.format === 'prometheus') {
      await runCommand(
        { ...args, readOnly: true },
        async (ctx) => {
          if (args.json) throw new UsageError('--format prometheus and --json exclude each other.', 'Use one of them: partkit status --format prometheus');
          return statusMetrics(await ctx.database(), withOnlyTable(ctx.config, args.table, 'status'));
        },
        renderPrometheus,
      );
      return;
    }
    await runCommand({ ...args, readOnly: true }, async (ctx) => status(await ctx.database(), withOnlyTable(ctx.config, args.table, 'status'), { scheduler: args.scheduler }), renderStatus);
  },
};
