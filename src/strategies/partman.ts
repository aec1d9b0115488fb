/**
 * pg_partman: partkit installs it, registers each table with named arguments that work on
 * 4.x and 5.x, sets retention to move old months into the archive schema, and hands over
 * tables the plpgsql fallback managed (children keep their data; only names change).
 */
import { canCreateExtension, enableAdvice, type Capabilities, type Choice } from '../core/capabilities.js';
import type { ManagedTable, PartmanConfig } from '../core/checks/state.js';
import type { Config, TableConfig } from '../core/config.js';
import type { Database } from '../core/db.js';
import { ConflictError, MissingCapabilityError } from '../core/errors.js';
import { checkIdentifierLength, displayName, dottedName, quoteIdent, quoteQualified } from '../core/identifiers.js';
import { sameInterval } from '../core/intervals.js';
import { coveredMonth, currentMonth, monthKey, monthStartLiteral, type Month, type Partition } from '../core/partitions.js';
import { sqlStep, type SqlStep, type Step } from '../core/plan.js';
import { idRangesStep, initialMonths, managedRowSteps, managedSettings, missingMonths } from './registration.js';
import type { MonthsTarget, PartConfigRow, PartitionStrategy, ProvisionContext, RegisteredSettings, RegistrationFacts, TableInput } from './types.js';

/** pg_partman's own child name for a month: 4.x `t_p2026_01`, 5.x `t_p20260101`. */
export function partmanChildName(parent: string, monthKey: string, major: number): string {
  const [year, month] = monthKey.split('-');
  return major >= 5 ? `${parent}_p${year}${month}01` : `${parent}_p${year}_${month}`;
}

function desiredPartConfig(input: TableInput): PartConfigRow {
  return {
    interval: '1 mon',
    premake: input.table.premake,
    retention: input.table.retention,
    retentionSchema: input.table.retention ? input.table.archiveSchema : null,
    retentionKeepTable: true,
    infiniteTimePartitions: true,
  };
}

function samePartConfig(a: PartConfigRow, b: PartConfigRow): boolean {
  return (
    a.premake === b.premake &&
    sameInterval(a.retention, b.retention) &&
    a.retentionSchema === b.retentionSchema &&
    a.retentionKeepTable === b.retentionKeepTable &&
    a.infiniteTimePartitions === b.infiniteTimePartitions
  );
}

function partConfigStep(ctx: ProvisionContext, input: TableInput, group: string | undefined): SqlStep {
  const desired = desiredPartConfig(input);
  const label = displayName(input.table.name);
  return sqlStep(
    `set ${label} in ${ctx.partmanSchema}.part_config: premake ${desired.premake}, retention ${desired.retention ?? 'none'}${desired.retentionSchema ? ` into schema ${desired.retentionSchema}` : ''}, infinite_time_partitions`,
    `UPDATE ${quoteIdent(ctx.partmanSchema)}.part_config
   SET premake = $2, retention = $3, retention_schema = $4, retention_keep_table = $5, infinite_time_partitions = $6
 WHERE parent_table = $1`,
    {
      params: [dottedName(input.table.name), desired.premake, desired.retention, desired.retentionSchema, desired.retentionKeepTable, desired.infiniteTimePartitions],
      table: label,
      ...(group ? { group } : {}),
    },
  );
}

/** What an administrator runs so that a non-superuser owner can use pg_partman (verified on 4.7 and 5.2). */
export function partmanAdminStatements(partmanSchema: string, user: string): string {
  const schema = quoteIdent(partmanSchema);
  const role = quoteIdent(user);
  return `CREATE SCHEMA IF NOT EXISTS ${schema}; CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA ${schema}; GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role};`;
}

/**
 * Which of `months` ('YYYY-MM' in the table's zone) have rows waiting in `target`'s default
 * partition: pg_partman cannot create those months next to them. Read before planning.
 */
