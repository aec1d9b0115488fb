/**
 * Read-only lookups that `verify` and `status` share: the kit's record of a table, pg_partman's
 * record, the default partition's rows, archived months, and the maintenance job and its runs.
 */
import type { Capabilities } from '../capabilities.js';
import type { Database } from '../db.js';
import { dottedName, quoteIdent, quoteQualified, type QualifiedName } from '../identifiers.js';
import type { Partition } from '../partitions.js';
import type { CronJob } from '../schedule.js';
import { readSql } from '../sql-files.js';

/** `<kit>.managed_table` as verify and status need it. */
export interface ManagedTable {
  readonly controlColumn: string;
  readonly controlType: string;
  readonly premake: number;
  readonly retention: string | null;
  readonly archiveSchema: string | null;
  /** Archived months older than this are dropped by maintenance once exported; null keeps them. */
  readonly purgeAfter: string | null;
  readonly timeZone: string;
  readonly strategy: 'plpgsql' | 'partman';
  readonly partmanSchema: string | null;
  /** Time-ordered ids with a range per month (see sql/kit/add_id_range.sql): set when partkit created the table with ids "uuidv7". */
  readonly idRanges: boolean;
  readonly registeredAt: string;
}

interface ManagedTableRow {
  readonly parent_schema: string;
  readonly parent_table: string;
  readonly control_column: string;
  readonly control_type: string;
  readonly premake: number;
  readonly retention: string | null;
  readonly archive_schema: string | null;
  readonly time_zone: string;
  readonly strategy: 'plpgsql' | 'partman';
  readonly partman_schema: string | null;
  readonly registered_at: Date;
  readonly purge_after: string | null;
  readonly id_ranges: boolean | null;
}

// purge_after is read through to_jsonb, so a kit without the column reads as NULL.
const MANAGED_TABLE_COLUMNS = `parent_schema, parent_table, control_column, control_type, premake, retention::text AS retention, archive_schema, time_zone, strategy, partman_schema, registered_at,
            to_jsonb(m) ->> 'purge_after' AS purge_after, (to_jsonb(m) ->> 'id_ranges')::boolean AS id_ranges`;

function managedTableOf(row: ManagedTableRow): ManagedTable {
  return {
    controlColumn: row.control_column,
    controlType: row.control_type,
    premake: row.premake,
    retention: row.retention,
    archiveSchema: row.archive_schema,
    purgeAfter: row.purge_after,
    timeZone: row.time_zone,
    strategy: row.strategy,
    partmanSchema: row.partman_schema,
    idRanges: row.id_ranges ?? false,
    registeredAt: row.registered_at.toISOString(),
  };
}

export async function readManagedTable(db: Database, caps: Capabilities, table: QualifiedName): Promise<ManagedTable | null> {
  if (!caps.kit.installed) return null;
  const [row] = await db.query<ManagedTableRow>(`SELECT ${MANAGED_TABLE_COLUMNS} FROM ${quoteIdent(caps.kit.schema)}.managed_table m WHERE parent_schema = $1 AND parent_table = $2`, [table.schema, table.name]);
  return row ? managedTableOf(row) : null;
}

/** A table the kit has registered, with its settings. */
export interface RegisteredTable extends ManagedTable {
  readonly name: QualifiedName;
}

/** Every table the kit has registered (none when the kit is not installed). */
export async function readManagedTables(db: Database, kitSchema: string): Promise<RegisteredTable[]> {
  const [installed] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${quoteIdent(kitSchema)}.managed_table`]);
  if (!installed?.ok) return [];
  const rows = await db.query<ManagedTableRow>(`SELECT ${MANAGED_TABLE_COLUMNS} FROM ${quoteIdent(kitSchema)}.managed_table m ORDER BY parent_schema, parent_table`);
  return rows.map((row) => ({ ...managedTableOf(row), name: { schema: row.parent_schema, name: row.parent_table } }));
}

/** pg_partman's `part_config` row, the columns partkit sets and checks. */
export interface PartmanConfig {
  readonly control: string;
  readonly interval: string;
  readonly premake: number;
  readonly retention: string | null;
  readonly retentionSchema: string | null;
  readonly retentionKeepTable: boolean;
  readonly infiniteTimePartitions: boolean;
}

export async function readPartmanConfig(db: Database, caps: Capabilities, table: QualifiedName): Promise<PartmanConfig | null> {
  const partman = caps.extensions.pg_partman;
  if (!partman.installed || !partman.schema) return null;
  const [row] = await db.query<{ control: string; partition_interval: string; premake: number; retention: string | null; retention_schema: string | null; retention_keep_table: boolean; infinite_time_partitions: boolean }>(
    `SELECT control, partition_interval, premake, retention, retention_schema, retention_keep_table, infinite_time_partitions
       FROM ${quoteIdent(partman.schema)}.part_config WHERE parent_table = $1`,
    [dottedName(table)],
  );
  if (!row) return null;
  return {
    control: row.control,
    interval: row.partition_interval,
    premake: row.premake,
    retention: row.retention,
    retentionSchema: row.retention_schema,
    retentionKeepTable: row.retention_keep_table,
    infiniteTimePartitions: row.infinite_time_partitions,
  };
}

/** Rows in a partition, counting no further than `limit` so a huge default stays cheap. */
export async function countRows(db: Database, partition: Pick<Partition, 'schema' | 'name'>, limit: number): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ONLY ${quoteQualified(partition)} LIMIT $1) r`, [limit]);
  return row?.n ?? 0;
}

