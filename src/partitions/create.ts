/**
 * `partkit partition create <table> --month YYYY-MM` (or `--from YYYY-MM --to YYYY-MM`):
 * creates months explicitly, on either strategy. Tables registered with pg_partman get
 * pg_partman's own children (`create_partition_time`); every other range-partitioned table gets
 * the kit's `create_monthly_partition`. Months that exist are skipped, so a second run changes nothing.
 */
import type { Config, Strategy } from '../core/config.js';
import type { Database } from '../core/db.js';
import { CheckFailedError, ConflictError, MissingCapabilityError, UsageError } from '../core/errors.js';
import { displayName, dottedName, parseQualifiedName, quoteIdent, type QualifiedName } from '../core/identifiers.js';
import { addMonths, controlTypeOf, coveredMonth, currentMonth, listPartitions, monthKey, monthStartLiteral, type ControlType, type Month, type Partition } from '../core/partitions.js';
import { kitHas, kitMissing } from '../core/kit.js';
import { strategyOf } from '../strategies/index.js';
import { readWaitingMonths } from '../strategies/partman.js';
import type { Plan, Step } from '../core/plan.js';
import { run, underRunLock } from '../core/runner.js';
import { readOnce } from '../core/snapshot.js';
import { similarTables, tableNotFoundError } from '../core/table-lookup.js';


/** More than ten years at once is almost certainly a typo (2205 for 2025). */
export const MAX_MONTHS = 120;

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function parseMonth(text: string, option: string): Month {
  const match = MONTH.exec(text.trim());
  if (!match) throw new UsageError(`${option} "${text}" is not a month.`, 'Write it as YYYY-MM, e.g. 2026-03.');
  const year = Number(match[1]);
  if (year < 1) throw new UsageError(`${option} "${text}": the year must be 0001 or later.`);
  return { year, month: Number(match[2]) };
}

/**
 * A month counted from the server's clock in the table's zone once the table is inspected:
 * `--month current` (offset 0) or `--month next` (1). Scripts use it instead of their own clock.
 */
export interface RelativeMonth {
  readonly offset: number;
}

const RELATIVE: Record<string, number> = { current: 0, next: 1 };

/** The months an invocation asks for, oldest first; usage errors for anything ambiguous. */
export function requestedMonths(options: { month?: string | undefined; from?: string | undefined; to?: string | undefined }): Month[] | RelativeMonth {
  const { month, from, to } = options;
  if (month !== undefined && (from !== undefined || to !== undefined)) {
    throw new UsageError('Give either --month or --from/--to, not both.');
  }
  if (month !== undefined && RELATIVE[month.trim()] !== undefined) return { offset: RELATIVE[month.trim()]! };
  if (month !== undefined) return [parseMonth(month, '--month')];
  if (from === undefined || to === undefined) {
    throw new UsageError('Say which months to create: --month YYYY-MM, or --from YYYY-MM --to YYYY-MM (inclusive).');
  }
  const first = parseMonth(from, '--from');
  const last = parseMonth(to, '--to');
  const count = last.year * 12 + last.month - (first.year * 12 + first.month) + 1;
  if (count < 1) throw new UsageError(`--from ${monthKey(first)} is after --to ${monthKey(last)}.`, 'Swap them.');
  if (count > MAX_MONTHS) {
    throw new UsageError(`--from ${monthKey(first)} --to ${monthKey(last)} spans ${count} months; at most ${MAX_MONTHS} are created at once.`, 'Create them in several runs.');
  }
  return Array.from({ length: count }, (_, i) => addMonths(first, i));
}

/** How a table is managed, as far as creating months goes. */
interface MonthsTarget {
  readonly name: QualifiedName;
  readonly controlType: ControlType;
  readonly strategy: Strategy;
  readonly timeZone: string;
  readonly partmanSchema: string | null;
  readonly idRanges: boolean;
  readonly partitions: readonly Partition[];
}

const KIT_OBJECTS = ['create_monthly_partition(text,integer,integer)', 'managed_table'];

