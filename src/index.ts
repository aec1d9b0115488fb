/**
 * partkit's programmatic API: the same functions the commands call. Each takes a connected
 * `Database` and a resolved `Config`, and returns the result the command prints.
 */
export { loadConfig, resolveConfig, type Config, type TableConfig } from './core/config.js';
export { Database, DEFAULT_EXECUTOR_OPTIONS } from './core/db.js';
export { ExitCode, PartkitError } from './core/errors.js';
export { doctor, type DoctorReport } from './commands/doctor.js';
export { provision, planProvision, type ProvisionOptions, type ProvisionResult } from './commands/provision.js';
export { maintain, type MaintainResult, type MaintenanceEvent } from './commands/maintain.js';
export { verify, verifyJunit, type VerifyOptions, type VerifyResult } from './commands/verify.js';
export { status, type StatusResult, type TableStatus, type MaintenanceStatus } from './commands/status.js';
export { partitionCreate, planPartitionCreate } from './commands/partition-create.js';
export { archiveExport, type ArchiveExportOptions, type ArchiveExportResult } from './archive/export.js';
export type { CheckResult } from './core/checks/types.js';
export { archiveRestore, type ArchiveRestoreOptions, type ArchiveRestoreResult } from './archive/restore.js';
export { archiveList, type ArchiveListOptions, type ArchiveListResult } from './archive/list.js';
export { abort as migrateAbort, type AbortResult as MigrateAbortResult } from './migrate/abort.js';
export { archiveRelease, type ArchiveReleaseOptions, type ArchiveReleaseResult } from './archive/release.js';
export { deprovision, type DeprovisionOptions, type DeprovisionResult } from './commands/deprovision.js';
