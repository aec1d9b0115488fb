/**
 * What the first maintenance after the migration will archive: the months of the table's rows
 * whose whole range is older than the retention (the rule of maintenance, sql/kit/maintain_plpgsql_table.sql:
 * a month goes once its upper bound is at or before now() - retention, in the table's zone),
 * with their row counts. Said by `migrate prep`, `migrate status` and `provision` before anything is moved.
 */
import type { TableConfig } from '../core/config.js';
import type { Database } from '../core/db.js';
import { quoteIdent } from '../core/identifiers.js';
import type { ControlType } from '../core/partitions.js';

export interface MonthToArchive {
  readonly month: string;
  readonly rows: number;
}

/** `from`: the rows to look at, as a FROM clause (see fromClause; a partitioned parent as its quoted name). */
export async function monthsToArchive(db: Database, from: string, settings: TableConfig, type: ControlType): Promise<MonthToArchive[]> {
  if (settings.retention === null) return [];
  const column = quoteIdent(settings.controlColumn);
  const local = type === 'timestamptz' ? `(${column} AT TIME ZONE $1)` : type === 'timestamp' ? column : `${column}::timestamp`;
  const rows = await db.query<{ month: string; rows: string }>(
    `SELECT to_char(m, 'YYYY-MM') AS month, count(*) AS rows
       FROM (SELECT date_trunc('month', ${local}) AS m FROM ${from} WHERE isfinite(${column})) AS r
      WHERE m + interval '1 month' <= (now() AT TIME ZONE $1) - $2::interval
      GROUP BY m ORDER BY m`,
    [settings.timeZone, settings.retention],
  );
  return rows.map((row) => ({ month: row.month, rows: Number(row.rows) }));
}

export function describeArchive(months: readonly MonthToArchive[], retention: string | null, label: string): string {
  if (retention === null) return `retention is off for ${label}: maintenance archives nothing.`;
  if (months.length === 0) return `under the retention of ${retention}, the first maintenance after the migration archives nothing.`;
  const rows = months.reduce((sum, m) => sum + m.rows, 0);
  return `under the retention of ${retention}, the first maintenance after \`partkit provision\` will archive ${months.length} month(s), ${months[0]!.month} to ${months.at(-1)!.month}: ${rows} row(s) leave ${label} for the archive schema. Set "retention" for ${label} in the config first if that is not what you want.`;
}
