/**
 * Provision on a Citus coordinator: what Citus requires of a table before it can be sharded
 * (the distribution column in every unique key; being on the coordinator), checked before
 * anything changes, and the steps that distribute it (create_distributed_table), planned before
 * the strategy registers the table, so that every month made afterwards is distributed and
 * co-located with its parent as it is attached.
 */
import type { Capabilities } from '../core/capabilities.js';
import { settingField, type Config, type TableConfig } from '../core/config.js';
import type { Database } from '../core/db.js';
import { ConfigError, MissingCapabilityError } from '../core/errors.js';
import { displayName, parseQualifiedName, quoteIdent, quoteQualified } from '../core/identifiers.js';
import { sqlStep, type SqlStep, type Step } from '../core/plan.js';
import { readSql } from '../core/sql-files.js';
import { tableTemplate } from '../core/table-templates.js';

/** Where a table's `distribution` was written, for messages. */
function distributionField(table: TableConfig): string {
  return settingField(table, 'distribution');
}

interface UniqueKey {
  readonly index_name: string;
  readonly constraint_name: string | null;
  readonly is_primary: boolean;
  readonly columns: string[];
}

/** The unique keys among `keys` that lack `column`, with the DDL that widens each. */
function keysLackingColumn(table: TableConfig, keys: readonly UniqueKey[], column: string): { key: UniqueKey; fix: string }[] {
  const qualified = quoteQualified(table.name);
  return keys
    .filter((key) => !key.columns.includes(column))
    .map((key) => {
      const widened = [...key.columns, column].map(quoteIdent).join(', ');
      const fix =
        key.constraint_name !== null
          ? `ALTER TABLE ${qualified} DROP CONSTRAINT ${quoteIdent(key.constraint_name)}, ADD ${key.is_primary ? 'PRIMARY KEY' : 'UNIQUE'} (${widened});`
          : `DROP INDEX ${quoteIdent(table.name.schema)}.${quoteIdent(key.index_name)}; CREATE UNIQUE INDEX ${quoteIdent(key.index_name)} ON ${qualified} (${widened});`;
      return { key, fix };
    });
}

/** What checkDistribution needs of the server beyond the capabilities, per configured table (by index). */
export interface DistributionFacts {
  /** An existing table's columns and unique keys, for the tables with a `distribution`. */
  readonly tables: ReadonlyMap<number, { readonly columns: readonly string[]; readonly uniqueKeys: readonly UniqueKey[] }>;
  /** The `colocateWith` tables (as written in the config) that are hash-distributed on this server. */
  readonly distributed: readonly string[];
}

