/**
 * One function per command, each taking one options object (src/api/session.ts: where to connect,
 * the config, dryRun, signal, logger/onEvent) plus the command's own options, and returning the
 * result `--json` prints. Each opens its own session and closes it; errors are PartkitErrors.
 * A failed check is a result, not an error: verify returns `ok: false`, maintain `failed > 0`.
 */
import { archiveExport as exportArchive, type ArchiveExportOptions, type ArchiveExportResult } from '../archive/export.js';
import { archiveList as listArchive, type ArchiveListOptions, type ArchiveListResult } from '../archive/list.js';
import { archiveRelease as releaseArchive, type ArchiveReleaseOptions, type ArchiveReleaseResult } from '../archive/release.js';
import { archiveRestore as restoreArchive, type ArchiveRestoreOptions, type ArchiveRestoreResult } from '../archive/restore.js';
import { deprovision as runDeprovision, type DeprovisionOptions, type DeprovisionResult } from '../commands/deprovision.js';
import { describeConfig, type ResolvedConfig } from '../commands/config.js';
import { doctor as runDoctor, type DoctorReport } from '../commands/doctor.js';
import { maintain as runMaintain, type MaintainResult } from '../maintain/maintain.js';
import { parseMonth, partitionCreate as createPartitions, requestedMonths, type PartitionCreateResult } from '../partitions/create.js';
import { planProvision as planProvisionOn, provision as runProvision, readProvisionState, type ProvisionOptions, type ProvisionResult } from '../provision/provision.js';
import { maintenanceLog, type LogOptions, type LogResult } from '../commands/log.js';
import { status as runStatus, statusMetrics as readStatusMetrics, type StatusMetrics, type StatusResult } from '../commands/status.js';
import { verify as runVerify, type VerifyOptions, type VerifyResult } from '../commands/verify.js';
import type { S3Options } from '../archive/targets/types.js';
import type { Scheduler } from '../core/capabilities.js';
import { configJsonSchema, type Strategy } from '../core/config.js';
import { parseQualifiedName } from '../core/identifiers.js';
import { ormFilterOf, type OrmFilter } from '../core/orm-filter.js';
import type { Plan } from '../core/plan.js';
import { abort, type AbortResult } from '../migrate/abort.js';
import { drop, type DropResult } from '../migrate/drop.js';
import { fill, type FillResult } from '../migrate/fill.js';
import { prep, type PrepResult } from '../migrate/prep.js';
import { migrateStatus as readMigrateStatus, type MigrateStatus } from '../migrate/status.js';
import { swap, unswap, type SwapResult } from '../migrate/swap.js';
import { configOf, withSession, type CommonOptions } from './session.js';

type Options<Own> = CommonOptions & Own;

/** What the server offers, the user may do, each table's state, and the strategy and scheduler partkit would use. */
export async function doctor(options: Options<{ readonly strategy?: 'auto' | Strategy | undefined }> = {}): Promise<DoctorReport> {
  return withSession(options, { command: 'doctor', readOnly: true }, ({ database, config }) => runDoctor(database, config, options.strategy));
}

/** Installs the kit or pg_partman's set-up, creates or adopts the tables, registers them, schedules maintenance. */
export async function provision(options: Options<Omit<ProvisionOptions, 'dryRun'>> = {}): Promise<ProvisionResult> {
  return withSession(options, { command: 'provision' }, ({ database, config }) => runProvision(database, config, { strategy: options.strategy, scheduler: options.scheduler, format: options.format, dryRun: options.dryRun }));
}

/** The plan provision would run, as a value: render it with `renderPlan`, or run it with `run`. Changes nothing. */
export async function planProvision(options: Options<Pick<ProvisionOptions, 'strategy' | 'scheduler'>> = {}): Promise<{ readonly plan: Plan; readonly database: string; readonly lockTimeout: string }> {
  return withSession(options, { command: 'provision', readOnly: true }, async ({ database, config }) => {
    const state = await readProvisionState(database, config);
    const { plan } = planProvisionOn(state, { strategy: options.strategy, scheduler: options.scheduler }, state.caps.server.now);
    return { plan, database: database.name, lockTimeout: database.lockTimeout };
  });
}