export async function readWaitingMonths(db: Database, target: Pick<MonthsTarget, 'name' | 'controlType' | 'timeZone'>, defaultPartition: Pick<Partition, 'schema' | 'name'>, months: readonly string[]): Promise<string[]> {
  const [key] = await db.query<{ column: string }>(
    `SELECT a.attname::text AS column FROM pg_partitioned_table pt JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
      WHERE pt.partrelid = $1::regclass`,
    [quoteQualified(target.name)],
  );
  const column = quoteIdent(key!.column);
  const local = target.controlType === 'timestamptz' ? `(${column} AT TIME ZONE $1)` : `${column}::timestamp`;
  const rows = await db.query<{ month: string }>(
    `SELECT DISTINCT to_char(${local}, 'YYYY-MM') AS month FROM ${quoteQualified({ schema: defaultPartition.schema, name: defaultPartition.name })}
      WHERE isfinite(${column}) AND to_char(${local}, 'YYYY-MM') = ANY ($2::text[]) ORDER BY 1`,
    [target.timeZone, months],
  );
  return rows.map((row) => row.month);
}

function partConfigProblems({ label, table, partConfig, caps }: RegistrationFacts): string[] {
  const partman = caps.extensions.pg_partman;
  if (!partman.installed) {
    return ['strategy is partman but pg_partman is not installed in this database: install it (`partkit doctor` says how) or run `partkit provision --strategy plpgsql`'];
  }
  if (!partConfig) return [`${label} has no row in ${partman.schema}.part_config`];
  const problems: string[] = [];
  const where = `${partman.schema}.part_config`;
  const differs = (what: string, found: unknown, wanted: unknown) => problems.push(`${what}: the config says ${wanted ?? 'none'}, ${where} records ${found ?? 'none'}`);
  const archiveSchema = table.retention ? table.archiveSchema : null;
  if (partConfig.control !== table.controlColumn) differs('control', partConfig.control, table.controlColumn);
  if (!sameInterval(partConfig.interval, table.interval)) differs('partition_interval', partConfig.interval, table.interval);
  if (partConfig.premake !== table.premake) differs('premake', partConfig.premake, table.premake);
  if (!sameInterval(partConfig.retention, table.retention)) differs('retention', partConfig.retention, table.retention);
  if ((partConfig.retentionSchema ?? null) !== archiveSchema) differs('retention_schema', partConfig.retentionSchema, archiveSchema);
  if (!partConfig.retentionKeepTable) problems.push(`${where} has retention_keep_table false, so pg_partman would drop old months instead of moving them to ${archiveSchema ?? 'the archive schema'}`);
  if (!partConfig.infiniteTimePartitions) problems.push(`${where} has infinite_time_partitions false, so pg_partman stops making months while no new rows arrive`);
  return problems;
}

