/**
 * provision's planner: a pure function of what was read (ProvisionState, src/provision/state.ts),
 * the flags, and the clock. It returns the plan, or throws a refusal before anything changes;
 * it is given no Database and reads nothing (test/unit/provision-plan.test.ts runs it on states
 * built by hand).
 */
import { type Capabilities, type Decision, type Scheduler } from '../core/capabilities.js';
import { settingField, type Config, type TableConfig } from '../core/config.js';
import { ConfigError, ConflictError, MissingCapabilityError } from '../core/errors.js';
import { grantsNeeded, refuseMissingGrants } from '../core/grants.js';
import { displayName, quoteIdent, quoteQualified } from '../core/identifiers.js';
import { kitInstallSteps } from '../core/kit.js';
import { controlTypeOf, coveredMonth, type ControlType } from '../core/partitions.js';
import { sqlStep, type Plan, type Step } from '../core/plan.js';
import { jobName, planSchedule, planScheduleRecord, type CronJob } from '../core/schedule.js';
import { decisionRequest } from '../core/settings.js';
import { shellQuote } from '../core/shell.js';
import { readSql } from '../core/sql-files.js';
import { missingTableProblem, tableShapeProblems } from '../core/table-shape.js';
import { tableTemplate } from '../core/table-templates.js';
import { planTimeIndex } from '../core/time-index.js';
import { checkDistribution, distributedCreateStep, planDistribute } from '../citus/provision.js';
import { decide, strategyOf } from '../strategies/index.js';
import { idRangesStep } from '../strategies/registration.js';
import type { ProvisionContext, TableInput } from '../strategies/types.js';
import type { ProvisionState } from './state.js';

/** The flags that change what provision plans. */
export interface ProvisionRequest {
  /** The config was narrowed to some of its tables (--table): tables it does not list are left alone. */
  readonly only?: boolean | undefined;
  readonly strategy?: Config['strategy'] | undefined;
  /** auto: pg_cron when it is preloaded, else external. */
  readonly scheduler?: 'auto' | Scheduler | undefined;
}

