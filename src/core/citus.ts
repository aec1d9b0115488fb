/**
 * Citus, read-only: whether the server has it, whether this node is the coordinator, how many
 * workers are active, and how each configured table (and each of its months) is distributed.
 */
import type { Config } from './config.js';
import type { Database } from './db.js';
import { quoteQualified, type QualifiedName } from './identifiers.js';
import { readSql } from './sql-files.js';

export interface CitusServer {
  readonly installed: boolean;
  readonly version: string | null;
  /** This node is the coordinator (tables are distributed from here). */
  readonly coordinator: boolean;
  readonly activeWorkers: number;
}

/** How Citus holds one relation (the parent or one month). */
export interface CitusRelation {
  readonly relation: string;
  readonly isParent: boolean;
  /** The partition bound of a month; null for the parent. */
  readonly bound: string | null;
  /** 'h' distributed, 'n' reference or Citus local table, null when Citus does not know it. */
  readonly method: string | null;
  /** The distribution column of a distributed table. */
  readonly column: string | null;
  readonly colocationId: number | null;
  readonly shards: number;
  /** Worker groups holding at least one shard placement. */
  readonly groups: readonly number[];
  /** Active worker groups that should have shards. */
  readonly activeGroups: readonly number[];
}

export interface CitusTableState {
  /** The parent: null when the table does not exist. */
  readonly parent: CitusRelation | null;
  readonly months: readonly CitusRelation[];
}

export interface CitusState extends CitusServer {
  /** Per configured table, in config order; empty when Citus is not installed. */
  readonly tables: readonly CitusTableState[];
}

export const NO_CITUS: CitusServer = { installed: false, version: null, coordinator: false, activeWorkers: 0 };

export async function inspectCitusServer(db: Database): Promise<CitusServer> {
  const [installed] = await db.query<{ ok: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS ok`);
  if (!installed?.ok) return NO_CITUS;
  const [row] = await db.query<{ version: string; coordinator: boolean; active_workers: number }>(readSql('queries/citus-server.sql'));
  return { installed: true, version: row?.version ?? null, coordinator: row?.coordinator ?? false, activeWorkers: row?.active_workers ?? 0 };
}

export async function inspectCitusTable(db: Database, name: QualifiedName): Promise<CitusTableState> {
  const [exists] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [quoteQualified(name)]);
  if (!exists?.ok) return { parent: null, months: [] };
  const rows = await db.query<{
    relation: string;
    is_parent: boolean;
    bound: string | null;
    method: string | null;
    column_name: string | null;
    colocation_id: number | null;
    shards: number;
    groups: number[];
    active_groups: number[];
  }>(readSql('queries/citus-table.sql'), [quoteQualified(name)]);
  const relations = rows.map(
    (row): CitusRelation => ({
      relation: row.relation,
      isParent: row.is_parent,
      bound: row.bound,
      method: row.method,
      column: row.column_name,
      colocationId: row.colocation_id,
      shards: row.shards,
      groups: row.groups,
      activeGroups: row.active_groups,
    }),
  );
  return { parent: relations.find((relation) => relation.isParent) ?? null, months: relations.filter((relation) => !relation.isParent) };
}

export async function inspectCitus(db: Database, config: Config): Promise<CitusState> {
  const server = await inspectCitusServer(db);
  if (!server.installed) return { ...server, tables: [] };
  const tables: CitusTableState[] = [];
  for (const table of config.tables) tables.push(await inspectCitusTable(db, table.name));
  return { ...server, tables };
}

/** The distribution column of a Citus distributed (hash) table; null without Citus or for any other table. */
export async function distributionColumnOf(db: Database, oid: number): Promise<string | null> {
  const [citus] = await db.query<{ ok: boolean }>(`SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL AS ok`);
  if (!citus?.ok) return null;
  const [row] = await db.query<{ column_name: string }>(
    `SELECT column_to_column_name(logicalrelid, partkey) AS column_name FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1::oid AND partmethod = 'h'`,
    [oid],
  );
  return row?.column_name ?? null;
}

/** "distributed by session_id, 4 shards" / "local" for one relation. */
export function describeRelation(relation: CitusRelation | null): string {
  if (relation === null) return 'missing';
  if (relation.method === 'h') return `distributed by ${relation.column}, ${relation.shards} shard(s) in colocation group ${relation.colocationId}`;
  if (relation.method === null) return 'local (not distributed)';
  return relation.shards > 0 && relation.groups.length > 1 ? 'a reference table' : 'a Citus local table';
}
