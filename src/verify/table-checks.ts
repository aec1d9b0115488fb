/**
 * The checks `partkit verify` runs for one configured table: its shape, month coverage, the
 * default partition, registration, retention and indexes. Each failure says what to run.
 */
import type { Capabilities, TableState } from '../core/capabilities.js';
import { settingField, type Config, type Strategy, type TableConfig } from '../core/config.js';
import { configArgs } from '../core/config.js';
import { applyCommand } from '../core/settings.js';
import type { Database } from '../core/db.js';
import { displayName, quoteIdent, quoteLiteral, quoteQualified } from '../core/identifiers.js';
import { configIntervalText, sameInterval } from '../core/intervals.js';
import { controlTypeOf, coveredMonth, currentMonth, listPartitions, monthKey, type Month, type Partition } from '../core/partitions.js';
import { readSql } from '../core/sql-files.js';
import { countRows, readArchivedMonths, readManagedTable, readPartmanConfig, type ManagedTable, type PartmanConfig } from '../core/checks/state.js';
import { fail, fromProblems, pass, warn, type CheckResult } from '../core/checks/types.js';
import { partkitCommand } from '../core/shell.js';
import { readTimeIndex, timeIndexAdvice } from '../core/time-index.js';
import { describeIdLookup, readIdLookup } from './id-lookups.js';
import { strategyOf } from '../strategies/index.js';
import { kitNotInstalled } from '../core/kit.js';
import { missingTableProblem, tableShapeProblems } from '../core/table-shape.js';

export interface TableCheckOptions {
  /** Rows tolerated in the default partition. */
  readonly maxDefaultRows: number;
}

interface TableFacts {
  readonly label: string;
  readonly table: TableConfig;
  readonly partitions: readonly Partition[];
  readonly managed: ManagedTable | null;
  readonly partConfig: PartmanConfig | null;
  /** The strategy that manages the table now (or would, from the config). */
  readonly strategy: Strategy;
  /** Months held attached past retention (the kit's archive_hold, `archive restore --keep`), YYYY-MM. */
  readonly held: readonly string[];
  /** The oldest month retention keeps (YYYY-MM, the month holding now − retention); null without retention. */
  readonly firstKept: string | null;
}

