/**
 * Steps both strategies share: the kit's record of each table, and the months a table
 * should have right after provisioning (the current month through premake).
 */
import type { Strategy, TableConfig } from '../core/config.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { sameInterval } from '../core/intervals.js';
import { addMonths, coveredMonth, currentMonth, monthKey, type Month } from '../core/partitions.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import type { ManagedTable } from '../core/checks/state.js';
import type { ManagedRow, ProvisionContext, RegisteredSettings, TableInput } from './types.js';

export function desiredManagedRow(ctx: ProvisionContext, input: TableInput, strategy: Strategy): ManagedRow {
  const { table } = input;
  return {
    controlColumn: table.controlColumn,
    controlType: input.controlType,
    premake: table.premake,
    retention: table.retention,
    archiveSchema: table.archiveSchema,
    purgeAfter: table.purgeAfter,
    timeZone: table.timeZone,
    strategy,
    partmanSchema: strategy === 'partman' ? ctx.partmanSchema : null,
    // Decided when partkit creates the table; a table that exists keeps what it has (adopted: its own ids).
    idRanges: input.creating ? table.ids === 'uuidv7' : (input.managed?.idRanges ?? false),
  };
}

function sameManagedRow(a: ManagedRow, b: ManagedRow): boolean {
  return (
    a.controlColumn === b.controlColumn &&
    a.controlType === b.controlType &&
    a.premake === b.premake &&
    sameInterval(a.retention, b.retention) &&
    a.archiveSchema === b.archiveSchema &&
    sameInterval(a.purgeAfter, b.purgeAfter) &&
    a.timeZone === b.timeZone &&
    a.strategy === b.strategy &&
    a.partmanSchema === b.partmanSchema &&
    a.idRanges === b.idRanges
  );
}

/** "premake 4 -> 6, time zone UTC -> Asia/Shanghai": what an update of the kit's row changes. */
function describeRowChanges(before: ManagedRow, after: ManagedRow): string {
  const show = (value: unknown) => (value === null ? 'none' : String(value));
  const changes: string[] = [];
  const differs = (what: string, a: unknown, b: unknown, same = a === b) => {
    if (!same) changes.push(`${what} ${show(a)} -> ${show(b)}`);
  };
  differs('strategy', before.strategy, after.strategy);
  differs('control column', before.controlColumn, after.controlColumn);
  differs('control type', before.controlType, after.controlType);
  differs('premake', before.premake, after.premake);
  differs('retention', before.retention, after.retention, sameInterval(before.retention, after.retention));
  differs('archive schema', before.archiveSchema, after.archiveSchema);
  differs('purge after', before.purgeAfter, after.purgeAfter, sameInterval(before.purgeAfter, after.purgeAfter));
  differs('time zone', before.timeZone, after.timeZone);
  differs('partman schema', before.partmanSchema, after.partmanSchema);
  differs('id ranges', before.idRanges, after.idRanges);
  return changes.join(', ');
}

/** Upserts the kit's row for the table when it differs from the config; an update names each change. */
export function managedRowSteps(ctx: ProvisionContext, input: TableInput, strategy: Strategy, group?: string): SqlStep[] {
  const desired = desiredManagedRow(ctx, input, strategy);
  if (input.managed && sameManagedRow(input.managed, desired)) return [];
  const kit = quoteIdent(ctx.config.kitSchema);
  const { schema, name } = input.table.name;
  return [
    sqlStep(
      input.managed
        ? `update ${displayName(input.table.name)} in ${ctx.config.kitSchema}.managed_table: ${describeRowChanges(input.managed, desired)}`
        : `record ${strategy} settings of ${displayName(input.table.name)} in ${ctx.config.kitSchema}.managed_table`,
      `INSERT INTO ${kit}.managed_table (parent_schema, parent_table, control_column, control_type, premake, retention, archive_schema, time_zone, strategy, partman_schema, purge_after, id_ranges)
VALUES ($1, $2, $3, $4, $5, $6::interval, $7, $8, $9, $10, $11::interval, $12)
ON CONFLICT (parent_schema, parent_table) DO UPDATE
   SET control_column = EXCLUDED.control_column, control_type = EXCLUDED.control_type, premake = EXCLUDED.premake,
       retention = EXCLUDED.retention, archive_schema = EXCLUDED.archive_schema, time_zone = EXCLUDED.time_zone,
       strategy = EXCLUDED.strategy, partman_schema = EXCLUDED.partman_schema, purge_after = EXCLUDED.purge_after,
       id_ranges = EXCLUDED.id_ranges, updated_at = now()`,
      {
        params: [schema, name, desired.controlColumn, desired.controlType, desired.premake, desired.retention, desired.archiveSchema, desired.timeZone, desired.strategy, desired.partmanSchema, desired.purgeAfter, desired.idRanges],
        table: displayName(input.table.name),
        ...(group ? { group } : {}),
      },
    ),
  ];
}

/** The id ranges of a table with time-ordered ids, for its partitions that have none (sql/kit/add_id_ranges.sql). */
export function idRangesStep(kitSchema: string, table: QualifiedName, group: string): SqlStep {
  return sqlStep(`give the partitions of ${displayName(table)} their id ranges (time-ordered ids)`, `SELECT ${quoteIdent(kitSchema)}.add_id_ranges($1::regclass)`, {
    params: [quoteQualified(table)],
    table: displayName(table),
    group,
  });
}

/** The months provision must make sure of: the current month (in the table's zone) through premake. */
export function initialMonths(table: TableConfig, now: Date): Month[] {
  const start = currentMonth(table.timeZone, now);
  return Array.from({ length: table.premake + 1 }, (_, i) => addMonths(start, i));
}

/** Months among `months` that no attached child covers yet. */
export function missingMonths(input: TableInput, months: readonly Month[]): Month[] {
  const covered = new Set(input.partitions.map(coveredMonth).filter((key): key is string => key !== undefined));
  return months.filter((month) => !covered.has(monthKey(month)));
}



/** The settings the kit's managed_table records for a table, the config's where it has none. */
export function managedSettings(table: TableConfig, managed: ManagedTable | null): RegisteredSettings {
  return {
    interval: table.interval,
    premake: managed?.premake ?? table.premake,
    retention: managed ? managed.retention : table.retention,
    archiveSchema: managed?.archiveSchema ?? table.archiveSchema,
  };
}