/** What `partition create` reads, in one read-only snapshot, before it plans (src/core/snapshot.ts). */
export interface PartitionCreateState {
  /** The database read (its name, for messages). */
  readonly database: string;
  readonly name: QualifiedName;
  /** The relation of that name; null when there is none (then `similar` holds the names close to it). */
  readonly table: { readonly relkind: string; readonly partstrat: string | null; readonly keys: number | null; readonly controlType: string | null } | null;
  readonly similar: readonly QualifiedName[];
  /** pg_partman's schema, when installed; its part_config row of the table, when registered there. */
  readonly partmanSchema: string | null;
  readonly registered: { readonly interval: string; readonly monthly: boolean } | null;
  /** The kit has create_monthly_partition, and its managed_table row of the table (its zone, whether it has id ranges). */
  readonly kitInstalled: boolean;
  readonly managed: { readonly timeZone: string; readonly idRanges: boolean } | null;
  /** The zone months are counted in (monthsZone), and the children with their bounds in it. */
  readonly timeZone: string;
  readonly partitions: readonly Partition[];
  /** Months ('YYYY-MM') of the rows waiting in the default partition of a table pg_partman manages, among those asked for that no child covers. */
  readonly waiting: readonly string[];
  /** The server's clock at the snapshot: `--month current|next` are counted from it. */
  readonly now: Date;
}

/**
 * The zone a table's months are counted in: pg_partman computes month starts in the zone the set
 * was registered in (the kit's record, else the config's, else UTC); create_monthly_partition uses
 * the kit's record of the table, and UTC for a table the kit does not manage.
 */
function monthsZone(config: Config, name: QualifiedName, registered: boolean, managed: { readonly timeZone: string } | null): string {
  const configured = config.tables.find((table) => table.name.schema === name.schema && table.name.name === name.name);
  return managed?.timeZone ?? (registered ? configured?.timeZone : undefined) ?? 'UTC';
}

/** The months asked for: a relative month counted from `now` in the table's zone. */
function monthsAsked(requested: readonly Month[] | RelativeMonth, timeZone: string, now: Date): readonly Month[] {
  return 'offset' in requested ? [addMonths(currentMonth(timeZone, now), requested.offset)] : requested;
}

/** `requested`: only to read no more of the default partition than the months asked for that no child covers. */
export async function readPartitionCreateState(db: Database, config: Config, name: QualifiedName, requested: readonly Month[] | RelativeMonth): Promise<PartitionCreateState> {
  return readOnce(db, async () => {
    const [row] = await db.query<{ relkind: string; partstrat: string | null; keys: number | null; control_type: string | null }>(
      `SELECT c.relkind, pt.partstrat::text AS partstrat, pt.partnatts::int AS keys,
              (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum = pt.partattrs[0]) AS control_type
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
        WHERE n.nspname = $1 AND c.relname = $2`,
      [name.schema, name.name],
    );
    const [clock] = await db.query<{ now: Date }>('SELECT now() AS now');
    const none = { database: db.name, name, similar: [], partmanSchema: null, registered: null, kitInstalled: false, managed: null, timeZone: 'UTC', partitions: [], waiting: [], now: clock!.now };
    if (!row) return { ...none, table: null, similar: await similarTables(db, name) };
    const table = { relkind: row.relkind, partstrat: row.partstrat, keys: row.keys, controlType: row.control_type };
    const controlType = controlTypeOf(row.control_type);
    if (row.relkind !== 'p' || row.partstrat !== 'r' || row.keys !== 1 || controlType === undefined) return { ...none, table };
    const [partman] = await db.query<{ schema: string }>(`SELECT n.nspname::text AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'`);
    let registered: { interval: string; monthly: boolean } | undefined;
    if (partman) {
      // Compared as an interval of exactly one month: '30 days' = '1 month' is true in PostgreSQL
      // (interval comparison counts a month as 30 days), so equality alone would take 30 days for monthly.
      [registered] = await db.query<{ interval: string; monthly: boolean }>(
        `SELECT partition_interval::text AS interval,
                (i = interval '1 month' AND date_part('month', i) = 1 AND date_part('day', i) = 0) AS monthly
           FROM (SELECT partition_interval, partition_interval::interval AS i FROM ${quoteIdent(partman.schema)}.part_config WHERE parent_table = $1) AS registered`,
        [dottedName(name)],
      );
    }
    const kitInstalled = await kitHas(db, config.kitSchema, KIT_OBJECTS);
    let managed: { timeZone: string; idRanges: boolean } | null = null;
    if (kitInstalled) {
      const [found] = await db.query<{ time_zone: string; id_ranges: boolean | null }>(
        `SELECT time_zone, (to_jsonb(m) ->> 'id_ranges')::boolean AS id_ranges FROM ${quoteIdent(config.kitSchema)}.managed_table m WHERE parent_schema = $1 AND parent_table = $2`,
        [name.schema, name.name],
      );
      managed = found ? { timeZone: found.time_zone, idRanges: found.id_ranges ?? false } : null;
    }
    const timeZone = monthsZone(config, name, registered !== undefined, managed);
    const partitions = await listPartitions(db, name, timeZone, controlType);
    const defaultPartition = partitions.find((partition) => partition.isDefault);
    const covered = new Set(partitions.map(coveredMonth));
    const uncovered = monthsAsked(requested, timeZone, clock!.now).map(monthKey).filter((key) => !covered.has(key));
    const waiting = registered?.monthly && defaultPartition && uncovered.length > 0 ? await readWaitingMonths(db, { name, controlType, timeZone }, defaultPartition, uncovered) : [];
    return { ...none, table, partmanSchema: partman?.schema ?? null, registered: registered ?? null, kitInstalled, managed, timeZone, partitions, waiting };
  });
}