/** The months of `table` in the kit's archive_hold (none when the kit has no such table). */
async function readHeldMonths(db: Database, kitSchema: string, table: TableConfig): Promise<string[]> {
  const [installed] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${quoteIdent(kitSchema)}.archive_hold`]);
  if (!installed?.ok) return [];
  const rows = await db.query<{ month: string }>(`SELECT month FROM ${quoteIdent(kitSchema)}.archive_hold WHERE parent_schema = $1 AND parent_table = $2 ORDER BY month`, [table.name.schema, table.name.name]);
  return rows.map((row) => row.month);
}

/** How a held month is let go, for the notes that list held months. */
function releaseNote(facts: TableFacts, config: Config): string {
  const held = facts.held;
  return `${held.length === 1 ? 'month' : 'months'} ${list([...held])} held attached past the retention (archive restore --keep); to let maintenance archive ${held.length === 1 ? 'it' : 'them'} again: ${partkitCommand(['archive', 'release', displayName(facts.table.name), '--month', held[0]!, ...configArgs(config)])}`;
}

/** At most `limit` items, then "and N more". */
function list(items: readonly string[], limit = 4): string {
  return items.length <= limit ? items.join(', ') : `${items.slice(0, limit).join(', ')} and ${items.length - limit} more`;
}

function monthIndex(key: string): number {
  const [year, month] = key.split('-').map(Number);
  return year! * 12 + (month! - 1);
}

function monthOf(index: number): Month {
  return { year: Math.floor(index / 12), month: (index % 12) + 1 };
}

/** exists, partitioned by RANGE on the control column, primary key includes it: the one shape validator's verdict. */
function checkShape(label: string, table: TableConfig, state: TableState): CheckResult {
  if (!state.exists) return fail(label, 'partitioned', missingTableProblem(state, table));
  const problems = tableShapeProblems(state, table, { requirePrimaryKey: true });
  return fromProblems(label, 'partitioned', problems, `partitioned by RANGE (${table.controlColumn}); primary key (${state.primaryKey?.join(', ')})`);
}

interface DetachedMonth {
  readonly schema: string;
  readonly name: string;
  readonly month: string;
  readonly rows: number;
}

/** Tables in the parent's own schema named as its months (any strategy's naming) that are not attached anywhere. */
async function readDetachedMonths(db: Database, table: TableConfig): Promise<DetachedMonth[]> {
  const named = await readArchivedMonths(db, table.name.schema, table.name);
  const detached: DetachedMonth[] = [];
  for (const month of named) {
    if (month.month === null) continue;
    const [row] = await db.query<{ attached: boolean }>('SELECT c.relispartition AS attached FROM pg_class c WHERE c.oid = $1::regclass', [quoteQualified(month)]);
    if (row?.attached !== false) continue;
    detached.push({ schema: month.schema, name: month.name, month: month.month, rows: await countRows(db, month, 1_000_000) });
  }
  return detached;
}

/** Months from the oldest attached child through the current month + premake, no gap, on month starts. */
function checkCoverage(facts: TableFacts, config: Config, now: Date, detached: readonly DetachedMonth[]): CheckResult {
  const { label, table } = facts;
  const problems: string[] = [];
  // Months detached outside partkit: maintenance never writes into them, and their month stays
  // missing (its rows wait in the default) until someone decides.
  for (const month of detached) {
    problems.push(
      `${quoteQualified(month)} is month ${month.month} of ${label} but is not attached (${month.rows} row(s)); partkit leaves it alone: reattach it with ALTER TABLE ${quoteQualified(table.name)} ATTACH PARTITION ${quoteQualified(month)} FOR VALUES FROM (...) TO (...) once the default holds no rows of that month, or drop it if it is not needed`,
    );
  }
  const covered = new Set<string>();
  for (const partition of facts.partitions) {
    if (partition.isDefault) continue;
    const month = coveredMonth(partition);
    // A held month older than retention keeps is no start of the set: the months between it and
    // the kept ones are archived, not a gap (creating them would only have maintenance archive them).
    if (month && facts.firstKept !== null && month < facts.firstKept && facts.held.includes(month)) continue;
    if (month) covered.add(month);
    else {
      problems.push(
        `${displayName(partition)} covers ${partition.lower ?? '?'} to ${partition.upper ?? '?'} (${table.timeZone}), not one month from midnight on the 1st: detach it (ALTER TABLE ${quoteQualified(table.name)} DETACH PARTITION ${quoteQualified(partition)}), run \`partkit maintain\`, and insert its rows back through ${label}`,
      );
    }
  }
  const current = monthIndex(monthKey(currentMonth(table.timeZone, now)));
  const end = current + table.premake;
  const indices = [...covered].map(monthIndex);
  const start = indices.length > 0 ? Math.min(...indices, current) : current;
  const last = indices.length > 0 ? Math.max(...indices) : start - 1;
  const gaps: Month[] = [];
  const ahead: Month[] = [];
  for (let index = start; index <= end; index += 1) {
    if (covered.has(monthKey(monthOf(index)))) continue;
    (index < last ? gaps : ahead).push(monthOf(index));
  }
  if (gaps.length > 0) {
    // One command for either strategy: it makes the missing months of the span and skips the others
    // (`partkit maintain` fills such gaps too).
    const fix = `run ${partkitCommand(['partition', 'create', quoteQualified(table.name), '--from', monthKey(gaps[0]!), '--to', monthKey(gaps.at(-1)!), ...configArgs(config)])}`;
    problems.push(`${gaps.length === 1 ? 'month' : 'months'} ${list(gaps.map(monthKey), 6)} ${gaps.length === 1 ? 'is' : 'are'} missing in the middle of the set (a gap): ${fix}`);
  }
  if (ahead.length > 0) {
    problems.push(`${ahead.length === 1 ? 'month' : 'months'} ${list(ahead.map(monthKey), 6)} ${ahead.length === 1 ? 'is' : 'are'} missing (current month + premake ${table.premake} must exist): run \`partkit maintain\``);
  }
  const from = monthKey(monthOf(start));
  return fromProblems(label, 'coverage', problems, `${from} through ${monthKey(monthOf(end))} covered without gaps (${end - start + 1} months, current + premake ${table.premake}, month starts in ${table.timeZone})`);
}