/** Undoes provision: each table's registration and, once none is left, the schedule and the kit's schema; tables and rows stay. */
export async function deprovision(options: Options<Omit<DeprovisionOptions, 'dryRun'>> = {}): Promise<DeprovisionResult> {
  return withSession(options, { command: 'deprovision' }, ({ database, config }) => runDeprovision(database, config, { table: options.table, dryRun: options.dryRun }));
}

/** One maintenance run now (what the pg_cron job or your scheduler runs). */
export async function maintain(options: Options<{ readonly table?: string | undefined }> = {}): Promise<MaintainResult> {
  return withSession(options, { command: 'maintain' }, ({ database, config }) => runMaintain(database, config, { dryRun: options.dryRun, table: options.table }));
}

/** Read-only health checks; `ok` is false when one failed. */
export async function verify(options: Options<VerifyOptions> = {}): Promise<VerifyResult> {
  return withSession(options, { command: 'verify', readOnly: true }, ({ database, config }) => runVerify(database, config, options));
}

/** Per table: months, rows, the default partition, archive; and the maintenance schedule and its last run. */
export async function status(options: Options<{ readonly scheduler?: 'auto' | Scheduler | undefined }> = {}): Promise<StatusResult> {
  return withSession(options, { command: 'status', readOnly: true }, ({ database, config }) => runStatus(database, config, { scheduler: options.scheduler }));
}

/** The figures `status --format prometheus` prints, per managed table (the kit's metrics view). */
export async function statusMetrics(options: Options<object> = {}): Promise<StatusMetrics> {
  return withSession(options, { command: 'status', readOnly: true }, ({ database, config }) => readStatusMetrics(database, config));
}

/** The kit's maintenance log: the last runs, per table, with their errors. */
export async function log(options: Options<LogOptions> = {}): Promise<LogResult> {
  return withSession(options, { command: 'log', readOnly: true }, ({ database, config }) => maintenanceLog(database, config, options));
}

/** Creates months of one table: `month` (YYYY-MM, "current" or "next"), or `from` and `to` (inclusive). */
export async function partitionCreate(
  options: Options<{ readonly table: string; readonly month?: string | undefined; readonly from?: string | undefined; readonly to?: string | undefined }>,
): Promise<PartitionCreateResult> {
  const months = requestedMonths(options);
  return withSession(options, { command: 'partition create' }, ({ database, config }) => createPartitions(database, config, options.table, months, { dryRun: options.dryRun }));
}

interface TableOption {
  /** The table as SQL writes it: schema.table, "Mixed Case". */
  readonly table: string;
}

/** migrate phase 1: `<table>_partitioned` with the same columns and indexes, its months and a default partition. */
export async function migratePrep(options: Options<TableOption & { readonly strategy?: 'auto' | Strategy | undefined; readonly foreignKeys?: 'refuse' | 'drop' | undefined }>): Promise<PrepResult> {
  parseQualifiedName(options.table);
  return withSession(options, { command: 'migrate prep' }, ({ database, config }) => prep(database, config, options.table, { strategy: options.strategy, foreignKeys: options.foreignKeys, dryRun: options.dryRun }));
}

/** The defaults of `partkit migrate fill`. */
export const FILL_DEFAULTS = { batchSize: 10_000, sleepMs: 0 } as const;

/** migrate phase 2: copies the rows in batches (resumable); each batch arrives as a `fill-batch` event. */
export async function migrateFill(
  options: Options<TableOption & { readonly batchSize?: number | undefined; readonly sleepMs?: number | undefined; readonly from?: string | undefined; readonly to?: string | undefined; readonly rescan?: boolean | undefined }>,
): Promise<FillResult> {
  parseQualifiedName(options.table);
  const from = options.from === undefined ? undefined : parseMonth(options.from, 'from');
  const to = options.to === undefined ? undefined : parseMonth(options.to, 'to');
  return withSession(options, { command: 'migrate fill' }, ({ database, config }) =>
    fill(database, config, options.table, {
      batchSize: options.batchSize ?? FILL_DEFAULTS.batchSize,
      sleepMs: options.sleepMs ?? FILL_DEFAULTS.sleepMs,
      from,
      to,
      rescan: options.rescan,
      dryRun: options.dryRun,
      onBatch: options.onEvent,
    }),
  );
}