export const partmanStrategy: PartitionStrategy = {
  name: 'partman',

  whenAuto(caps: Capabilities, config: Config): Choice | null {
    const partman = caps.extensions.pg_partman;
    if (partman.installed) return { reasons: [`pg_partman ${partman.version} is installed in schema ${partman.schema}`], advice: [] };
    if (!partman.available) return null;
    return {
      reasons: [`pg_partman ${partman.defaultVersion} is available and will be installed in schema ${config.partmanSchema}`],
      advice: canCreateExtension(caps, partman) ? [] : [`The user ${caps.user.name} cannot create pg_partman; an administrator must run: ${enableAdvice(caps.host, 'pg_partman', caps.database, config.partmanSchema)}`],
    };
  },

  whenRequested(caps: Capabilities, config: Config): Choice {
    if (caps.extensions.pg_partman.available) return { reasons: [], advice: [] };
    return { reasons: ['but pg_partman is not available on this server'], advice: [enableAdvice(caps.host, 'pg_partman', caps.database, config.partmanSchema)] };
  },

  planInstall(ctx: ProvisionContext): Step[] {
    const partman = ctx.caps.extensions.pg_partman;
    if (partman.installed) return [];
    const schema = quoteIdent(ctx.partmanSchema);
    if (!partman.available) {
      throw new MissingCapabilityError('pg_partman is not available on this server.', ctx.decision.advice.join(' ') || 'Use --strategy plpgsql.');
    }
    if (!canCreateExtension(ctx.caps, partman)) {
      throw new MissingCapabilityError(
        `The user ${ctx.caps.user.name} may not create the pg_partman extension.`,
        `An administrator must run, in database ${ctx.caps.database}: ${partmanAdminStatements(ctx.partmanSchema, ctx.caps.user.name)} Then run partkit provision again.`,
      );
    }
    return [
      sqlStep(`create schema ${ctx.partmanSchema}`, `CREATE SCHEMA IF NOT EXISTS ${schema}`, { group: 'partman-install' }),
      sqlStep(`install pg_partman ${partman.defaultVersion} in schema ${ctx.partmanSchema}`, `CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA ${schema}`, { group: 'partman-install' }),
    ];
  },

  planTable(ctx: ProvisionContext, input: TableInput): Step[] {
    const label = displayName(input.table.name);
    const major = ctx.partmanMajor ?? 5;
    if (input.table.name.schema.includes('.') || input.table.name.name.includes('.')) {
      throw new MissingCapabilityError(`pg_partman cannot manage ${label}: it reads "schema.table" by splitting on the dot.`, 'Rename the table, or use --strategy plpgsql for it.');
    }
    if (input.partConfig) {
      // A changed setting (premake, retention) goes to pg_partman and the kit's registry in one transaction.
      const group = `settings of ${label}`;
      const steps: Step[] = [];
      if (!samePartConfig(input.partConfig, desiredPartConfig(input))) steps.push(partConfigStep(ctx, input, group));
      steps.push(...managedRowSteps(ctx, input, 'partman', group));
      // A larger premake: its months now, in the same transaction (pg_partman makes them only at its next maintenance).
      const months = missingMonths(input, initialMonths(input.table, ctx.now));
      if (months.length > 0) {
        steps.push(
          sqlStep(
            `create ${months.length} month(s) of ${label} with pg_partman (${months.map(monthKey).join(', ')}; ${input.table.timeZone})`,
            `SELECT ${quoteIdent(ctx.partmanSchema)}.create_partition_time(p_parent_table := $1, p_partition_times := $2::timestamptz[])`,
            { params: [dottedName(input.table.name), months.map(monthStartLiteral)], timeZone: input.table.timeZone, table: label, group },
          ),
        );
      }
      return steps;
    }
    // Not registered yet: one transaction renames month children to pg_partman's names (so it
    // adopts them instead of colliding), registers the table, sets retention, records it.
    const group = `register ${label}`;
    const steps: Step[] = [];
    for (const partition of input.partitions) {
      const month = coveredMonth(partition);
      if (partition.isDefault || month === undefined) continue;
      const wanted = partmanChildName(input.table.name.name, month, major);
      checkIdentifierLength(wanted, 'pg_partman child name');
      if (wanted === partition.name && partition.schema === input.table.name.schema) continue;
      steps.push(
        sqlStep(`rename ${displayName(partition)} to ${wanted} (pg_partman naming)`, `ALTER TABLE ${quoteQualified({ schema: partition.schema, name: partition.name })} RENAME TO ${quoteIdent(wanted)}`, { table: label, group }),
      );
    }
    // pg_partman refuses a table that already has a default partition: set it aside, and put
    // its rows back through the parent once pg_partman has made its own.
    const oldDefault = input.partitions.find((partition) => partition.isDefault);
    const parked = oldDefault ? { schema: oldDefault.schema, name: `${input.table.name.name}_default_old` } : undefined;
    if (oldDefault && parked) {
      checkIdentifierLength(parked.name, 'Parked default partition name');
      const defaultTable = quoteQualified({ schema: oldDefault.schema, name: oldDefault.name });
      steps.push(
        sqlStep(`detach default partition ${oldDefault.name} of ${label}`, `ALTER TABLE ${quoteQualified(input.table.name)} DETACH PARTITION ${defaultTable}`, { table: label, group }),
        sqlStep(`rename ${oldDefault.name} to ${parked.name}`, `ALTER TABLE ${defaultTable} RENAME TO ${quoteIdent(parked.name)}`, { table: label, group }),
      );
    }
    const start = monthStartLiteral(currentMonth(input.table.timeZone, ctx.now));
    const partman = quoteIdent(ctx.partmanSchema);
    const typeAndInterval = major >= 5 ? `p_interval := '1 month', p_type := 'range'` : `p_type := 'native', p_interval := '1 month'`;
    steps.push(
      sqlStep(
        `register ${label} with pg_partman ${major}.x: monthly on ${input.table.controlColumn}, premake ${input.table.premake}, from ${start.slice(0, 7)} (${input.table.timeZone})`,
        `SELECT ${partman}.create_parent(p_parent_table := $1, p_control := $2, ${typeAndInterval}, p_premake := $3, p_start_partition := $4)`,
        { params: [dottedName(input.table.name), input.table.controlColumn, input.table.premake, start], timeZone: input.table.timeZone, table: label, group },
      ),
    );
    // create_parent returns early, without making its default partition, when every month it
    // wants already exists: the usual case after the fallback has premade the same months.
    const partmanDefault = { schema: input.table.name.schema, name: `${input.table.name.name}_default` };
    checkIdentifierLength(partmanDefault.name, 'Default partition name');
    steps.push(
      sqlStep(
        `make sure ${label} has its default partition ${partmanDefault.name}`,
        `CREATE TABLE IF NOT EXISTS ${quoteQualified(partmanDefault)} PARTITION OF ${quoteQualified(input.table.name)} DEFAULT`,
        { table: label, group },
      ),
    );
    if (parked) {
      steps.push(
        // OVERRIDING SYSTEM VALUE keeps the rows' own values in GENERATED ALWAYS identity columns.
        sqlStep(`move rows of ${parked.name} back into ${label}`, `INSERT INTO ${quoteQualified(input.table.name)} OVERRIDING SYSTEM VALUE SELECT * FROM ${quoteQualified(parked)}`, { table: label, group }),
        sqlStep(`drop the emptied ${parked.name}`, `DROP TABLE ${quoteQualified(parked)}`, { table: label, group }),
      );
    }
    steps.push(partConfigStep(ctx, input, group), ...managedRowSteps(ctx, input, 'partman', group));
    return steps;
  },

  planMonths(target: MonthsTarget, months: readonly Month[]): Step[] {
    if (months.length === 0) return [];
    const label = displayName(target.name);
    // Rows of these months waiting in the default partition make pg_partman's CREATE fail;
    // moving them is maintenance's job (partition_data_time).
    const defaultPartition = target.partitions.find((partition) => partition.isDefault);
    const waiting = months.map(monthKey).filter((key) => target.waiting.includes(key));
    if (defaultPartition && waiting.length > 0) {
      throw new ConflictError(
        `The default partition ${displayName(defaultPartition)} holds rows of ${waiting.join(', ')}; pg_partman cannot create those months next to them.`,
        'Nothing was changed. Run `partkit maintain`, which moves them into their months.',
      );
    }
    return [
      sqlStep(
        `create ${months.length} month(s) of ${label} with pg_partman (${months.map(monthKey).join(', ')}; ${target.timeZone})`,
        `SELECT ${quoteIdent(target.partmanSchema!)}.create_partition_time(p_parent_table := $1, p_partition_times := $2::timestamptz[])`,
        { params: [dottedName(target.name), months.map(monthStartLiteral)], timeZone: target.timeZone, table: label, ...(target.idRanges ? { group: `partition create ${label}` } : {}) },
      ),
      ...(target.idRanges ? [idRangesStep(target.kitSchema, target.name, `partition create ${label}`)] : []),
    ];
  },

  childName(parent: string, month: Month, partmanMajor: number | null): string {
    return partmanChildName(parent, monthKey(month), partmanMajor ?? 5);
  },

  registeredSettings(table: TableConfig, managed: ManagedTable | null, partConfig: PartmanConfig | null): RegisteredSettings {
    if (!partConfig) return managedSettings(table, managed);
    return {
      interval: partConfig.interval,
      premake: partConfig.premake,
      retention: partConfig.retention,
      archiveSchema: partConfig.retentionSchema ?? managed?.archiveSchema ?? table.archiveSchema,
    };
  },

  extraRegistry(caps) {
    return `${caps.extensions.pg_partman.schema}.part_config`;
  },

  registrationProblems: partConfigProblems,
};