async function checkDefault(db: Database, facts: TableFacts, kitSchema: string, options: TableCheckOptions): Promise<CheckResult> {
  const { label } = facts;
  const partition = facts.partitions.find((p) => p.isDefault);
  if (!partition) {
    return fail(label, 'default-partition', `${label} has no default partition, so a row outside every month fails the insert: run SELECT ${quoteIdent(kitSchema)}.ensure_default_partition(${quoteLiteral(quoteQualified(facts.table.name))});`);
  }
  // Counting stops at the limit, so a huge default stays cheap to check.
  const limit = Math.max(options.maxDefaultRows + 1, 10_000);
  const rows = await countRows(db, partition, limit);
  if (rows > options.maxDefaultRows) {
    return fail(
      label,
      'default-partition',
      `${displayName(partition)} holds ${rows >= limit ? `at least ${rows}` : rows} row(s)${options.maxDefaultRows > 0 ? `, more than the ${options.maxDefaultRows} allowed by --max-default-rows` : ''}: run \`partkit maintain\` to move them into their months`,
    );
  }
  return pass(label, 'default-partition', `${displayName(partition)} holds ${rows} row(s)${options.maxDefaultRows > 0 ? ` (up to ${options.maxDefaultRows} allowed)` : ''}`);
}

/** managed_table and (for partman) part_config say what the config says. */
function checkRegistration(facts: TableFacts, caps: Capabilities, config: Config): CheckResult {
  const { label, table, managed, partConfig } = facts;
  const kit = config.kitSchema;
  // The config file, which holds the strategy too (a built-in config's strategy is auto).
  const provision = `\`${applyCommand(config)}\``;
  if (!caps.kit.installed) return fail(label, 'registration', `${kitNotInstalled(kit)}: run ${provision}`);
  if (!managed) return fail(label, 'registration', `${label} is not registered in ${kit}.managed_table: run ${provision}`);
  const problems: string[] = [];
  // Names the setting as the config file spells it, both values, and where the database keeps its one.
  const differs = (setting: string, recorded: unknown, wanted: unknown) => problems.push(`${setting}: the config says ${wanted ?? 'none'}, ${kit}.managed_table records ${recorded ?? 'none'}`);
  const archiveSchema = table.retention ? table.archiveSchema : null;
  if (config.strategy !== 'auto' && managed.strategy !== config.strategy) differs('strategy', managed.strategy, config.strategy);
  if (managed.controlColumn !== table.controlColumn) differs(settingField(table, 'controlColumn'), managed.controlColumn, table.controlColumn);
  if (managed.premake !== table.premake) differs(settingField(table, 'premake'), managed.premake, table.premake);
  if (!sameInterval(managed.retention, table.retention)) differs(settingField(table, 'retention'), managed.retention === null ? null : configIntervalText(managed.retention), table.retention);
  if (managed.archiveSchema !== table.archiveSchema) differs('archiveSchema', managed.archiveSchema, table.archiveSchema);
  if (managed.timeZone !== table.timeZone) differs(settingField(table, 'timeZone'), managed.timeZone, table.timeZone);
  const strategy = strategyOf(managed.strategy);
  problems.push(...strategy.registrationProblems({ label, table, partConfig, caps }));
  if (problems.length > 0) return fail(label, 'registration', `${problems.join('; ')}: run ${provision} to apply the config, or change the config to match the database`);
  const retention = table.retention ? `retention ${table.retention} into ${archiveSchema}` : 'no retention';
  const extra = strategy.extraRegistry(caps);
  return pass(label, 'registration', `${managed.strategy}: ${extra ? `${extra} and ` : ''}${kit}.managed_table match the config (monthly, premake ${table.premake}, ${retention}, ${table.timeZone})`);
}

