/**
 * The time index: an index on every month whose first key column is the control column. Without
 * it a month is read whole for a one-week range, and a "newest 50" page sorts the month; a plain
 * table with such an index then beats the partitioned one (docs/benchmarks.md has the figures).
 * partkit's tables get a btree on the control column (chosen over BRIN by measurement, same page).
 */
import type { TableConfig } from './config.js';
import type { Database } from './db.js';
import { MAX_IDENTIFIER_BYTES, quoteIdent, quoteQualified, type QualifiedName } from './identifiers.js';
import { sqlStep, type SqlStep } from './plan.js';
import { readSql } from './sql-files.js';

export interface TimeIndexChild {
  readonly schema: string;
  readonly name: string;
  readonly isDefault: boolean;
  /** Has a valid index whose first key column is the control column (its own or the parent's). */
  readonly indexed: boolean;
  /** Has an index attached to the parent's time index. */
  readonly attached: boolean;
}

export interface TimeIndexState {
  /** The parent's index leading with the control column, valid ones first; null when none. */
  readonly parentIndex: string | null;
  readonly parentIndexValid: boolean;
  /** "btree (created_at)" and so on: what each child's index must match to be attached. */
  readonly parentIndexMethod: string | null;
  readonly children: readonly TimeIndexChild[];
}

export async function readTimeIndex(db: Database, table: QualifiedName, column: string): Promise<TimeIndexState> {
  const rows = await db.query<{
    parent_index: string | null;
    parent_index_valid: boolean | null;
    parent_index_method: string | null;
    child_schema: string | null;
    child_name: string | null;
    is_default: boolean | null;
    indexed: boolean;
    attached: boolean;
  }>(readSql('queries/time-index.sql'), [table.schema, table.name, column]);
  const first = rows[0];
  return {
    parentIndex: first?.parent_index ?? null,
    parentIndexValid: first?.parent_index_valid ?? false,
    parentIndexMethod: first?.parent_index_method ?? null,
    children: rows
      .filter((row) => row.child_name !== null)
      .map((row) => ({ schema: row.child_schema!, name: row.child_name!, isDefault: row.is_default ?? false, indexed: row.indexed, attached: row.attached })),
  };
}

/** Children (months and the default) with no index leading with the control column. */
export function unindexedChildren(state: TimeIndexState): TimeIndexChild[] {
  return state.children.filter((child) => !child.indexed);
}

/** What doctor and verify say about a table whose months lack the time index; null when none does. */
export function timeIndexAdvice(table: TableConfig, state: TimeIndexState): string | null {
  const missing = unindexedChildren(state);
  if (missing.length === 0) return null;
  const names = missing.map((child) => `${child.schema}.${child.name}`);
  const shown = names.length <= 4 ? names.join(', ') : `${names.slice(0, 4).join(', ')} and ${names.length - 4} more`;
  return `${missing.length} of ${state.children.length} children have no index leading with ${table.controlColumn} (${shown}), so a time range reads whole months: run \`partkit provision\` (it adds one to every month with CREATE INDEX CONCURRENTLY)`;
}

/** `<table>_<column>_idx` as PostgreSQL names it, the table part shortened to fit 63 bytes. */
export function timeIndexName(table: string, column: string): string {
  const suffix = `_${column}_idx`;
  let head = table;
  while (Buffer.byteLength(head + suffix) > MAX_IDENTIFIER_BYTES && head.length > 0) head = head.slice(0, -1);
  return Buffer.byteLength(head + suffix) > MAX_IDENTIFIER_BYTES ? `${head}_idx`.slice(0, 40) : head + suffix;
}

/**
 * Adds the time index to an existing partitioned table without blocking writes for the build:
 * an (invalid) index ON ONLY the parent, then per child CREATE INDEX CONCURRENTLY and ATTACH.
 * When every child is attached PostgreSQL marks the parent's index valid, and months created
 * later get it automatically. Nothing when the parent already has a valid one.
 */
export function planTimeIndex(table: TableConfig, state: TimeIndexState, label: string): SqlStep[] {
  if (state.parentIndex && state.parentIndexValid) return [];
  const column = quoteIdent(table.controlColumn);
  const parentName = state.parentIndex ?? timeIndexName(table.name.name, table.controlColumn);
  const method = state.parentIndexMethod ?? `btree (${column})`;
  const parentIndex = quoteQualified({ schema: table.name.schema, name: parentName });
  const steps: SqlStep[] = [];
  if (!state.parentIndex) {
    steps.push(
      sqlStep(`create the time index ${parentName} on ${label} (${table.controlColumn}); each month gets its own below`, `CREATE INDEX IF NOT EXISTS ${quoteIdent(parentName)} ON ONLY ${quoteQualified(table.name)} USING ${method}`, { table: label }),
    );
  }
  for (const child of state.children.filter((c) => !c.attached)) {
    const childIndex = timeIndexName(child.name, table.controlColumn);
    steps.push(
      sqlStep(`index ${child.schema}.${child.name} on ${table.controlColumn} (CONCURRENTLY: writes go on)`, `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent(childIndex)} ON ${quoteQualified(child)} USING ${method}`, {
        table: label,
        transaction: false,
      }),
      sqlStep(`attach ${childIndex} to ${parentName}`, `ALTER INDEX ${parentIndex} ATTACH PARTITION ${quoteQualified({ schema: child.schema, name: childIndex })}`, { table: label }),
    );
  }
  return steps;
}
