/**
 * What a monitoring system watches, per managed table: the kit's read-only view `<kit>.metrics`
 * (postgres_exporter reads it through docs/monitoring/postgres_exporter.yml) and
 * `partkit status --format prometheus` (node_exporter's textfile collector) give the same rows
 * under the same metric names, so one set of alert rules (docs/monitoring/alerts.yml) fits both.
 */
import type { Database } from '../core/db.js';
import { MissingCapabilityError } from '../core/errors.js';
import { quoteIdent } from '../core/identifiers.js';
import { kitHas } from '../core/kit.js';

/** The view's number columns, in its order: each is a gauge `partkit_<column>`, labelled by database and table. */
export const METRIC_COLUMNS = [
  { column: 'months_ahead', help: 'Months made ahead of the current one, without a gap.' },
  { column: 'default_rows', help: 'Rows waiting in the default partition (counted up to 1000000).' },
  { column: 'oldest_hot_month_timestamp_seconds', help: 'Start of the oldest attached month, in the table\'s time zone.' },
  { column: 'newest_hot_month_timestamp_seconds', help: 'Start of the newest attached month, in the table\'s time zone.' },
  { column: 'archived_months', help: 'Months in the archive schema.' },
  { column: 'exported_months', help: 'Months whose export to cold storage is recorded (archive_export).' },
  { column: 'export_waiting_months', help: 'Months in the archive schema with no export recorded.' },
  { column: 'export_waiting_seconds', help: 'How long the oldest month waiting for export has been due for the archive (0 when none waits).' },
  { column: 'last_maintenance_timestamp_seconds', help: 'When the last maintenance run that covered the table finished.' },
  { column: 'last_maintenance_success', help: '1 when the last maintenance run that covered the table succeeded for it, 0 when it failed.' },
  { column: 'seconds_since_maintenance_success', help: 'Seconds since maintenance last succeeded for the table (since it was registered, when it never has).' },
] as const;

export type MetricColumn = (typeof METRIC_COLUMNS)[number]['column'];

/** One managed table's row of `<kit>.metrics`; a value is null when it does not exist yet (no month, no run). */
export interface TableMetrics {
  readonly database: string;
  /** format('%I.%I'): the table as SQL writes it. */
  readonly table: string;
  readonly values: Readonly<Record<MetricColumn, number | null>>;
}

/** The rows of `<kit>.metrics`; refuses (exit 4) when the kit, or its view, is not installed. */
export async function readTableMetrics(db: Database, kitSchema: string): Promise<TableMetrics[]> {
  if (!(await kitHas(db, kitSchema, ['metrics']))) {
    throw new MissingCapabilityError(`partkit's metrics view is not installed in schema ${kitSchema} of database ${db.name}.`, 'Run `partkit provision` first; it installs the kit and brings it up to date.');
  }
  const rows = await db.query<Record<string, unknown>>(`SELECT * FROM ${quoteIdent(kitSchema)}.metrics ORDER BY "table"`);
  return rows.map((row) => ({
    database: String(row.database),
    table: String(row.table),
    values: Object.fromEntries(METRIC_COLUMNS.map(({ column }) => [column, row[column] === null || row[column] === undefined ? null : Number(row[column])])) as Record<MetricColumn, number | null>,
  }));
}
