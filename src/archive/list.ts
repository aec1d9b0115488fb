/**
 * `partkit archive list [--table T] [--from DIR|s3://...] [--check]`: where each month of each
 * managed table is. States: hot (an attached partition), archived (detached into the archive
 * schema, not exported), exported (archived and in cold storage), dropped (only in cold storage,
 * dropped by `archive export --drop-after-export`), purged (only in cold storage, dropped by
 * maintenance's purge). With --from the manifests there are read, and the months only there are
 * listed too; --check reads every file back and compares it with its manifest.
 */
import { readArchivedMonths } from '../core/checks/state.js';
import type { Config, TableConfig } from '../core/config.js';
import type { Database } from '../core/db.js';
import { ExitCode, UsageError } from '../core/errors.js';
import { displayName, parseQualifiedName, quoteIdent } from '../core/identifiers.js';
import { controlTypeOf, coveredMonth, listPartitions } from '../core/partitions.js';
import { checkExportStream, csvHeader } from './csv.js';
import { archiveSchemaOf } from './export.js';
import { monthKeys, parseManifest, tableKey } from './manifest.js';
import { openTarget, type ArchiveTarget, type S3Options } from './targets/index.js';

export type MonthState = 'hot' | 'archived' | 'exported' | 'dropped' | 'purged';

export interface ListedMonth {
  readonly month: string;
  readonly state: MonthState;
  /** The table holding the month, while there is one. */
  readonly relation: string | null;
  /** Exact for exported months (the manifest's / archive_export's count), else the planner's estimate. */
  readonly rows: number | null;
  /** On disk in the database, or of the .csv.gz once only the file is left. */
  readonly bytes: number | null;
  /** The data file as archive_export recorded it (or as found under --from). */
  readonly file: string | null;
  readonly sha256: string | null;
  /**
   * With --from: 'manifest' (a manifest matches the record), 'ok' (--check: read back, matches),
   * 'mismatch', 'missing'; null when not looked at.
   */
  readonly fileState: 'manifest' | 'ok' | 'mismatch' | 'missing' | null;
  readonly problem: string | null;
}

export interface ListedTable {
  readonly table: string;
  readonly months: readonly ListedMonth[];
}

export interface ArchiveListResult {
  readonly from: string | null;
  readonly checked: boolean;
  readonly tables: readonly ListedTable[];
  /** Months whose file is missing or does not match its manifest (with --from). */
  readonly problems: number;
  readonly exitCode: number;
}

export interface ArchiveListOptions {
  readonly table?: string | undefined;
  readonly from?: string | undefined;
  readonly check?: boolean | undefined;
  readonly s3?: S3Options | undefined;
}

interface ExportRow {
  readonly archived_table: string;
  readonly month: string;
  readonly rows: string;
  readonly file: string;
  readonly sha256: string;
  readonly dropped: boolean;
  readonly purged: boolean;
}

export async function archiveList(db: Database, config: Config, options: ArchiveListOptions): Promise<ArchiveListResult> {
  if (options.check && !options.from) throw new UsageError('--check reads the files back, so it needs --from DIR|s3://bucket/prefix.', 'For example: partkit archive list --from s3://semibot-cold/partkit --check');
  let tables: readonly TableConfig[] = config.tables;
  if (options.table) {
    const wanted = parseQualifiedName(options.table);
    tables = tables.filter((table) => table.name.schema === wanted.schema && table.name.name === wanted.name);
    if (tables.length === 0) throw new UsageError(`${displayName(wanted)} is not in the config.`, 'Run partkit config to see the tables, or drop --table.');
  }
  const target = options.from ? await openTarget(options.from, { modes: { fileMode: config.archiveExport.fileMode, dirMode: config.archiveExport.dirMode }, s3: options.s3 }) : null;
  if (target?.root.startsWith('s3://')) await target.prepare();
  const kit = quoteIdent(config.kitSchema);
  const result: ListedTable[] = [];
  for (const table of tables) {
    const months = new Map<string, ListedMonth>();
    const [managed] = await db.query<{ time_zone: string; control_type: string }>(`SELECT time_zone, control_type FROM ${kit}.managed_table WHERE parent_schema = $1 AND parent_table = $2`, [table.name.schema, table.name.name]);
    const controlType = controlTypeOf(managed?.control_type === 'timestamptz' ? 'timestamp with time zone' : managed?.control_type === 'timestamp' ? 'timestamp without time zone' : (managed?.control_type ?? null));
    if (managed && controlType) {
      for (const partition of await listPartitions(db, table.name, managed.time_zone, controlType)) {
        const month = coveredMonth(partition);
        if (!month) continue;
        months.set(month, { month, state: 'hot', relation: displayName({ schema: partition.schema, name: partition.name }), rows: partition.estimatedRows, bytes: partition.bytes, file: null, sha256: null, fileState: null, problem: null });
      }
    }
    const archiveSchema = managed ? await archiveSchemaOf(db, config.kitSchema, table) : null;
    const exports = archiveSchema
      ? await db.query<ExportRow>(
          `SELECT e.archived_table, e.month, e.rows::text AS rows, e.file, e.sha256, e.dropped_at IS NOT NULL AS dropped,
                  EXISTS (SELECT 1 FROM ${kit}.maintenance_event v
                           WHERE v.action = 'purged' AND v.parent_schema = e.parent_schema AND v.parent_table = e.parent_table
                             AND v.partition_name = format('%I.%I', e.archive_schema, e.archived_table)) AS purged
             FROM ${kit}.archive_export e WHERE e.parent_schema = $1 AND e.parent_table = $2`,
          [table.name.schema, table.name.name],
        )
      : [];
    const byArchived = new Map(exports.map((row) => [row.archived_table, row]));
    if (archiveSchema) {
      for (const archived of await readArchivedMonths(db, archiveSchema, table.name)) {
        if (!archived.month || months.get(archived.month)?.state === 'hot') continue;
        const record = byArchived.get(archived.name);
        const exported = record && !record.dropped;
        months.set(archived.month, {
          month: archived.month,
          state: exported ? 'exported' : 'archived',
          relation: displayName({ schema: archived.schema, name: archived.name }),
          rows: exported ? Number(record.rows) : archived.estimatedRows,
          bytes: archived.bytes,
          file: exported ? record.file : null,
          sha256: exported ? record.sha256 : null,
          fileState: null,
          problem: null,
        });
      }
    }
    for (const record of exports) {
      if (!record.dropped || months.has(record.month)) continue;
      months.set(record.month, { month: record.month, state: record.purged ? 'purged' : 'dropped', relation: null, rows: Number(record.rows), bytes: null, file: record.file, sha256: record.sha256, fileState: null, problem: null });
    }
    if (target) await addFiles(target, table, months, options.check ?? false);
    result.push({ table: displayName(table.name), months: [...months.values()].sort((a, b) => a.month.localeCompare(b.month)) });
  }
  const problems = result.flatMap((table) => table.months).filter((month) => month.fileState === 'mismatch' || month.fileState === 'missing').length;
  return { from: target?.root ?? null, checked: options.check ?? false, tables: result, problems, exitCode: problems > 0 ? ExitCode.checkFailed : ExitCode.ok };
}