/** migrate phase 3: replays captured changes, then renames under one short lock. */
export async function migrateSwap(options: Options<TableOption & { readonly foreignKeys?: 'refuse' | 'drop' | undefined }>): Promise<SwapResult> {
  parseQualifiedName(options.table);
  return withSession(options, { command: 'migrate swap' }, ({ database, config }) => swap(database, config, options.table, { dryRun: options.dryRun, foreignKeys: options.foreignKeys }));
}

/** Undoes swap: the original becomes the table again, with every change made since the swap replayed into it. */
export async function migrateUnswap(options: Options<TableOption>): Promise<SwapResult> {
  parseQualifiedName(options.table);
  return withSession(options, { command: 'migrate unswap' }, ({ database, config }) => unswap(database, config, options.table, { dryRun: options.dryRun }));
}

/** migrate phase 4: drains the capture, compares a sample, drops `<table>_retired` (only with `yes: true`). */
export async function migrateDrop(options: Options<TableOption & { readonly yes?: boolean | undefined }>): Promise<DropResult> {
  parseQualifiedName(options.table);
  return withSession(options, { command: 'migrate drop', readOnly: options.yes !== true }, ({ database, config }) => drop(database, config, options.table, { yes: options.yes, dryRun: options.dryRun }));
}

/** Undoes prep and fill (pgslice's unprep): the capture triggers, the capture and the copy go; after swap it refuses and names unswap. */
export async function migrateAbort(options: Options<TableOption>): Promise<AbortResult> {
  parseQualifiedName(options.table);
  return withSession(options, { command: 'migrate abort' }, ({ database, config }) => abort(database, config, options.table, { dryRun: options.dryRun }));
}

/** Where a migration stands: phase, capture backlog, rows copied and ETA (read-only). */
export async function migrateStatus(options: Options<TableOption>): Promise<MigrateStatus> {
  parseQualifiedName(options.table);
  return withSession(options, { command: 'migrate status', readOnly: true }, ({ database, config }) => readMigrateStatus(database, config, options.table));
}

/** An s3:// target reads its endpoint, region and credentials (AWS_*) from the call's `env` unless `s3.env` says otherwise. */
function withS3Env<O extends CommonOptions & { readonly s3?: S3Options | undefined }>(options: O): O {
  return options.env === undefined || options.s3?.env !== undefined ? options : { ...options, s3: { ...options.s3, env: options.env } };
}

/** Writes every archived month to a folder or s3://bucket/prefix, with a manifest; exported months are skipped. */
export async function archiveExport(options: Options<Omit<ArchiveExportOptions, 'dryRun'>>): Promise<ArchiveExportResult> {
  return withSession(options, { command: 'archive export' }, ({ database, config }) => exportArchive(database, config, withS3Env(options)));
}

/** Loads one exported month back, checked against its manifest. */
export async function archiveRestore(options: Options<Omit<ArchiveRestoreOptions, 'dryRun'>>): Promise<ArchiveRestoreResult> {
  return withSession(options, { command: 'archive restore' }, ({ database, config }) => restoreArchive(database, config, withS3Env(options)));
}

/** Lets go of a month `archiveRestore` holds attached (`keep`): the next maintenance archives it again. */
export async function archiveRelease(options: Options<Omit<ArchiveReleaseOptions, 'dryRun'>>): Promise<ArchiveReleaseResult> {
  return withSession(options, { command: 'archive release' }, ({ database, config }) => releaseArchive(database, config, { table: options.table, month: options.month, dryRun: options.dryRun }));
}

/** Where each month is: hot, archived, exported, dropped or purged. */
export async function archiveList(options: Options<ArchiveListOptions> = {}): Promise<ArchiveListResult> {
  return withSession(options, { command: 'archive list', readOnly: true }, ({ database, config }) => listArchive(database, config, withS3Env(options)));
}

type ConfigOptions = Pick<CommonOptions, 'config' | 'env' | 'cwd'>;

/** The config as partkit resolves it (defaults applied) and where it came from. Does not connect. */
export async function configShow(options: ConfigOptions = {}): Promise<ResolvedConfig> {
  return describeConfig(await configOf(options));
}

/** The JSON Schema of the config file (what `partkit config schema` prints). */
export function configSchema(): Record<string, unknown> {
  return configJsonSchema();
}

/** What an ORM's schema tool must leave alone under this config (docs/orm.md). Does not connect. */
export async function ormFilter(options: ConfigOptions = {}): Promise<OrmFilter> {
  return ormFilterOf(await configOf(options));
}