/** A month that retention moved out of the parent into the archive schema. */
export interface ArchivedMonth {
  readonly schema: string;
  readonly name: string;
  /** 'YYYY-MM', read from the name (pg_partman 4: _pYYYY_MM, 5: _pYYYYMMDD, the kit: _yYYYYmMM). */
  readonly month: string | null;
  readonly estimatedRows: number;
  readonly bytes: number;
}

export async function readArchivedMonths(db: Database, archiveSchema: string, parent: QualifiedName): Promise<ArchivedMonth[]> {
  const rows = await db.query<{ schema: string; name: string; month: string | null; estimated_rows: string; bytes: string }>(readSql('queries/status-archive.sql'), [archiveSchema, parent.name, parent.schema]);
  return rows.map((row) => ({ schema: row.schema, name: row.name, month: row.month, estimatedRows: Number(row.estimated_rows), bytes: Number(row.bytes) }));
}

/** The last finished run of the kit's run_maintenance, with the failures it recorded. */
export interface MaintenanceRun {
  readonly id: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly ok: boolean;
  readonly source: string | null;
  readonly detail: string | null;
  readonly ageSeconds: number;
  readonly failures: readonly string[];
}

export async function readLastMaintenanceRun(db: Database, caps: Capabilities): Promise<MaintenanceRun | null> {
  if (!caps.kit.installed) return null;
  const kit = quoteIdent(caps.kit.schema);
  const [row] = await db.query<{ id: string; started_at: Date; finished_at: Date; ok: boolean; source: string | null; detail: string | null; age_seconds: number }>(
    `SELECT id, started_at, finished_at, ok, source, detail, extract(epoch FROM now() - finished_at)::float8 AS age_seconds
       FROM ${kit}.maintenance_run WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1`,
  );
  if (!row) return null;
  const failures = row.ok
    ? []
    : (
        await db.query<{ text: string }>(
          `SELECT format('%I.%I: %s', parent_schema, parent_table, coalesce(detail, 'failed')) AS text
             FROM ${kit}.maintenance_event WHERE run_id = $1 AND action = 'failed' ORDER BY id LIMIT 5`,
          [row.id],
        )
      ).map((event) => event.text);
  return {
    id: Number(row.id),
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at.toISOString(),
    ok: row.ok,
    source: row.source,
    detail: row.detail,
    ageSeconds: Math.max(0, Math.round(row.age_seconds)),
    failures,
  };
}

/** When the kit first registered a table here: maintenance is due from then on. */
export async function readLastRegistration(db: Database, caps: Capabilities): Promise<{ at: string; ageSeconds: number } | null> {
  if (!caps.kit.installed) return null;
  const [row] = await db.query<{ at: Date | null; age_seconds: number | null }>(
    `SELECT max(registered_at) AS at, extract(epoch FROM now() - max(registered_at))::float8 AS age_seconds FROM ${quoteIdent(caps.kit.schema)}.managed_table`,
  );
  return row?.at ? { at: row.at.toISOString(), ageSeconds: Math.max(0, Math.round(row.age_seconds ?? 0)) } : null;
}

/** pg_cron's record of the job's latest run (cron.job_run_details). */
export interface CronRun {
  readonly runid: number;
  readonly status: string;
  readonly returnMessage: string | null;
  readonly startTime: string | null;
  readonly endTime: string | null;
}

export async function readLastCronRun(db: Database, caps: Capabilities, job: CronJob): Promise<CronRun | null> {
  const cronDatabase = caps.extensions.pg_cron.databaseName;
  if (!cronDatabase) return null;
  const [row] = await db.queryCron<{ runid: string; status: string; return_message: string | null; start_time: Date | null; end_time: Date | null }>(
    cronDatabase,
    'SELECT runid, status, return_message, start_time, end_time FROM cron.job_run_details WHERE jobid = $1 ORDER BY start_time DESC NULLS LAST, runid DESC LIMIT 1',
    [job.jobid],
  );
  if (!row) return null;
  return { runid: Number(row.runid), status: row.status, returnMessage: row.return_message, startTime: row.start_time?.toISOString() ?? null, endTime: row.end_time?.toISOString() ?? null };
}
