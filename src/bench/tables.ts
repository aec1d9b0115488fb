/**
 * What the bench sections do to their tables: the plain layouts made from partkit's own DDL
 * minus PARTITION BY, indexes dropped before a bulk load and built again after it, sizes read
 * from the catalog. Every layout gets the same treatment.
 */
import type pg from 'pg';
import type { Database } from '../core/db.js';
import { quoteIdent } from '../core/identifiers.js';
import { readSql } from '../core/sql-files.js';
import { applyChanges, benchStep } from './changes.js';

/**
 * partkit's DDL of a Semibot table (sql/tables/<kind>.sql) without PARTITION BY, for `table`
 * (quoted); `timeIndex: false` also leaves out the btree on created_at (the table as Semibot has it).
 */
export function plainDdl(kind: string, table: string, options: { timeIndex: boolean }): string {
  const partitioned = readSql(`tables/${kind}.sql`).replaceAll('{{table}}', table);
  let ddl = partitioned.replace(/\)\s*PARTITION BY RANGE \(created_at\);/, ');');
  if (ddl === partitioned) throw new Error(`sql/tables/${kind}.sql no longer ends its CREATE TABLE with "PARTITION BY RANGE (created_at)"; update src/bench/tables.ts.`);
  if (!options.timeIndex) {
    const without = ddl.replace(/^CREATE INDEX ON \S+ \(created_at\);$/m, '');
    if (without === ddl) throw new Error(`sql/tables/${kind}.sql has no "CREATE INDEX ON {{table}} (created_at);" line; update src/bench/tables.ts.`);
    ddl = without;
  }
  return ddl;
}

export interface TableSize {
  readonly heapBytes: number;
  readonly indexBytes: number;
  /** Each index (summed over the months for a partitioned table). */
  readonly indexes: Readonly<Record<string, number>>;
}

/** Heap and index bytes of a table (`table` quoted; every leaf of a partitioned one). */
export async function sizeOf(client: pg.Client, table: string): Promise<TableSize> {
  const { rows } = await client.query<{ heap: string; index_name: string | null; index_bytes: string | null }>(readSql('queries/bench-sizes.sql'), [table]);
  const indexes: Record<string, number> = {};
  for (const row of rows) if (row.index_name !== null) indexes[row.index_name] = Number(row.index_bytes);
  return { heapBytes: Number(rows[0]?.heap ?? 0), indexBytes: Object.values(indexes).reduce((a, b) => a + b, 0), indexes };
}

/**
 * Drops the indexes and primary key of `table` (quoted) and returns the statements that make
 * them again. Loading into a table without them and building them afterwards (sorted, in bulk)
 * is many times faster at millions of rows than maintaining the indexes row by row.
 */
export async function dropIndexes(db: Database, table: string): Promise<string[]> {
  const rows = await db.query<{ name: string; def: string; constraint_def: string | null }>(readSql('queries/bench-indexes.sql'), [table]);
  const rebuild: string[] = [];
  const group = `bench drop the indexes of ${table}`;
  const steps = rows.map((row) => {
    if (row.constraint_def) {
      rebuild.push(row.constraint_def);
      return benchStep(`drop constraint ${row.name} (built again after the load)`, `ALTER TABLE ${table} DROP CONSTRAINT ${quoteIdent(row.name.split('.').pop()!.replace(/^"|"$/g, ''))}`, undefined, { group });
    }
    // A partitioned table's index reads "ON ONLY"; built on the parent it cascades to every month.
    rebuild.push(row.def.replace(' ON ONLY ', ' ON '));
    return benchStep(`drop index ${row.name} (built again after the load)`, `DROP INDEX ${row.name}`, undefined, { group });
  });
  await applyChanges(db, steps);
  return rebuild;
}

/** Builds the indexes `dropIndexes` returned, with more sort memory than the default, one transaction per table's set. */
export async function rebuildIndexes(db: Database, statements: readonly string[]): Promise<void> {
  if (statements.length === 0) return;
  const group = 'bench build the indexes again';
  await applyChanges(db, [
    benchStep('more sort memory for the index builds', "SET LOCAL maintenance_work_mem = '256MB'", undefined, { group }),
    ...statements.map((statement) => benchStep(`build ${statement.slice(0, 80)}`, statement, undefined, { group })),
  ]);
}

/** The server settings a report prints next to its figures. */
export async function readSettings(client: pg.Client): Promise<Record<string, string>> {
  const settings: Record<string, string> = {};
  for (const name of ['shared_buffers', 'work_mem', 'effective_cache_size', 'max_parallel_workers_per_gather', 'jit', 'fsync', 'autovacuum', 'constraint_exclusion', 'plan_cache_mode']) {
    const { rows } = await client.query<{ value: string }>('SELECT current_setting($1) AS value', [name]);
    settings[name] = rows[0]!.value;
  }
  return settings;
}
