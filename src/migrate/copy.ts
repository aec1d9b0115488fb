/**
 * The statements that copy rows from the original table into its partitioned copy: fill's
 * batches, by heap-block range (PG 14+) or in primary-key order. Changes made meanwhile reach the
 * copy through the capture's replay (capture.ts), not through these.
 */
import type { ControlType } from '../core/partitions.js';
import { quoteIdent } from '../core/identifiers.js';
import type { Column, Relation } from './inspect.js';

/** `ONLY t` for a plain table (its inheritance children are not ours), `t` for a partitioned one. */
export function fromClause(relation: Relation, quoted = relation.quoted): string {
  return relation.relkind === 'p' ? quoted : `ONLY ${quoted}`;
}

/** Columns to insert: generated columns are computed by the target, everything else is copied by name. */
export function insertColumns(columns: readonly Column[]): string {
  return columns.filter((column) => !column.generated).map((column) => quoteIdent(column.name)).join(', ');
}

/**
 * A month start (wall-clock text 'YYYY-MM-01 00:00:00') in the table's zone, as a value of the
 * control column's type.
 */
export function monthStartAs(type: ControlType, literal: string, zone: string): string {
  if (type === 'timestamptz') return `(${literal}::timestamp AT TIME ZONE ${zone})`;
  if (type === 'timestamp') return `${literal}::timestamp`;
  return `${literal}::date`;
}

export interface BatchSql {
  readonly sql: string;
  readonly params: unknown[];
}

/**
 * One fill batch: the next `limit` rows of the source after `after` (primary-key order), inserted
 * into the target. Returns read, copied, and the last key read (as text) for the next batch.
 */
export function batchStatement(options: {
  readonly source: Relation;
  readonly target: Relation;
  readonly columns: readonly Column[];
  readonly key: readonly Column[];
  readonly control: { readonly column: string; readonly type: ControlType; readonly zone: string };
  readonly after: readonly string[] | null;
  /** The batch's last key (inclusive); null: everything after `after` (the last batch). */
  readonly upTo: readonly string[] | null;
  readonly range: { readonly from: string; readonly to: string } | null;
}): BatchSql {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const keyList = options.key.map((column) => quoteIdent(column.name));
  const where: string[] = [];
  if (options.after) {
    where.push(`(${keyList.join(', ')}) > (${options.key.map((column, i) => `${param(options.after![i])}::${column.type}`).join(', ')})`);
  }
  if (options.upTo) {
    where.push(`(${keyList.join(', ')}) <= (${options.key.map((column, i) => `${param(options.upTo![i])}::${column.type}`).join(', ')})`);
  }
  if (options.range) {
    const control = quoteIdent(options.control.column);
    // The zone is a parameter only where the type needs it (an unused $n has no type and fails).
    const zone = options.control.type === 'timestamptz' ? param(options.control.zone) : '';
    where.push(`${control} >= ${monthStartAs(options.control.type, param(options.range.from), zone)}`);
    where.push(`${control} < ${monthStartAs(options.control.type, param(options.range.to), zone)}`);
  }
  const columns = insertColumns(options.columns);
  const sql = `WITH copied AS (
  INSERT INTO ${options.target.quoted} (${columns}) OVERRIDING SYSTEM VALUE
  SELECT ${columns} FROM ${fromClause(options.source)}${where.length > 0 ? `\n   WHERE ${where.join('\n     AND ')}` : ''}
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT count(*)::bigint AS copied FROM copied`;
  return { sql, params };
}

/**
 * One TID-range batch: the rows in heap blocks [from, to) of the source, inserted into the target.
 * On PG 14+ this is a TID Range Scan: contiguous reads, whatever order the keys are in. Rows that
 * exist before prep never move without a change (which the capture records), so the blocks the
 * table has when the fill starts hold every row the fill must copy.
 */
export function blockBatchStatement(options: { readonly source: Relation; readonly target: Relation; readonly columns: readonly Column[]; readonly from: number; readonly to: number; readonly onConflict: boolean }): BatchSql {
  const columns = insertColumns(options.columns);
  const from = Math.trunc(options.from);
  const to = Math.trunc(options.to);
  const sql = `WITH copied AS (
  INSERT INTO ${options.target.quoted} (${columns}) OVERRIDING SYSTEM VALUE
  SELECT ${columns} FROM ${fromClause(options.source)}
   WHERE ctid >= '(${from},0)'::tid AND ctid < '(${to},0)'::tid${options.onConflict ? '\n  ON CONFLICT DO NOTHING' : ''}
  RETURNING 1
)
SELECT count(*)::bigint AS copied FROM copied`;
  return { sql, params: [] };
}

/**
 * The key `limit` rows after `after` (in key order, within the range): the inclusive end of the
 * next batch, or no row when fewer remain (the next batch is the last).
 */
export function boundaryStatement(options: {
  readonly source: Relation;
  readonly key: readonly Column[];
  readonly control: { readonly column: string; readonly type: ControlType; readonly zone: string };
  readonly after: readonly string[] | null;
  readonly range: { readonly from: string; readonly to: string } | null;
  readonly limit: number;
}): BatchSql {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const keyList = options.key.map((column) => quoteIdent(column.name));
  const where: string[] = [];
  if (options.after) where.push(`(${keyList.join(', ')}) > (${options.key.map((column, i) => `${param(options.after![i])}::${column.type}`).join(', ')})`);
  if (options.range) {
    const control = quoteIdent(options.control.column);
    const zone = options.control.type === 'timestamptz' ? param(options.control.zone) : '';
    where.push(`${control} >= ${monthStartAs(options.control.type, param(options.range.from), zone)}`);
    where.push(`${control} < ${monthStartAs(options.control.type, param(options.range.to), zone)}`);
  }
  const sql = `SELECT ARRAY[${keyList.map((k) => `${k}::text`).join(', ')}] AS key FROM ${fromClause(options.source)}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
 ORDER BY ${keyList.join(', ')} OFFSET ${param(options.limit - 1)} LIMIT 1`;
  return { sql, params };
}