/** Reads the columns, unique keys and co-location targets of the tables to distribute (nothing without Citus). */
export async function readDistributionFacts(db: Database, caps: Capabilities, config: Config): Promise<DistributionFacts> {
  const tables = new Map<number, { columns: string[]; uniqueKeys: UniqueKey[] }>();
  const distributed: string[] = [];
  if (!caps.citus.installed || !caps.citus.coordinator) return { tables, distributed };
  for (const [index, table] of config.tables.entries()) {
    if (!table.distribution) continue;
    if (caps.tables[index]!.exists) {
      const columns = await db.query<{ name: string }>(
        'SELECT attname::text AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
        [quoteQualified(table.name)],
      );
      tables.set(index, { columns: columns.map((row) => row.name), uniqueKeys: await db.query<UniqueKey>(readSql('queries/citus-unique-keys.sql'), [quoteQualified(table.name)]) });
    }
    const colocateWith = table.distribution.colocateWith;
    if (colocateWith !== 'default' && colocateWith !== 'none' && !distributed.includes(colocateWith)) {
      const [row] = await db.query<{ ok: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass($1) AND partmethod = 'h') AS ok`, [quoteQualified(parseQualifiedName(colocateWith))]);
      if (row?.ok) distributed.push(colocateWith);
    }
  }
  return { tables, distributed };
}

/**
 * Refuses, before anything changes, a `distribution` this server or table cannot take: no Citus
 * (exit 4), not the coordinator (exit 4), a column the table or its template lacks (exit 2 for a
 * template, 4 for an existing table), a unique key without the column (exit 4, with the DDL that
 * fixes it), a table already distributed by another column (exit 4). Plans nothing, reads nothing.
 */
export function checkDistribution(facts: DistributionFacts, caps: Capabilities, config: Config): void {
  const wanted = config.tables.map((table, index) => ({ table, index, distribution: table.distribution ?? null })).filter((entry) => entry.distribution !== null);
  if (wanted.length === 0) return;
  const labels = wanted.map(({ table }) => `${displayName(table.name)} (${distributionField(table)})`).join(', ');
  if (!caps.citus.installed) {
    throw new MissingCapabilityError(
      `The config distributes ${labels} with Citus, but database ${caps.database} has no citus extension: a table can only be sharded across workers on a Citus coordinator.`,
      'Nothing was changed. Point --database-url at the Citus coordinator, or remove "distribution" from the config to keep the tables on this server.',
    );
  }
  if (!caps.citus.coordinator) {
    throw new MissingCapabilityError(
      `The config distributes ${labels}, but this node of database ${caps.database} is a Citus worker, not the coordinator: tables are distributed from the coordinator.`,
      'Nothing was changed. Point --database-url at the Citus coordinator.',
    );
  }
  const configProblems: string[] = [];
  const problems: string[] = [];
  for (const { table, index, distribution } of wanted) {
    const column = distribution!.column;
    const state = caps.tables[index]!;
    const citusTable = caps.citus.tables[index];
    const label = displayName(table.name);
    if (!state.exists) {
      const template = tableTemplate(table);
      if (template && !template.columns.includes(column)) {
        configProblems.push(`field "${distributionField(table)}.column": ${label} does not exist and partkit would create it from sql/${template.file}, which has no column "${column}" (its columns: ${template.columns.join(', ')}).`);
      }
    } else {
      const { columns, uniqueKeys } = facts.tables.get(index) ?? { columns: [], uniqueKeys: [] };
      if (!columns.includes(column)) {
        problems.push(`${label} has no column "${column}" to distribute by (field "${distributionField(table)}.column"; its columns: ${columns.join(', ')}).`);
        continue;
      }
      const parent = citusTable?.parent ?? null;
      if (parent?.method === 'h') {
        if (parent.column !== column) {
          problems.push(
            `${label} is already distributed by ${parent.column}, not ${column}; to change it, run on the coordinator: SELECT alter_distributed_table(${quoteLiteralText(quoteQualified(table.name))}, distribution_column := ${quoteLiteralText(column)});`,
          );
        }
        continue;
      }
      if (parent !== null && parent.method !== null) {
        problems.push(`${label} is a Citus reference or local table; partkit distributes only plain local tables (undistribute_table(${quoteLiteralText(quoteQualified(table.name))}) first).`);
        continue;
      }
      for (const { key, fix } of keysLackingColumn(table, uniqueKeys, column)) {
        problems.push(
          `${label}'s ${key.is_primary ? 'primary key' : `unique key ${key.constraint_name ?? key.index_name}`} (${key.columns.join(', ')}) does not include the distribution column ${column}; Citus can only enforce a unique key that includes it. Widen it (this takes a lock and rebuilds the index): ${fix}`,
        );
      }
    }
    const colocateWith = distribution!.colocateWith;
    if (colocateWith !== 'default' && colocateWith !== 'none') {
      const other = parseQualifiedName(colocateWith);
      const earlier = config.tables.slice(0, index).some((entry) => entry.distribution && entry.name.schema === other.schema && entry.name.name === other.name);
      if (!earlier && !facts.distributed.includes(colocateWith)) {
        configProblems.push(`field "${distributionField(table)}.colocateWith": ${colocateWith} is neither a distributed table on this server nor a table distributed earlier in the config.`);
      }
    }
  }
  if (configProblems.length > 0) {
    throw new ConfigError(`Invalid config ${config.source}: ${configProblems.join('\n')}`, 'Nothing was changed. Fix "distribution" in the config and run again.');
  }
  if (problems.length > 0) {
    throw new MissingCapabilityError(problems.join('\n'), 'Nothing was changed. Fix each table as said above (or change "distribution" in the config), then provision again.');
  }
}

function quoteLiteralText(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Every PRIMARY KEY (...) and UNIQUE (...) of a template's DDL, widened to include `column`. */
export function widenUniqueKeys(ddl: string, column: string): string {
  return ddl.replace(/\b(PRIMARY KEY|UNIQUE)\s*\(([^)]*)\)/g, (whole, kind: string, list: string) => {
    const columns = list.split(',').map((entry) => entry.trim());
    if (columns.includes(column) || columns.includes(quoteIdent(column))) return whole;
    return `${kind} (${[...columns, quoteIdent(column)].join(', ')})`;
  });
}