/** Reads the manifests under --from: months only there are listed as dropped; --check reads each file back. */
async function addFiles(target: ArchiveTarget, table: TableConfig, months: Map<string, ListedMonth>, check: boolean): Promise<void> {
  const keys = await target.list(tableKey(table.name));
  const found = new Set(keys.map((key) => /\/(\d{4}-\d{2})\.json$/.exec(key)?.[1]).filter((month): month is string => month !== undefined));
  for (const month of [...new Set([...found, ...[...months.values()].filter((m) => m.state !== 'hot' && m.state !== 'archived').map((m) => m.month)])]) {
    const monthKeysOf = monthKeys(table.name, month);
    const manifest = parseManifest(await target.readText(monthKeysOf.manifest));
    const listed = months.get(month);
    const file = target.location(monthKeysOf.file);
    let fileState: ListedMonth['fileState'] = 'manifest';
    let problem: string | null = null;
    if (manifest === null) {
      fileState = 'missing';
      problem = `no readable manifest ${target.location(monthKeysOf.manifest)}`;
    } else if (listed?.sha256 && listed.sha256 !== manifest.sha256) {
      fileState = 'mismatch';
      problem = `the manifest's sha256 ${manifest.sha256} is not the recorded ${listed.sha256}`;
    } else if (check) {
      const source = await target.read(monthKeysOf.file);
      if (source === null) {
        fileState = 'missing';
        problem = `${file} is missing`;
      } else {
        const read = await checkExportStream(source).catch((error: Error) => ({ error }));
        if ('error' in read) {
          fileState = 'mismatch';
          problem = `${file} does not read back: ${read.error.message}`;
        } else if (read.sha256 !== manifest.sha256 || read.rows !== manifest.rows || read.bytes !== manifest.bytes || read.header !== csvHeader(manifest.columns)) {
          fileState = 'mismatch';
          problem = `${file} reads back as ${read.rows} rows, sha256 ${read.sha256}; its manifest says ${manifest.rows} rows, sha256 ${manifest.sha256}`;
        } else fileState = 'ok';
      }
    }
    months.set(month, {
      month,
      state: listed?.state ?? 'dropped',
      relation: listed?.relation ?? null,
      rows: listed?.rows ?? manifest?.rows ?? null,
      bytes: listed?.state === 'exported' || !listed ? (manifest?.bytes ?? null) : listed.bytes,
      file: listed?.file ?? file,
      sha256: listed?.sha256 ?? manifest?.sha256 ?? null,
      fileState,
      problem,
    });
  }
}

export function renderArchiveList(result: ArchiveListResult): string {
  const lines: string[] = [];
  for (const table of result.tables) {
    lines.push(`${table.table}: ${table.months.length} months`);
    for (const month of table.months) {
      const where = month.file ? `  ${month.file}${month.sha256 ? ` sha256 ${month.sha256.slice(0, 12)}` : ''}` : '';
      const file = month.fileState ? `  [file: ${month.fileState}]` : '';
      lines.push(`  ${month.month}  ${month.state.padEnd(8)} ${String(month.rows ?? '?').padStart(10)} rows  ${month.relation ?? '-'}${where}${file}${month.problem ? `  ${month.problem}` : ''}`);
    }
  }
  if (result.from) lines.push(result.problems > 0 ? `${result.problems} month(s) whose file is missing or does not match its manifest under ${result.from}` : `every file under ${result.from} ${result.checked ? 'reads back as its manifest says' : 'has its manifest'}`);
  return lines.join('\n');
}
