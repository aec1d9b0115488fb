/**
 * Settings live in the database. provision records what it applied: each table's strategy,
 * premake, retention and time zone in `<kit>.managed_table`, and the scheduler, its schedule and
 * the pg_cron job's name in `<kit>.maintenance_schedule`. verify, status and doctor read them
 * there, so they agree on every machine, with or without the config file and provision's flags:
 *
 * - without a config file (the built-in default), the registered tables with their recorded
 *   settings are the config, and the recorded scheduler is expected;
 * - with a config file, the file says what is wanted: where it differs from the record, provision
 *   plans the change and verify fails, naming the setting, both values and the command to run;
 * - a scheduler flag (`--scheduler pg_cron|external`) is a request like a config setting; without
 *   one, the recorded scheduler holds (provision never switches it by itself).
 */
import type { Scheduler } from './capabilities.js';
import { configArgs, type Config, type Strategy, type TableConfig } from './config.js';
import type { Database } from './db.js';
import type { QualifiedName } from './identifiers.js';
import { readManagedTables, type RegisteredTable } from './checks/state.js';
import { configIntervalText } from './intervals.js';
export type { RecordedSchedule };
import { partkitCommand } from './shell.js';
import { jobName, readRecordedSchedule, type RecordedSchedule } from './schedule.js';

/** Whether the config is the built-in default: no file says what is wanted, so the database does. */
export function isBuiltinConfig(config: Config): boolean {
  return config.origin.from === 'default';
}


export interface SettingsInForce {
  /** The config to act on: the file's, or (built-in default, tables registered) the database's. */
  readonly config: Config;
  /** Where `config` came from. */
  readonly from: 'file' | 'database' | 'built-in default';
  readonly recorded: RecordedSchedule | null;
  /** The tables the kit has registered, with their recorded settings. */
  readonly registered: readonly RegisteredTable[];
}

function registeredTableConfig(row: RegisteredTable): TableConfig {
  return {
    name: row.name,
    controlColumn: row.controlColumn,
    interval: '1 month',
    premake: row.premake,
    // The database prints '12 months' as '1 year': spelled as a config would, for pg_partman's part_config too.
    retention: row.retention === null ? null : configIntervalText(row.retention),
    archiveSchema: row.archiveSchema,
    purgeAfter: row.purgeAfter === null ? null : configIntervalText(row.purgeAfter),
    timeZone: row.timeZone,
    distribution: null,
    // A table registered with id ranges was created with time-ordered ids.
    ids: row.idRanges ? 'uuidv7' : 'random',
  };
}

/** The kit's record of one table, from the records read with the settings (null when it is not registered). */
export function registeredTable(settings: SettingsInForce, name: QualifiedName): RegisteredTable | null {
  return settings.registered.find((row) => row.name.schema === name.schema && row.name.name === name.name) ?? null;
}

/** The settings to act on: see the file's comment. */
export async function settingsInForce(db: Database, config: Config): Promise<SettingsInForce> {
  return settingsFrom(config, await readManagedTables(db, config.kitSchema), await readRecordedSchedule(db, config.kitSchema), db.name);
}

/** The settings in force from the records already read (`database`: the database they were read in, for messages). */
export function settingsFrom(config: Config, registered: readonly RegisteredTable[], recorded: RecordedSchedule | null, database: string): SettingsInForce {
  if (!isBuiltinConfig(config)) return { config, from: 'file', recorded, registered };
  if (registered.length === 0) return { config, from: 'built-in default', recorded, registered };
  const partmanSchema = registered.find((row) => row.partmanSchema !== null)?.partmanSchema ?? config.partmanSchema;
  return {
    config: {
      ...config,
      partmanSchema,
      maintenance: recorded ? { schedule: recorded.schedule, jobName: recorded.jobName ?? undefined } : config.maintenance,
      tables: registered.map(registeredTableConfig),
      source: `(settings recorded in ${config.kitSchema} of database ${database})`,
    },
    from: 'database',
    recorded,
    registered,
  };
}

