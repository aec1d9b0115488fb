/**
 * What `partkit provision` reads, in one read-only snapshot (src/core/snapshot.ts), before it plans:
 * the settings recorded in the database, the capabilities (with the server's clock), the kit's
 * migrations, the facts of the rights it needs, Citus' requirements, and per configured table its
 * partitions, registrations, time index and the months retention would archive. The planner
 * (src/provision/plan.ts) is a pure function of this value; nothing is read while planning.
 */
import { inspect, type Capabilities } from '../core/capabilities.js';
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { readGrantFacts, type GrantFacts } from '../core/grants.js';
import { quoteQualified } from '../core/identifiers.js';
import type { KitMigration } from '../core/kit-install.js';
import { kitMigrationFiles, pendingOf, readAppliedMigrations } from '../core/kit.js';
import { controlTypeOf, listPartitions, type Partition } from '../core/partitions.js';
import { findJob, jobName, readRecordedSchedule, type CronJob } from '../core/schedule.js';
import { registeredTable, settingsFrom, type SettingsInForce } from '../core/settings.js';
import { readManagedTables, readPartmanConfig, type ManagedTable, type PartmanConfig } from '../core/checks/state.js';
import { readTimeIndex, type TimeIndexState } from '../core/time-index.js';
import { readDistributionFacts, type DistributionFacts } from '../citus/provision.js';
import { monthsToArchive, type MonthToArchive } from '../migrate/retention.js';
import { readOnce } from '../core/snapshot.js';

/** One configured table as read (by index in `settings.config.tables`). */
export interface ProvisionTableState {
  /** Attached children with their bounds in the table's zone; none when it does not exist or is not a partitioned table on a time column. */
  readonly partitions: readonly Partition[];
  readonly managed: ManagedTable | null;
  /** pg_partman's part_config row; null also when this user may not read part_config. */
  readonly partConfig: PartmanConfig | null;
  /** The time index of an existing table; null when the table does not exist. */
  readonly timeIndex: TimeIndexState | null;
  /** The months the first maintenance will archive under the retention (an existing partitioned table this user may read). */
  readonly toArchive: readonly MonthToArchive[];
}

export interface ProvisionState {
  /** The database read (its name, for messages). */
  readonly database: string;
  /** The config in force (the file's, or without one the database's) with the records it came from. */
  readonly settings: SettingsInForce;
  /** With `server.now`: the server's clock at the snapshot's start, which months are counted from. */
  readonly caps: Capabilities;
  /** The kit's migration files (from the package) and which of them the kit schema lacks; null when this user may not read its migrations table. */
  readonly kitMigrations: readonly KitMigration[];
  readonly pendingMigrations: readonly string[] | null;
  readonly grants: GrantFacts;
  readonly distribution: DistributionFacts;
  readonly tables: readonly ProvisionTableState[];
  /**
   * pg_cron jobs by name, for the names provision may schedule or unschedule (the configured one,
   * the recorded one); null for a job this user may not look for (no USAGE on pg_cron's schema).
   */
  readonly cronJobs: ReadonlyMap<string, CronJob | null>;
}

async function readTable(db: Database, caps: Capabilities, settings: SettingsInForce, index: number): Promise<ProvisionTableState> {
  const table = settings.config.tables[index]!;
  const state = caps.tables[index]!;
  const type = state.exists && state.partitioned ? controlTypeOf(state.controlColumn.type) : undefined;
  const partman = caps.extensions.pg_partman;
  // Without USAGE on pg_partman's schema and SELECT on part_config the read would fail; the
  // planner refuses such a user with the GRANT when it needs pg_partman.
  const partmanReadable = partman.rights?.usage === true && partman.rights.partConfig;
  const [access] = state.exists ? await db.query<{ ok: boolean }>("SELECT has_table_privilege($1::regclass, 'SELECT') AS ok", [quoteQualified(table.name)]) : [];
  return {
    partitions: type ? await listPartitions(db, table.name, table.timeZone, type) : [],
    // The kit's row of the table: read with the settings, all rows at once.
    managed: registeredTable(settings, table.name),
    partConfig: partmanReadable ? await readPartmanConfig(db, caps, table.name) : null,
    timeIndex: state.exists ? await readTimeIndex(db, table.name, table.controlColumn) : null,
    toArchive: type && access?.ok && table.retention !== null ? await monthsToArchive(db, quoteQualified(table.name), table, type) : [],
  };
}

/** The pg_cron jobs provision may touch: the one it schedules, and the one recorded (unscheduled when moving away from pg_cron). */
async function readCronJobs(db: Database, caps: Capabilities, settings: SettingsInForce): Promise<Map<string, CronJob | null>> {
  const cron = caps.extensions.pg_cron;
  const names = new Set<string>();
  if (cron.preloaded) names.add(jobName(settings.config, caps.database));
  if (settings.recorded?.scheduler === 'pg_cron') names.add(settings.recorded.jobName ?? jobName(settings.config, caps.database));
  const jobs = new Map<string, CronJob | null>();
  for (const name of names) {
    // cron.job is readable only with USAGE on pg_cron's schema: without it the job is unknown, not absent.
    if (cron.installed && cron.rights.usage === false) jobs.set(name, null);
    else jobs.set(name, (await findJob(db, caps, name)) ?? null);
  }
  return jobs;
}

/**
 * Every read provision plans from, in one read-only snapshot. `fileConfig` is the config as given;
 * the config in force (`state.settings.config`) is the file's, or, without a file, the tables and
 * scheduler recorded in the database, so that a provision on another machine changes nothing by itself.
 */
export async function readProvisionState(db: Database, fileConfig: Config): Promise<ProvisionState> {
  const kitMigrations = await kitMigrationFiles();
  return readOnce(db, async () => {
    const settings = settingsFrom(fileConfig, await readManagedTables(db, fileConfig.kitSchema), await readRecordedSchedule(db, fileConfig.kitSchema), db.name);
    const config = settings.config;
    const caps = await inspect(db, config);
    const applied = await readAppliedMigrations(db, config.kitSchema);
    const pendingMigrations = applied === null ? null : pendingOf(kitMigrations, applied);
    const grants = await readGrantFacts(db, caps, config, pendingMigrations);
    const tables: ProvisionTableState[] = [];
    for (const index of config.tables.keys()) tables.push(await readTable(db, caps, settings, index));
    return {
      database: db.name,
      settings,
      caps,
      kitMigrations,
      pendingMigrations,
      grants,
      distribution: await readDistributionFacts(db, caps, config),
      tables,
      cronJobs: await readCronJobs(db, caps, settings),
    };
  });
}
