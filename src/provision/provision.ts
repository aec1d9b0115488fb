/**
 * `partkit provision`: installs what the chosen strategy needs, creates or adopts the configured
 * tables, registers them, and schedules maintenance. Idempotent: a second run changes nothing.
 */
import { decide, inspect, type Capabilities, type Decision, type Scheduler, type TableState } from '../core/capabilities.js';
import { settingField, type Config, type Strategy, type TableConfig } from '../core/config.js';
import type { Database } from '../core/db.js';
import { ConfigError, ConflictError, MissingCapabilityError } from '../core/errors.js';
import { shellQuote } from '../core/shell.js';
import { displayName, quoteIdent, quoteQualified } from '../core/identifiers.js';
import { planKitInstall } from '../core/kit.js';
import { controlTypeOf, coveredMonth, listPartitions, type ControlType } from '../core/partitions.js';
import { sqlStep, type Plan, type SqlFiles, type Step } from '../core/plan.js';
import { renderSql, run, underRunLock } from '../core/runner.js';
import { UsageError } from '../core/errors.js';
import { cronFileSql, crontabLine, findJob, jobName, planSchedule, planScheduleRecord } from '../core/schedule.js';
import { decisionRequest, settingsInForce } from '../core/settings.js';
import { PARTKIT_VERSION } from '../core/version.js';
import { refuseMissingGrants, requiredGrants } from '../core/grants.js';
import { readSql } from '../core/sql-files.js';
import { tableTemplate } from '../core/table-templates.js';
import { missingTableProblem, tableShapeProblems } from '../core/table-shape.js';
import { planTimeIndex, readTimeIndex } from '../core/time-index.js';
import { describeArchive, monthsToArchive, type MonthToArchive } from '../migrate/retention.js';
import { strategyOf } from '../strategies/index.js';
import type { ProvisionContext, TableInput } from '../strategies/types.js';
import { readManagedTable, readPartmanConfig } from '../core/checks/state.js';
import { idRangesStep } from '../strategies/registration.js';
import { checkDistribution, distributedCreateStep, distributionNotes, planDistribute, type DistributionNote } from '../citus/provision.js';


export interface ProvisionOptions {
  /** The config was narrowed to some of its tables (--table): tables it does not list are left alone. */
  readonly only?: boolean | undefined;
  readonly strategy?: Config['strategy'] | undefined;
  /** auto: pg_cron when it is preloaded, else external. */
  readonly scheduler?: 'auto' | Scheduler | undefined;
  readonly dryRun?: boolean | undefined;
  /** With dryRun: 'psql' (a psql script, the default) or 'sql' (a plain migration file, no meta-commands; the pg_cron job in `cronSql`). */
  readonly format?: 'psql' | 'sql' | undefined;
}

export interface ProvisionResult {
  readonly strategy: Strategy;
  readonly scheduler: Decision['scheduler'];
  readonly reasons: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly tables: readonly { readonly table: string; readonly created: boolean; readonly changes: readonly string[] }[];
  readonly steps: readonly string[];
  readonly schedule: { readonly job: string | null; readonly cronDatabase: string | null; readonly externalCommand: string | null };
  /** Per existing table, the months the first maintenance will archive under the retention, read before anything changed. */
  readonly archivePreview: readonly { readonly table: string; readonly months: readonly MonthToArchive[]; readonly rows: number; readonly note: string }[];
  /** Citus (src/citus/): per distributed table, what Citus requires and what partkit chose. */
  readonly citus: readonly DistributionNote[];
  /** The psql script, under --dry-run; with format 'sql', the application database's migration file. */
  readonly sql?: string;
  /** With format 'sql': the pg_cron job's file (it runs in pg_cron's database), or null when the plan schedules none. */
  readonly cronSql?: string | null;
}