/**
 * The scheduler a command goes by: the flag when one was given, else the recorded one; null when
 * neither (then the server's capabilities decide, as for a first provision).
 */
export function schedulerInForce(settings: SettingsInForce, flag: 'auto' | Scheduler | undefined): { scheduler: Scheduler; recorded: boolean } | null {
  if (flag !== undefined && flag !== 'auto') return { scheduler: flag, recorded: false };
  return settings.recorded ? { scheduler: settings.recorded.scheduler, recorded: true } : null;
}

/**
 * The strategy a provision without --strategy keeps: the one every configured table that is
 * registered already has (a config set to `auto` never switches a registered table by itself).
 */
function recordedStrategy(settings: SettingsInForce): Strategy | null {
  const wanted = new Set(settings.config.tables.map((table) => `${table.name.schema}.${table.name.name}`));
  const strategies = new Set(settings.registered.filter((row) => wanted.has(`${row.name.schema}.${row.name.name}`)).map((row) => row.strategy));
  return strategies.size === 1 ? [...strategies][0]! : null;
}

/** What provision and doctor ask `decide` for: the flags, else the config's strategy, else what is recorded. */
export function decisionRequest(
  settings: SettingsInForce,
  flags: { readonly strategy?: 'auto' | Strategy | undefined; readonly scheduler?: 'auto' | Scheduler | undefined },
): { strategy: 'auto' | Strategy; scheduler: 'auto' | Scheduler; kept: { strategy: boolean; scheduler: boolean } } {
  const asked = flags.strategy ?? settings.config.strategy;
  const keptStrategy = asked === 'auto' ? recordedStrategy(settings) : null;
  const scheduler = schedulerInForce(settings, flags.scheduler);
  return {
    strategy: keptStrategy ?? asked,
    scheduler: scheduler?.scheduler ?? 'auto',
    kept: { strategy: keptStrategy !== null, scheduler: scheduler?.recorded ?? false },
  };
}

/** One setting whose wanted value (config file or flag) is not the recorded one. */
export interface SettingDifference {
  /** The config field or flag, e.g. `maintenance.schedule` or `--scheduler`. */
  readonly setting: string;
  readonly wanted: string;
  readonly recorded: string;
}

/** What differs between the maintenance settings wanted (file, flag) and the record (tables are compared per table). */
export function scheduleDifferences(settings: SettingsInForce, flag: 'auto' | Scheduler | undefined, database: string): SettingDifference[] {
  const recorded = settings.recorded;
  if (!recorded) return [];
  const differences: SettingDifference[] = [];
  if (flag !== undefined && flag !== 'auto' && flag !== recorded.scheduler) differences.push({ setting: '--scheduler', wanted: flag, recorded: recorded.scheduler });
  if (settings.from === 'file') {
    const config = settings.config;
    if (config.maintenance.schedule !== recorded.schedule) differences.push({ setting: 'maintenance.schedule', wanted: `"${config.maintenance.schedule}"`, recorded: `"${recorded.schedule}"` });
    const name = jobName(config, database);
    if (recorded.scheduler === 'pg_cron' && recorded.jobName !== null && name !== recorded.jobName) differences.push({ setting: 'maintenance.jobName', wanted: name, recorded: recorded.jobName });
  }
  return differences;
}

/** "maintenance.schedule: the config says "*\/15 * * * *", the database records "0 * * * *"" */
export function describeDifference(difference: SettingDifference, config: Config): string {
  const wantedBy = difference.setting.startsWith('--') ? `${difference.setting} asks for` : `the config (${config.source}) says`;
  return `${difference.setting}: ${wantedBy} ${difference.wanted}, the database records ${difference.recorded}`;
}

/** The provision that applies what is wanted: the same config file and flag. */
export function applyCommand(config: Config, scheduler?: 'auto' | Scheduler): string {
  return partkitCommand(['provision', ...configArgs(config), ...(scheduler && scheduler !== 'auto' ? ['--scheduler', scheduler] : [])]);
}