/** The create-table step of a table partkit creates, its unique keys widened when it will be distributed. */
export function distributedCreateStep(table: TableConfig, step: Step): Step {
  const distribution = table.distribution ?? null;
  if (distribution === null || step.kind !== 'sql') return step;
  return { ...step, sql: widenUniqueKeys(step.sql, distribution.column), description: `${step.description}, unique keys widened to include ${distribution.column} (Citus)` };
}

export function colocateArgument(colocateWith: string): string {
  return colocateWith === 'default' || colocateWith === 'none' ? colocateWith : quoteQualified(parseQualifiedName(colocateWith));
}

/** create_distributed_table for a configured table that is not distributed yet. */
export function planDistribute(caps: Capabilities, table: TableConfig, index: number): SqlStep[] {
  const distribution = table.distribution ?? null;
  if (distribution === null) return [];
  if (caps.citus.tables[index]?.parent?.method === 'h') return [];
  const label = displayName(table.name);
  return [
    sqlStep(
      `distribute ${label} by ${distribution.column} across the Citus workers (colocate_with ${distribution.colocateWith}); its months follow it`,
      'SELECT create_distributed_table($1, $2, colocate_with => $3)',
      { params: [quoteQualified(table.name), distribution.column, colocateArgument(distribution.colocateWith)], table: label },
    ),
  ];
}

export interface DistributionNote {
  readonly table: string;
  /** What Citus itself requires. */
  readonly required: readonly string[];
  /** What partkit chose where Citus leaves a choice. */
  readonly chosen: readonly string[];
}

/** For provision's report: per distributed table, what Citus requires and what partkit chose. */
export function distributionNotes(caps: Capabilities, config: Config): DistributionNote[] {
  const notes: DistributionNote[] = [];
  for (const [index, table] of config.tables.entries()) {
    const distribution = table.distribution ?? null;
    if (distribution === null) continue;
    const state = caps.tables[index]!;
    const template = state.exists ? undefined : tableTemplate(table);
    const pk = template ? (/PRIMARY KEY\s*\(([^)]*)\)/.exec(readSql(template.file))?.[1] ?? '').split(',').map((c) => c.trim()) : state.primaryKey ?? [];
    const required = [
      `the distribution column ${distribution.column} in every primary and unique key${pk.length ? `: primary key (${[...new Set([...pk, distribution.column])].join(', ')})` : ''}`,
      `the table distributed from the coordinator before its months are registered, so that each new month is distributed and co-located with it when it is attached`,
    ];
    const chosen = [
      `shard by ${distribution.column} (config ${distributionField(table)}), ${caps.citus.activeWorkers} active worker(s)`,
      distribution.colocateWith === 'default'
        ? 'colocate_with default: Citus groups it with the other tables of the same column type and shard count, so joins on that column stay on one worker'
        : `colocate_with ${distribution.colocateWith}`,
      `months by range on ${table.controlColumn} on every worker, made and archived by the coordinator's maintenance`,
    ];
    notes.push({ table: displayName(table.name), required, chosen });
  }
  return notes;
}

/**
 * For `migrate prep`: the distribution column the partitioned copy must be distributed by, or
 * null for a local copy. Refuses (exit 4, before anything changes) a `distribution` on a server
 * without Citus or on a worker.
 */
export function migrationDistributionColumn(caps: Capabilities, table: TableConfig, label: string): string | null {
  const distribution = table.distribution ?? null;
  if (distribution === null) return null;
  if (!caps.citus.installed || !caps.citus.coordinator) {
    throw new MissingCapabilityError(
      `The config distributes ${label} by ${distribution.column} with Citus, but database ${caps.database} ${caps.citus.installed ? 'is on a Citus worker, not the coordinator' : 'has no citus extension'} (nothing was changed).`,
      'Point --database-url at the Citus coordinator, or remove "distribution" from the config to migrate into a local partitioned table.',
    );
  }
  return distribution.column;
}

/** For `migrate prep`: what happens to the distribution, and when. */
export function citusMigrationNote(table: TableConfig, label: string): string {
  const column = table.distribution!.column;
  return `Citus: the partitioned copy is distributed by ${column} from the start (its primary key and unique keys include ${column}, as Citus requires), so fill and the capture's replays copy the rows to the workers while ${label} stays live. After the swap, changes to the distributed ${label} are captured by row triggers on its shards into a capture table co-located with it, so unswap and drop lose nothing.`;
}