/** Refuses, before anything changes, tables partkit cannot take as they are. */
function checkTables(caps: Capabilities, config: Config): void {
  // A table partkit creates from sql/tables/ is partitioned as that DDL says: the config must agree.
  const configProblems: string[] = [];
  for (const [index, state] of caps.tables.entries()) {
    const table = config.tables[index]!;
    const template = state.exists ? undefined : tableTemplate(table);
    if (template && table.controlColumn !== template.partitionKey) {
      configProblems.push(
        `field "${settingField(table, 'controlColumn')}": ${state.name} does not exist and partkit would create it from sql/${template.file}, which is partitioned by ${template.partitionKey}, not "${table.controlColumn}" (its columns: ${template.columns.join(', ')}).`,
      );
    }
  }
  if (configProblems.length > 0) {
    throw new ConfigError(`Invalid config ${config.source}: ${configProblems.join('\n')}`, `Nothing was changed. Set controlColumn to the template's partition key, or create the table yourself (PARTITION BY RANGE on your column) before provisioning.`);
  }
  const problems: string[] = [];
  for (const [index, state] of caps.tables.entries()) {
    const table = config.tables[index]!;
    if (!state.exists && !tableTemplate(table)) problems.push(missingTableProblem(state, table));
    // The design's key: rows are told apart by a primary key that includes the control column (verify insists on it too).
    problems.push(...tableShapeProblems(state, table, { requirePrimaryKey: true }));
  }
  if (problems.length > 0) {
    throw new MissingCapabilityError(problems.join('\n'), 'Nothing was changed. Fix the tables above, or remove them from the config.');
  }
}

/** Tables the kit's registry has that the config does not list (a table removed from the config). */
async function registeredElsewhere(db: Database, caps: Capabilities, config: Config): Promise<string[]> {
  if (!caps.kit.installed) return [];
  const rows = await db.query<{ schema: string; name: string }>(`SELECT parent_schema AS schema, parent_table AS name FROM ${quoteIdent(config.kitSchema)}.managed_table ORDER BY 1, 2`);
  return rows.filter((row) => !config.tables.some((table) => table.name.schema === row.schema && table.name.name === row.name)).map((row) => displayName(row));
}

/**
 * Changes to a provisioned setup that one plan cannot apply as a whole are refused here, before
 * any step, with what to run: a new time zone for a table whose months were bounded in the old one
 * (their bounds are fixed when made; registering the new zone alone left months verify fails
 * forever), and a registered table the config no longer lists (provision would leave it
 * maintained; deprovision removes it).
 */
function refuseUnplannableChanges(config: Config, inputs: readonly TableInput[], removed: readonly string[]): void {
  const problems: string[] = [];
  const hints: string[] = [];
  for (const input of inputs) {
    const registeredZone = input.managed?.timeZone;
    if (registeredZone === undefined || registeredZone === input.table.timeZone) continue;
    const bounded = input.partitions.filter((partition) => !partition.isDefault && coveredMonth(partition) === undefined);
    if (bounded.length === 0) continue;
    const label = displayName(input.table.name);
    problems.push(
      `field "${settingField(input.table, 'timeZone')}": ${label} was provisioned in ${registeredZone}, and its ${bounded.length} month(s) (${bounded.slice(0, 3).map((partition) => partition.name).join(', ')}${bounded.length > 3 ? ', ...' : ''}) have midnights in ${registeredZone} as bounds, which cannot change; the config says ${input.table.timeZone}.`,
    );
    hints.push(`Set "timeZone": "${registeredZone}" for ${label} in the config again (partkit status --table ${shellQuote(label)} shows the zone it has)`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid config ${config.source}: ${problems.join('\n')}`, `Nothing was changed. ${hints.join('; ')}.`);
  }
  if (removed.length > 0) {
    throw new ConflictError(
      `The kit's registry has ${removed.join(', ')}, which the config ${config.source} no longer lists: provision would leave ${removed.length === 1 ? 'it' : 'them'} maintained as before (nothing was changed).`,
      `${removed.map((label) => `partkit deprovision --table ${shellQuote(label)}`).join('; ')} (its rows stay), or add ${removed.length === 1 ? 'it' : 'them'} to the config again; or provision only the listed tables: partkit provision --table TABLE`,
    );
  }
}

function createTableStep(table: TableConfig): Step {
  const ddl = readSql(tableTemplate(table)!.file).replaceAll('{{table}}', quoteQualified(table.name));
  return sqlStep(`create table ${displayName(table.name)} partitioned by range (${table.controlColumn}) with its indexes`, ddl, { table: displayName(table.name) });
}

/** A table partkit creates with ids "uuidv7": a NULL id is made from the row's created_at (sql/kit/use_time_ordered_ids.sql). */
function timeOrderedIdsStep(kitSchema: string, table: TableConfig): Step {
  return sqlStep(`give ${displayName(table.name)} time-ordered ids (a UUIDv7 default; an explicit NULL id made from created_at)`, `SELECT ${quoteIdent(kitSchema)}.use_time_ordered_ids($1::regclass)`, {
    params: [quoteQualified(table.name)],
    table: displayName(table.name),
  });
}