export interface ProvisionPlan {
  readonly plan: Plan;
  readonly caps: Capabilities;
  readonly decision: Decision;
  /** The config in force (state.settings.config). */
  readonly config: Config;
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
function registeredElsewhere(state: ProvisionState, config: Config): string[] {
  return state.settings.registered
    .filter((row) => !config.tables.some((table) => table.name.schema === row.name.schema && table.name.name === row.name.name))
    .map((row) => displayName(row.name));
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

/** A kit whose migrations table this user may not read cannot be brought up to date by this user either. */
function refuseUnreadableKit(caps: Capabilities, config: Config): never {
  const table = `${quoteIdent(config.kitSchema)}.migrations`;
  throw new MissingCapabilityError(
    `The user ${caps.user.name} may not read ${table}, so provision cannot tell which of partkit's objects are installed (nothing was changed).`,
    `Run partkit provision as the user who installed partkit's schema, or an administrator must run, in database ${caps.database}: GRANT USAGE ON SCHEMA ${quoteIdent(config.kitSchema)} TO ${quoteIdent(caps.user.name)}; GRANT SELECT ON ${table} TO ${quoteIdent(caps.user.name)};`,
  );
}

/** Looking for a pg_cron job needs USAGE on pg_cron's schema: without it, one to unschedule cannot be found. */
function refuseUnreadableJob(caps: Capabilities, name: string): never {
  const cron = caps.extensions.pg_cron;
  throw new MissingCapabilityError(
    `The user ${caps.user.name} may not read cron.job in database ${cron.databaseName ?? 'postgres'}, so provision cannot find pg_cron job ${name} to unschedule it (nothing was changed).`,
    `An administrator must run, in database ${cron.databaseName ?? 'postgres'}: GRANT USAGE ON SCHEMA ${cron.rights.schema ?? 'cron'} TO ${quoteIdent(caps.user.name)}; Then run partkit provision again.`,
  );
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

function majorOf(version: string | null): number | null {
  const major = version ? Number.parseInt(version, 10) : Number.NaN;
  return Number.isFinite(major) ? major : null;
}

/** What the strategy plans a table from: its state, as read, with its registrations. */
function tableInput(state: ProvisionState, index: number): TableInput {
  const table = state.settings.config.tables[index]!;
  const tableState = state.caps.tables[index]!;
  const read = state.tables[index]!;
  const creating = !tableState.exists;
  const controlType: ControlType = creating ? 'timestamptz' : controlTypeOf(tableState.controlColumn.type)!;
  return { table, state: tableState, creating, controlType, partitions: creating ? [] : read.partitions, managed: read.managed, partConfig: read.partConfig };
}

/**
 * The plan of `partkit provision` from the state read (`state`), the flags (`request`) and the
 * clock (`now`: the server's, `state.caps.server.now`, unless a test sets another). Refusals are
 * thrown here, before any step runs, in the order provision has always checked them: the tables,
 * Citus, the rights, then changes one plan cannot carry out.
 */
export function planProvision(state: ProvisionState, request: ProvisionRequest, now: Date): ProvisionPlan {
  const settings = state.settings;
  const config = settings.config;
  const caps: Capabilities = { ...state.caps, server: { ...state.caps.server, now } };
  const asked = decisionRequest(settings, request);
  const decision = decide(caps, config, asked.strategy, asked.scheduler, asked.kept);
  checkTables(caps, config);
  checkDistribution(state.distribution, caps, config);
  // A missing right would stop the run halfway: name every GRANT now, before anything changes.
  refuseMissingGrants(caps, grantsNeeded(state.grants, caps, decision, config).filter((grant) => grant.neededNow));
  if (state.pendingMigrations === null) refuseUnreadableKit(caps, config);
  const strategy = strategyOf(decision.strategy);
  const partman = caps.extensions.pg_partman;
  const ctx: ProvisionContext = {
    caps,
    decision,
    config,
    partmanMajor: majorOf(partman.version ?? partman.defaultVersion),
    partmanSchema: partman.schema ?? config.partmanSchema,
    now,
  };
  const steps: Step[] = [...kitInstallSteps(config.kitSchema, state.kitMigrations, state.pendingMigrations), ...strategy.planInstall(ctx)];
  const archiveSchemas = [...new Set(config.tables.map((table) => table.archiveSchema).filter((schema): schema is string => schema !== null))];
  for (const schema of archiveSchemas) {
    if (!state.grants.existingSchemas.includes(schema)) steps.push(sqlStep(`create archive schema ${schema} (months past retention are moved here)`, `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`));
  }
  // Every table as read: a change the plan cannot carry out as a whole is refused before any step.
  const inputs = config.tables.map((_, index) => tableInput(state, index));
  refuseUnplannableChanges(config, inputs, request.only ? [] : registeredElsewhere(state, config));
  for (const [index, table] of config.tables.entries()) {
    const tableState = caps.tables[index]!;
    if (!tableState.exists) {
      steps.push(distributedCreateStep(table, createTableStep(table)));
      if (table.ids === 'uuidv7') steps.push(timeOrderedIdsStep(config.kitSchema, table));
    }
    // Before the strategy's new months, so that they get the index from the parent as they are made.
    else steps.push(...planTimeIndex(table, state.tables[index]!.timeIndex!, displayName(table.name)));
    // Citus: distributed before the strategy registers it, so every month it makes is distributed too.
    steps.push(...planDistribute(caps, table, index));
    steps.push(...strategy.planTable(ctx, inputs[index]!));
    // The default and the months the strategy made (pg_partman's, without partkit) get their id ranges.
    if (!tableState.exists && table.ids === 'uuidv7') steps.push(idRangesStep(config.kitSchema, table.name, `id ranges ${displayName(table.name)}`));
  }
  // The job is looked for also when moving from pg_cron to an external scheduler: it is then unscheduled.
  const recordedJob = settings.recorded?.scheduler === 'pg_cron' ? (settings.recorded.jobName ?? jobName(config, caps.database)) : undefined;
  const name = decision.scheduler === 'pg_cron' ? jobName(config, caps.database) : recordedJob;
  let job: CronJob | undefined;
  if (name !== undefined) {
    const found = state.cronJobs.get(name);
    if (found === null && decision.scheduler !== 'pg_cron') refuseUnreadableJob(caps, name);
    job = found ?? undefined;
  }
  steps.push(...planSchedule(config, caps, decision, job));
  steps.push(...planScheduleRecord(config, caps, decision, settings.recorded));
  return { plan: { steps }, caps, decision, config };
}