/** No attached month lies wholly before now − retention, but those held attached (listed as information). */
async function checkRetention(db: Database, facts: TableFacts, config: Config): Promise<CheckResult> {
  const { label, table } = facts;
  if (!table.retention) return pass(label, 'retention', 'no retention configured: every month stays attached');
  const late = await lateRowsNote(db, table, config.kitSchema);
  const [row] = await db.query<{ cutoff: string }>(`SELECT to_char((now() AT TIME ZONE $1) - $2::interval, 'YYYY-MM-DD HH24:MI:SS') AS cutoff`, [table.timeZone, table.retention]);
  const cutoff = row!.cutoff;
  // Both are wall-clock 'YYYY-MM-DD HH24:MI:SS' in the table's zone, so text order is time order.
  const old = facts.partitions.filter((p) => !p.isDefault && p.upper !== null && p.upper <= cutoff && !facts.held.includes(coveredMonth(p) ?? ''));
  const held = facts.held.length > 0 ? `; ${releaseNote(facts, config)}` : '';
  if (old.length === 0) return pass(label, 'retention', `no attached month ends before ${cutoff} ${table.timeZone} (now − ${table.retention})${facts.held.length > 0 ? ' but the held ones' : ''}${held}${late}`);
  const names = old.map((p) => `${coveredMonth(p) ?? `${p.lower} to ${p.upper}`} (${displayName(p)})`);
  return fail(
    label,
    'retention',
    `${old.length === 1 ? 'month' : 'months'} ${list(names)} ${old.length === 1 ? 'lies' : 'lie'} wholly before now − ${table.retention} (${cutoff} ${table.timeZone}) and ${old.length === 1 ? 'is' : 'are'} still attached: run \`partkit maintain\` (it moves such months into schema ${table.archiveSchema})`,
  );
}

/**
 * A warning (the check still passes) when late rows, for months already past the retention, were
 * moved into the archive: their archived months changed, so their exports are out of date.
 */
async function lateRowsNote(db: Database, table: TableConfig, kitSchema: string): Promise<string> {
  const [installed] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${quoteIdent(kitSchema)}.maintenance_event`]);
  if (!installed?.ok) return '';
  const [row] = await db.query<{ rows: string; months: string[] | null }>(
    `SELECT coalesce(sum(e.rows), 0)::text AS rows, array_agg(DISTINCT e.partition_name ORDER BY e.partition_name) AS months
       FROM ${quoteIdent(kitSchema)}.maintenance_event e
      WHERE e.parent_schema = $1 AND e.parent_table = $2 AND e.action = 'late'`,
    [table.name.schema, table.name.name],
  );
  if (!row || row.rows === '0') return '';
  return `; warning: ${row.rows} late row(s) arrived for months past the retention and joined ${list(row.months ?? [])} in the archive (kept 90 days in ${kitSchema}.maintenance_event): run \`partkit archive export\` to write those months again`;
}