async function tableInput(db: Database, caps: Capabilities, table: TableConfig, state: TableState): Promise<TableInput> {
  const creating = !state.exists;
  const controlType: ControlType = creating ? 'timestamptz' : controlTypeOf(state.controlColumn.type)!;
  return {
    table,
    state,
    creating,
    controlType,
    partitions: creating ? [] : await listPartitions(db, table.name, table.timeZone, controlType),
    managed: await readManagedTable(db, caps, table.name),
    partConfig: await readPartmanConfig(db, caps, table.name),
  };
}

function majorOf(version: string | null): number | null {
  const major = version ? Number.parseInt(version, 10) : Number.NaN;
  return Number.isFinite(major) ? major : null;
}

/**
 * `config` is the settings in force (src/core/settings.ts): the file's, or, without a file, those
 * recorded in the database, so that a provision on another machine changes nothing by itself.
 */
export async function planProvision(db: Database, fileConfig: Config, options: ProvisionOptions = {}): Promise<{ plan: Plan; caps: Capabilities; decision: Decision; config: Config }> {
  const settings = await settingsInForce(db, fileConfig);
  const config = settings.config;
  const caps = await inspect(db, config);
  const request = decisionRequest(settings, options);
  const decision = decide(caps, config, request.strategy, request.scheduler, request.kept);
  checkTables(caps, config);
  await checkDistribution(db, caps, config);
  // A missing right would stop the run halfway (or, for cron.job, the planning itself): name every GRANT now, before anything changes.
  refuseMissingGrants(caps, (await requiredGrants(db, caps, decision, config)).filter((grant) => grant.neededNow));
  const strategy = strategyOf(decision.strategy);
  const partman = caps.extensions.pg_partman;
  const ctx: ProvisionContext = {
    caps,
    decision,
    config,
    partmanMajor: majorOf(partman.version ?? partman.defaultVersion),
    partmanSchema: partman.schema ?? config.partmanSchema,
  };
  const steps: Step[] = [...(await planKitInstall(db, config.kitSchema)), ...strategy.planInstall(ctx)];
  const archiveSchemas = [...new Set(config.tables.map((table) => table.archiveSchema).filter((schema): schema is string => schema !== null))];
  for (const schema of archiveSchemas) {
    const [row] = await db.query<{ ok: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok', [schema]);
    if (!row?.ok) steps.push(sqlStep(`create archive schema ${schema} (months past retention are moved here)`, `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`));
  }
  // Read every table first: a change the plan cannot carry out as a whole is refused before any step.
  const inputs: TableInput[] = [];
  for (const [index, table] of config.tables.entries()) inputs.push(await tableInput(db, caps, table, caps.tables[index]!));
  refuseUnplannableChanges(config, inputs, options.only ? [] : await registeredElsewhere(db, caps, config));
  for (const [index, table] of config.tables.entries()) {
    const state = caps.tables[index]!;
    if (!state.exists) {
      steps.push(distributedCreateStep(table, createTableStep(table)));
      if (table.ids === 'uuidv7') steps.push(timeOrderedIdsStep(config.kitSchema, table));
    }
    // Before the strategy's new months, so that they get the index from the parent as they are made.
    else steps.push(...planTimeIndex(table, await readTimeIndex(db, table.name, table.controlColumn), displayName(table.name)));
    // Citus: distributed before the strategy registers it, so every month it makes is distributed too.
    steps.push(...planDistribute(caps, table, index));
    steps.push(...strategy.planTable(ctx, inputs[index]!));
    // The default and the months the strategy made (pg_partman's, without partkit) get their id ranges.
    if (!state.exists && table.ids === 'uuidv7') steps.push(idRangesStep(config.kitSchema, table.name, `id ranges ${displayName(table.name)}`));
  }
  // The job is looked for also when moving from pg_cron to an external scheduler: it is then unscheduled.
  const recordedJob = settings.recorded?.scheduler === 'pg_cron' ? (settings.recorded.jobName ?? jobName(config, caps.database)) : undefined;
  const name = decision.scheduler === 'pg_cron' ? jobName(config, caps.database) : recordedJob;
  const job = name === undefined ? undefined : await findJob(db, caps, name);
  steps.push(...planSchedule(config, caps, decision, job));
  steps.push(...planScheduleRecord(config, caps, decision, settings.recorded));
  return { plan: { steps }, caps, decision, config };
}

/** What the first maintenance will archive, table by table, before provision changes anything. */
async function previewArchive(db: Database, caps: Capabilities, config: Config): Promise<ProvisionResult['archivePreview']> {
  const preview: { table: string; months: MonthToArchive[]; rows: number; note: string }[] = [];
  for (const [index, table] of config.tables.entries()) {
    const state = caps.tables[index]!;
    const type = state.exists && state.partitioned ? controlTypeOf(state.controlColumn.type) : undefined;
    if (!type || table.retention === null) continue;
    const months = await monthsToArchive(db, quoteQualified(table.name), table, type);
    if (months.length === 0) continue;
    preview.push({ table: displayName(table.name), months, rows: months.reduce((sum, month) => sum + month.rows, 0), note: describeArchive(months, table.retention, displayName(table.name)) });
  }
  return preview;
}

export async function provision(db: Database, config: Config, options: ProvisionOptions = {}): Promise<ProvisionResult> {
  if (options.format === 'sql' && !options.dryRun) throw new UsageError('--format sql prints a migration file: give it with --dry-run.', 'partkit provision --dry-run --format sql > 010_table_partitioning.sql');
  return underRunLock(db, options, () => provisionLocked(db, config, options));
}

async function provisionLocked(db: Database, fileConfig: Config, options: ProvisionOptions): Promise<ProvisionResult> {
  const { plan, caps, decision, config } = await planProvision(db, fileConfig, options);
  const archivePreview = await previewArchive(db, caps, config);
  const cronDatabase = caps.extensions.pg_cron.databaseName ?? undefined;
  let sql: string | undefined;
  let cronSql: string | null | undefined;
  if (options.format === 'sql') {
    ({ app: sql, cron: cronSql } = sqlFiles(db, config, plan, decision));
  } else {
    const outcome = await run(db, plan, { dryRun: options.dryRun ?? false, cronDatabase });
    if (outcome.dryRun) sql = outcome.sql;
  }
  const tables = config.tables.map((table, index) => ({
    table: displayName(table.name),
    created: !caps.tables[index]!.exists,
    changes: plan.steps.filter((step) => step.kind === 'sql' && step.table === displayName(table.name)).map((step) => step.description),
  }));
  return {
    strategy: decision.strategy,
    scheduler: decision.scheduler,
    reasons: decision.reasons,
    changes: plan.steps.length,
    dryRun: options.dryRun ?? false,
    tables,
    steps: plan.steps.map((step) => step.description),
    schedule: {
      job: decision.scheduler === 'pg_cron' ? jobName(config, caps.database) : null,
      cronDatabase: decision.scheduler === 'pg_cron' ? cronDatabase ?? null : null,
      externalCommand: decision.scheduler === 'external' ? crontabLine(config) : null,
    },
    archivePreview,
    citus: distributionNotes(caps, config),
    ...(sql !== undefined ? { sql } : {}),
    ...(cronSql !== undefined ? { cronSql } : {}),
  };
}

/**
 * `--format sql`: the application database's migration file, and, when maintenance is a pg_cron
 * job, the job's file: it runs in pg_cron's database, which an app's migration runner does not
 * connect to, and names the application database where it is applied (cronFileSql). The CLI
 * writes it to --cron-file. Neither names a path of this machine.
 */
function sqlFiles(db: Database, config: Config, plan: Plan, decision: Decision): SqlFiles {
  const header = [
    `partkit ${PARTKIT_VERSION} provision, as a migration file: ${plan.steps.length} step(s), planned against database ${db.name} as it was then.`,
    'Apply it once, like any migration: in one transaction (psql -1 -f, postgres-migrations, node-pg-migrate) or',
    'statement by statement (psql -f); see the README, "A migration file for your own runner".',
    decision.scheduler === 'external'
      ? 'Maintenance is not scheduled here (--scheduler external): run `npx --no-install partkit maintain` hourly from your scheduler (docs/scheduling.md).'
      : "Maintenance is a pg_cron job, created by the cron file (--cron-file) in pg_cron's database (docs/scheduling.md).",
  ];
  return { app: renderSql(db, plan, header), cron: decision.scheduler === 'pg_cron' ? cronFileSql(config) : null };
}