/** The table partition create adds months to, or the refusal of one it cannot (from the state read). */
function monthsTarget(state: PartitionCreateState, config: Config, monthArgs: string): MonthsTarget {
  const name = state.name;
  const label = displayName(name);
  if (!state.table) throw tableNotFoundError(name, state.similar, state.database, (found) => `partkit partition create ${found} ${monthArgs}`);
  if (state.table.relkind !== 'p') {
    throw new MissingCapabilityError(`${label} is not a partitioned table.`, 'Move it to a table PARTITION BY RANGE first (see `partkit provision`).');
  }
  const controlType = controlTypeOf(state.table.controlType);
  if (state.table.partstrat !== 'r' || state.table.keys !== 1 || controlType === undefined) {
    throw new MissingCapabilityError(`${label} is not partitioned by RANGE on one timestamptz, timestamp or date column.`, 'partkit only creates monthly range partitions.');
  }
  const idRanges = state.managed?.idRanges ?? false;
  if (state.registered) {
    if (!state.registered.monthly) {
      throw new MissingCapabilityError(
        `${label} is registered with pg_partman with partition interval "${state.registered.interval}", not exactly 1 month; partkit only creates calendar months, which would not fit its children.`,
        `Nothing was changed. Create these partitions with pg_partman itself (${state.partmanSchema}.create_partition_time), or re-register the table with p_interval := '1 month'.`,
      );
    }
    return { name, controlType, strategy: 'partman', timeZone: state.timeZone, partmanSchema: state.partmanSchema, idRanges, partitions: state.partitions };
  }
  // Not pg_partman's: the kit's create_monthly_partition makes the months.
  if (!state.kitInstalled) throw kitMissing(config.kitSchema, KIT_OBJECTS, state.database);
  return { name, controlType, strategy: 'plpgsql', timeZone: state.timeZone, partmanSchema: null, idRanges, partitions: state.partitions };
}

export interface PartitionCreatePlan {
  readonly table: string;
  readonly strategy: Strategy;
  readonly plan: Plan;
  /** Months the plan creates, 'YYYY-MM'. */
  readonly created: readonly string[];
  /** Months that already have their partition. */
  readonly skipped: readonly string[];
  readonly facts: MonthsTarget;
}

function monthRange(month: Month): { lower: string; upper: string } {
  return { lower: monthStartLiteral(month), upper: monthStartLiteral(addMonths(month, 1)) };
}

/** Reads once, then plans (planPartitionMonths); nothing changes. */
export async function planPartitionCreate(db: Database, config: Config, tableName: string, requested: readonly Month[] | RelativeMonth): Promise<PartitionCreatePlan> {
  const state = await readPartitionCreateState(db, config, parseQualifiedName(tableName), requested);
  return planPartitionMonths(state, config, requested, state.now);
}