/** Every partitioned index of the parent has an attached index on every child. */
async function checkIndexes(db: Database, facts: TableFacts): Promise<CheckResult> {
  const { label, table } = facts;
  const rows = await db.query<{ index_schema: string; index_name: string; definition: string; valid: boolean; child_schema: string; child_name: string; attached: boolean }>(readSql('queries/verify-indexes.sql'), [table.name.schema, table.name.name]);
  const byIndex = new Map<string, typeof rows>();
  for (const row of rows) byIndex.set(`${row.index_schema}.${row.index_name}`, [...(byIndex.get(`${row.index_schema}.${row.index_name}`) ?? []), row]);
  const problems: string[] = [];
  for (const [index, pairs] of byIndex) {
    const missing = pairs.filter((pair) => !pair.attached);
    if (missing.length === 0) continue;
    const first = missing[0]!;
    // pg_get_indexdef: CREATE [UNIQUE] INDEX name ON [ONLY] table USING method (columns) ...
    const unique = first.definition.startsWith('CREATE UNIQUE') ? 'UNIQUE ' : '';
    const using = first.definition.indexOf(' USING ');
    const tail = using >= 0 ? first.definition.slice(using + 1) : '(...)';
    const parentIndex = quoteQualified({ schema: first.index_schema, name: first.index_name });
    problems.push(
      `index ${index} is missing on ${missing.length} of ${pairs.length} children (${list(missing.map((m) => `${m.child_schema}.${m.child_name}`))}): for each, run CREATE ${unique}INDEX ON ${quoteQualified({ schema: first.child_schema, name: first.child_name })} ${tail}; then ALTER INDEX ${parentIndex} ATTACH PARTITION <the new index>;`,
    );
  }
  const children = new Set(rows.map((row) => `${row.child_schema}.${row.child_name}`)).size;
  return fromProblems(label, 'indexes', problems, `all ${byIndex.size} index(es) of ${label} present on all ${children} children`);
}

/** Every month has an index leading with the control column; a warning, not a failure, when one lacks it. */
async function checkTimeIndex(db: Database, facts: TableFacts): Promise<CheckResult> {
  const { label, table } = facts;
  const state = await readTimeIndex(db, table.name, table.controlColumn);
  const advice = timeIndexAdvice(table, state);
  if (advice) return warn(label, 'time-index', advice);
  return pass(label, 'time-index', `every child of ${label} (${state.children.length}) has an index leading with ${table.controlColumn}${state.parentIndex ? ` (${state.parentIndex})` : ''}`);
}

/** What a lookup by id alone opens (EXPLAIN): a report, never a failure; a warning when a table with time-ordered ids does not prune. */
async function checkIdLookups(db: Database, facts: TableFacts, now: Date): Promise<CheckResult | null> {
  const lookup = await readIdLookup(db, facts.table.name, now);
  if (!lookup) return null;
  const idRanges = facts.managed?.idRanges ?? false;
  const detail = describeIdLookup(lookup, idRanges);
  return idRanges && lookup.opened > 2 ? warn(facts.label, 'id-lookups', detail) : pass(facts.label, 'id-lookups', detail);
}

/** Every check for one table; when the table is not a usable partitioned table, only that. */
export async function checkTable(db: Database, caps: Capabilities, config: Config, table: TableConfig, state: TableState, options: TableCheckOptions): Promise<CheckResult[]> {
  const now = caps.server.now;
  const label = state.name;
  const shape = checkShape(label, table, state);
  const controlType = controlTypeOf(state.controlColumn.type);
  const rangeOnControl = state.partitioned && state.partitionStrategy === 'range' && state.partitionKey.join(',') === table.controlColumn;
  if (!rangeOnControl || !controlType) return [shape];
  const managed = await readManagedTable(db, caps, table.name);
  const partConfig = await readPartmanConfig(db, caps, table.name);
  const [kept] = table.retention
    ? await db.query<{ month: string }>(`SELECT to_char((now() AT TIME ZONE $1) - $2::interval, 'YYYY-MM') AS month`, [table.timeZone, table.retention])
    : [];
  const facts: TableFacts = {
    label,
    table,
    partitions: await listPartitions(db, table.name, table.timeZone, controlType),
    managed,
    partConfig,
    strategy: managed?.strategy ?? (partConfig ? 'partman' : 'plpgsql'),
    held: await readHeldMonths(db, config.kitSchema, table),
    firstKept: kept?.month ?? null,
  };
  return [
    shape,
    checkCoverage(facts, config, now, await readDetachedMonths(db, table)),
    await checkDefault(db, facts, config.kitSchema, options),
    checkRegistration(facts, caps, config),
    await checkRetention(db, facts, config),
    await checkIndexes(db, facts),
    await checkTimeIndex(db, facts),
    ...[await checkIdLookups(db, facts, now)].filter((check): check is CheckResult => check !== null),
  ];
}
