/**
 * partkit's programmatic API: one function per command (src/api/commands.ts), each taking one
 * options object and returning the result `--json` prints; the typed errors; and, for tools,
 * plans as values with the one renderer and the one runner. The library writes nothing to stdout,
 * stderr or files of its own: give it a `logger` or an `onEvent` callback to hear from it.
 * README "Use it from code" has a complete example.
 */
export {
  archiveExport,
  archiveList,
  archiveRelease,
  archiveRestore,
  configSchema,
  configShow,
  deprovision,
  doctor,
  FILL_DEFAULTS,
  maintain,
  migrateAbort,
  migrateDrop,
  migrateFill,
  migratePrep,
  migrateStatus,
  migrateSwap,
  migrateUnswap,
  ormFilter,
  partitionCreate,
  planProvision,
  provision,
  log,
  status,
  statusMetrics,
  verify,
} from './api/commands.js';
export { asPartkitError, openSession, type CommonOptions, type ConfigEvent, type ConnectionOptions, type PartkitEvent, type Session, type SessionKind } from './api/session.js';

// Results and the commands' own options.
export type { ArchiveExportOptions, ArchiveExportResult, MonthExport } from './archive/export.js';
export type { ArchiveListOptions, ArchiveListResult, ListedMonth, ListedTable, MonthState } from './archive/list.js';
export type { ArchiveRestoreOptions, ArchiveRestoreResult } from './archive/restore.js';
export type { S3Options } from './archive/targets/types.js';
export type { ResolvedConfig } from './commands/config.js';
export type { DoctorReport } from './commands/doctor.js';
export type { MaintainResult, MaintenanceEvent } from './maintain/maintain.js';
export type { PartitionCreateResult } from './partitions/create.js';
export type { ProvisionOptions, ProvisionResult } from './provision/provision.js';
export type { MaintenanceStatus, StatusMetrics, StatusResult, TableStatus } from './commands/status.js';
export type { LogOptions, LogResult, LoggedRun } from './commands/log.js';
export { METRIC_COLUMNS, type TableMetrics } from './verify/metrics.js';
export type { VerifyOptions, VerifyResult } from './commands/verify.js';
export type { CheckResult } from './core/checks/types.js';
export type { ArchiveReleaseOptions, ArchiveReleaseResult } from './archive/release.js';
export type { AbortResult as MigrateAbortResult } from './migrate/abort.js';
export type { DeprovisionOptions, DeprovisionResult } from './commands/deprovision.js';
export type { OrmFilter } from './core/orm-filter.js';
export type { DropResult } from './migrate/drop.js';
export type { FillBatchEvent, FillResult } from './migrate/fill.js';
export type { PrepResult } from './migrate/prep.js';
export type { MigrateStatus, MigrationPhase } from './migrate/status.js';
export type { SwapResult } from './migrate/swap.js';

// The config.
export { CONFIG_FILE_NAME, findConfig, loadConfig, resolveConfig, type Config, type ConfigFile, type ConfigOrigin, type TableConfig } from './core/config.js';

// Errors: every one carries exitCode (the CLI's) and hint (a command to run).
export {
  CheckFailedError,
  ConfigError,
  ConflictError,
  ConnectionError,
  ExitCode,
  IdentifierTooLongError,
  InternalError,
  InterruptedError,
  LockError,
  MissingCapabilityError,
  PartkitError,
  UsageError,
} from './core/errors.js';
export { StepFailedError } from './core/db.js';

// Plans as values, the one renderer and the one runner, for tools.
export { resolveConnection, type ConnectionTarget } from './core/connection.js';
export { Database, DEFAULT_EXECUTOR_OPTIONS, type ExecutorOptions, type StepRows } from './core/db.js';
export type { LogEvent, Logger } from './core/log.js';
export { renderMigrationFile, renderPlan, type MigrationsStep, type Plan, type RenderContext, type SqlFiles, type SqlStep, type Step } from './core/plan.js';
export { run, type RunOptions, type RunOutcome } from './core/runner.js';
export { PARTKIT_VERSION } from './core/version.js';