/**
 * The plan of `partition create` from the state read, the months asked for, and the clock (`now`:
 * the server's, `state.now`, from which current and next are counted in the table's zone). Pure:
 * refuses a table it cannot add months to, and months another partition already overlaps.
 */
export function planPartitionMonths(state: PartitionCreateState, config: Config, requested: readonly Month[] | RelativeMonth, now: Date): PartitionCreatePlan {
  const monthArgs =
    'offset' in requested
      ? `--month ${requested.offset === 0 ? 'current' : 'next'}`
      : requested.length === 1
        ? `--month ${monthKey(requested[0]!)}`
        : `--from ${monthKey(requested[0]!)} --to ${monthKey(requested.at(-1)!)}`;
  const facts = monthsTarget(state, config, monthArgs);
  const months = monthsAsked(requested, facts.timeZone, now);
  const label = displayName(state.name);
  const covered = new Set(facts.partitions.map(coveredMonth).filter((key): key is string => key !== undefined));
  const missing = months.filter((month) => !covered.has(monthKey(month)));
  const skipped = months.filter((month) => covered.has(monthKey(month))).map(monthKey);

  // Local bounds are 'YYYY-MM-DD HH24:MI:SS' in the table's zone, so they compare as text.
  const conflicts: string[] = [];
  for (const month of missing) {
    const { lower, upper } = monthRange(month);
    for (const partition of facts.partitions) {
      if (partition.isDefault || partition.lower === null || partition.upper === null) continue;
      if (partition.lower < upper && partition.upper > lower) {
        conflicts.push(`${monthKey(month)} overlaps ${displayName(partition)} (${partition.bound})`);
      }
    }
  }
  if (conflicts.length > 0) {
    throw new ConflictError(`Cannot create these months of ${label}: ${conflicts.join('; ')}.`, 'Nothing was changed. Leave those months out, or reshape the overlapping partitions by hand.');
  }

  const steps: Step[] = strategyOf(facts.strategy).planMonths({ ...facts, kitSchema: config.kitSchema, waiting: state.waiting }, missing);
  return { table: label, strategy: facts.strategy, plan: { steps }, created: missing.map(monthKey), skipped, facts };
}

export interface PartitionCreateResult {
  readonly table: string;
  readonly strategy: Strategy;
  readonly created: readonly string[];
  readonly skipped: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly sql?: string;
}

export interface PartitionCreateOptions {
  readonly dryRun?: boolean | undefined;
}

export async function partitionCreate(db: Database, config: Config, tableName: string, months: readonly Month[] | RelativeMonth, options: PartitionCreateOptions = {}): Promise<PartitionCreateResult> {
  // A name that does not parse is refused before the run lock is taken.
  parseQualifiedName(tableName);
  return underRunLock(db, options, () => partitionCreateLocked(db, config, tableName, months, options));
}

async function partitionCreateLocked(db: Database, config: Config, tableName: string, months: readonly Month[] | RelativeMonth, options: PartitionCreateOptions): Promise<PartitionCreateResult> {
  const planned = await planPartitionCreate(db, config, tableName, months);
  const base = { table: planned.table, strategy: planned.strategy, skipped: planned.skipped, changes: planned.plan.steps.length };
  const outcome = await run(db, planned.plan, { dryRun: options.dryRun ?? false });
  if (outcome.dryRun) return { ...base, created: planned.created, dryRun: true, sql: outcome.sql };
  // Check the result rather than trust it: pg_partman skips silently what it does not make.
  const after = await listPartitions(db, planned.facts.name, planned.facts.timeZone, planned.facts.controlType);
  const covered = new Set(after.map(coveredMonth).filter((key): key is string => key !== undefined));
  const absent = planned.created.filter((key) => !covered.has(key));
  if (absent.length > 0) {
    throw new CheckFailedError(`After creating, ${planned.table} still has no partition for ${absent.join(', ')}.`, 'Look at the table with `partkit doctor`; for pg_partman see its part_config row.');
  }
  return { ...base, created: planned.created, dryRun: false };
}
