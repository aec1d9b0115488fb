/**
 * `partkit archive export --to DIR|s3://bucket/prefix`: the months retention moved into the archive
 * schema, written to cold storage. Each archived month becomes `<schema>.<table>/<YYYY-MM>.csv.gz`
 * (what `COPY ... TO STDOUT WITH (FORMAT csv, HEADER)` prints, gzipped) and a manifest
 * `<YYYY-MM>.json` (rows, sha256 of the .gz, columns and types) under the target, and is recorded
 * in the kit's `archive_export`. With `--drop-after-export` the archived table is dropped, by the
 * kit's drop_exported_archive, only after its file was written and read back from the target with
 * the right row count and checksum. A month whose manifest already matches the table is skipped,
 * so a second run writes nothing.
 */
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { readArchivedMonths } from '../core/checks/state.js';
import type { Config, TableConfig } from '../core/config.js';
import type { Database } from '../core/db.js';
import { CheckFailedError, ExitCode, UsageError } from '../core/errors.js';
import { requireKit } from '../core/kit.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import type { Logger } from '../core/log.js';
import { sqlComment, sqlStep, type SqlStep } from '../core/plan.js';
import { runPhases, underRunLock, type Phase } from '../core/runner.js';
import { checkExportStream, csvHeader, hashTap, type FileCheck } from './csv.js';
import { fileSafe, MANIFEST_FORMAT, monthKeys, parseManifest, sameColumns, type ArchiveColumn, type ArchiveManifest } from './manifest.js';
import { openTarget, type ArchiveTarget, type S3Options } from './targets/index.js';


export interface MonthExport {
  /** The parent table, as SQL writes it. */
  readonly table: string;
  readonly archivedTable: string;
  readonly month: string;
  /** 'exported' now (or, with --dry-run, to be), or 'skipped' because its manifest matches the table. */
  readonly action: 'exported' | 'skipped';
  readonly rows: number;
  readonly file: string;
  readonly manifest: string;
  /** Of the .csv.gz; null under --dry-run for a month not exported yet. */
  readonly sha256: string | null;
  /** Written to the kit's archive_export in this run. */
  readonly recorded: boolean;
  /** Dropped from the database (with --dry-run: would be). */
  readonly dropped: boolean;
}

export interface ArchiveExportResult {
  /** The folder or s3:// address written to. */
  readonly directory: string;
  readonly dryRun: boolean;
  readonly months: readonly MonthExport[];
  readonly exported: number;
  readonly skipped: number;
  readonly dropped: number;
  readonly exitCode: number;
  /** Under --dry-run: the script of the record and drop steps (values only the export can know are named in <angle brackets>). */
  readonly sql?: string;
}

export interface ArchiveExportOptions {
  /** The cold-storage folder (created if missing) or s3://bucket/prefix. */
  readonly to: string;
  /** Modes of the files and of the folders partkit creates; default the config's (0600 and 0700). */
  readonly fileMode?: number | undefined;
  readonly dirMode?: number | undefined;
  /** For s3:// targets. */
  readonly s3?: S3Options | undefined;
  readonly dropAfterExport?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
}

/** One archived table as found in the database, with the keys of its files under the target. */
interface ArchivedTable {
  readonly parent: QualifiedName;
  readonly archived: QualifiedName;
  readonly month: string;
  readonly rows: number;
  readonly columns: readonly ArchiveColumn[];
  readonly fileKey: string;
  readonly manifestKey: string;
}

interface ExportRecord {
  readonly archived_table: string;
  readonly rows: string;
  readonly sha256: string;
  readonly dropped: boolean;
}

async function readManifest(target: ArchiveTarget, key: string): Promise<ArchiveManifest | null> {
  return parseManifest(await target.readText(key));
}

// ---------------------------------------------------------------------------------------------
// Inspect

export async function archiveSchemaOf(db: Database, kitSchema: string, table: TableConfig): Promise<string | null> {
  const [row] = await db.query<{ archive_schema: string | null }>(
    `SELECT archive_schema FROM ${quoteIdent(kitSchema)}.managed_table WHERE parent_schema = $1 AND parent_table = $2`,
    [table.name.schema, table.name.name],
  );
  return row ? row.archive_schema : table.archiveSchema;
}

export async function columnsOf(db: Database, relation: QualifiedName): Promise<ArchiveColumn[]> {
  return db.query<ArchiveColumn>(
    `SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attnum`,
    [quoteQualified(relation)],
  );
}

/** The archived months of one table that are detached (a table in the archive schema still attached somewhere is not archived). */
async function findArchivedTables(db: Database, target: ArchiveTarget, archiveSchema: string, table: TableConfig, log: Logger): Promise<ArchivedTable[]> {
  const months = await readArchivedMonths(db, archiveSchema, table.name);
  const found: Omit<ArchivedTable, 'fileKey' | 'manifestKey'>[] = [];
  for (const month of months) {
    const archived = { schema: month.schema, name: month.name };
    if (month.month === null) {
      log.warn(`${displayName(archived)}: no month in its name, not exported`);
      continue;
    }
    const [facts] = await db.query<{ attached: boolean }>('SELECT c.relispartition AS attached FROM pg_class c WHERE c.oid = $1::regclass', [quoteQualified(archived)]);
    if (facts?.attached) {
      log.warn(`${displayName(archived)} is attached to a partitioned table, so it is not an archived month; not exported`);
      continue;
    }
    const columns = await columnsOf(db, archived);
    const [count] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(archived)}`);
    found.push({ parent: table.name, archived, month: month.month, rows: Number(count?.n ?? 0), columns });
  }
  const perMonth = new Map<string, number>();
  for (const each of found) perMonth.set(each.month, (perMonth.get(each.month) ?? 0) + 1);
  const result: ArchivedTable[] = [];
  for (const each of found) {
    // Two archived tables of one month (say after a switch of strategy) must not share a file,
    // and an export of another table under the plain name is never overwritten.
    let keys = monthKeys(table.name, each.month);
    const plain = await readManifest(target, keys.manifest);
    if (perMonth.get(each.month)! > 1 || (plain !== null && plain.archived_table !== displayName(each.archived))) keys = monthKeys(table.name, `${each.month}.${fileSafe(each.archived.name)}`);
    result.push({ ...each, fileKey: keys.file, manifestKey: keys.manifest });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Export one month

/**
 * Streams the table with `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv, HEADER)` into gzip and the
 * target, in one read-only snapshot: the server writes the CSV (dates in ISO, timestamptz in UTC, as
 * the settings below pin them), so rows never become JavaScript objects and memory stays flat
 * whatever the size of the month. Only reads (Database.readSnapshot); changes go through the runner.
 */
async function writeExport(db: Database, target: ArchiveTarget, table: ArchivedTable, log: Logger): Promise<{ rows: number; sha256: string; bytes: number }> {
  const select = `SELECT ${table.columns.map((column) => quoteIdent(column.name)).join(', ')} FROM ${quoteQualified(table.archived)}`;
  const tap = hashTap();
  let rows = 0;
  await db.readSnapshot({ TimeZone: 'UTC', DateStyle: 'ISO, YMD', IntervalStyle: 'postgres', extra_float_digits: '1' }, async () => {
    log.info(`• export ${displayName(table.archived)} (${table.month}) to ${target.location(table.fileKey)}`);
    // The old manifest goes first: a manifest never describes a file other than its own.
    await target.remove(table.manifestKey);
    const copy = db.copyOut(`COPY (${select}) TO STDOUT WITH (FORMAT csv, HEADER)`);
    const produced = pipeline(copy, createGzip(), tap.stream);
    try {
      await Promise.all([produced, target.write(table.fileKey, tap.stream)]);
    } catch (error) {
      // The COPY must reach its end before the snapshot can roll back: destroying the stream
      // would leave the connection paused mid-COPY, and the process would stop with nothing
      // said (exit 13). Its rest is read and thrown away.
      tap.stream.resume();
      await produced.catch(() => undefined);
      throw error;
    }
    rows = copy.rowCount;
  });
  return { rows, ...tap.digest() };
}

/** The file as read back from the target must hold the rows written, under the expected header, with the checksum written. */
async function verifyExport(target: ArchiveTarget, table: ArchivedTable, expected: { rows: number; sha256: string }): Promise<FileCheck> {
  const where = target.location(table.fileKey);
  const source = await target.read(table.fileKey);
  const check = source === null ? null : await checkExportStream(source);
  const problems: string[] = [];
  if (check === null) problems.push('it is not there');
  else {
    if (check.sha256 !== expected.sha256) problems.push(`sha256 ${check.sha256}, expected ${expected.sha256}`);
    if (check.rows !== expected.rows) problems.push(`${check.rows} rows, expected ${expected.rows}`);
    if (check.header !== csvHeader(table.columns)) problems.push(`header ${JSON.stringify(check.header.trimEnd())}, expected ${JSON.stringify(csvHeader(table.columns).trimEnd())}`);
  }
  if (problems.length > 0 || check === null) {
    throw new CheckFailedError(`The export of ${displayName(table.archived)} in ${where} does not read back as written: ${problems.join('; ')}.`, 'Nothing was dropped. Check the storage under --to and run partkit archive export again.');
  }
  return check;
}

function manifestOf(db: Database, table: ArchivedTable, file: { rows: number; sha256: string; bytes: number }): ArchiveManifest {
  return {
    format: MANIFEST_FORMAT,
    table: displayName(table.parent),
    archived_table: displayName(table.archived),
    month: table.month,
    rows: file.rows,
    file: table.fileKey.slice(table.fileKey.lastIndexOf('/') + 1),
    bytes: file.bytes,
    sha256: file.sha256,
    columns: table.columns,
    exported_at: new Date().toISOString(),
    database: db.name,
  };
}

function recordStep(kitSchema: string, table: ArchivedTable, manifest: Pick<ArchiveManifest, 'rows' | 'sha256' | 'exported_at'>, location: string): SqlStep {
  return sqlStep(
    `record the export of ${displayName(table.archived)} (${table.month}, ${manifest.rows} rows) in ${kitSchema}.archive_export`,
    `INSERT INTO ${quoteIdent(kitSchema)}.archive_export (parent_schema, parent_table, archive_schema, archived_table, month, rows, file, sha256, exported_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (archive_schema, archived_table) DO UPDATE
   SET parent_schema = EXCLUDED.parent_schema, parent_table = EXCLUDED.parent_table, month = EXCLUDED.month, rows = EXCLUDED.rows,
       file = EXCLUDED.file, sha256 = EXCLUDED.sha256, exported_at = EXCLUDED.exported_at, dropped_at = NULL`,
    {
      params: [table.parent.schema, table.parent.name, table.archived.schema, table.archived.name, table.month, manifest.rows, location, manifest.sha256, manifest.exported_at],
      table: displayName(table.parent),
    },
  );
}

function dropStep(kitSchema: string, table: ArchivedTable, manifest: Pick<ArchiveManifest, 'rows' | 'sha256'>, location: string): SqlStep {
  return sqlStep(
    `drop ${displayName(table.archived)}: its ${manifest.rows} rows are in ${location} (read back and verified)`,
    `SELECT ${quoteIdent(kitSchema)}.drop_exported_archive($1::regclass, $2) AS rows`,
    { params: [quoteQualified(table.archived), manifest.sha256], table: displayName(table.parent) },
  );
}

// ---------------------------------------------------------------------------------------------
// The command

export async function requireArchiveKit(db: Database, kit: string): Promise<void> {
  await requireKit(db, kit, ['archive_export', 'drop_exported_archive(regclass,text)']);
}

export async function archiveExport(db: Database, config: Config, options: ArchiveExportOptions): Promise<ArchiveExportResult> {
  if (!options.to) throw new UsageError('archive export needs --to DIR or s3://bucket/prefix, the cold storage.', 'For example: partkit archive export --to /mnt/cold/semibot');
  const dryRun = options.dryRun ?? false;
  const target = await openTarget(options.to, {
    modes: { fileMode: options.fileMode ?? config.archiveExport.fileMode, dirMode: options.dirMode ?? config.archiveExport.dirMode },
    s3: options.s3,
  });
  const kit = config.kitSchema;
  await requireArchiveKit(db, kit);
  // A bucket that is missing or refuses the credentials fails here, before anything is written or dropped.
  if (!dryRun || target.root.startsWith('s3://')) await target.prepare();
  return underRunLock(db, { dryRun }, () => exportLocked(db, config, options, target));
}

/**
 * Phases of the runner: per table, the removal of partial files an earlier run left (only when
 * applying), then one phase per archived month. A month's phase reads its export record and the
 * manifest and file under the target afresh, writes and reads back the file when it applies (`act`:
 * never in a dry run), and plans the record and drop steps from the manifest, or, in a dry run, from
 * placeholders for what only the export can know (its checksum and time).
 */
async function exportLocked(db: Database, config: Config, options: ArchiveExportOptions, target: ArchiveTarget): Promise<ArchiveExportResult> {
  const log = db.log;
  const kit = config.kitSchema;
  const phases: Phase<unknown>[] = [];
  const months: MonthPhase[] = [];
  for (const table of config.tables) {
    const archiveSchema = await archiveSchemaOf(db, kit, table);
    if (archiveSchema === null) continue;
    const archivedTables = await findArchivedTables(db, target, archiveSchema, table, log);
    phases.push({
      description: `remove partial files an earlier export of ${displayName(table.name)} left`,
      maxRounds: 1,
      read: async () => null,
      act: async () => {
        await target.removeLeftovers(archivedTables.flatMap((each) => [each.fileKey, each.manifestKey]), log);
        return null;
      },
      plan: () => ({ steps: [] }),
    });
    for (const archived of archivedTables) {
      const month = monthPhase(kit, target, archived, options.dropAfterExport ?? false, log);
      months.push(month);
      phases.push(month as Phase<unknown>);
    }
  }
  const outcome = await runPhases(db, phases, { dryRun: options.dryRun ?? false });
  const done = months.map((month) => month.result!);
  const count = (test: (month: MonthExport) => boolean) => done.filter(test).length;
  return {
    directory: target.root,
    dryRun: outcome.dryRun,
    months: done,
    exported: count((month) => month.action === 'exported'),
    skipped: count((month) => month.action === 'skipped'),
    dropped: count((month) => month.dropped),
    exitCode: ExitCode.ok,
    ...(outcome.dryRun ? { sql: outcome.sql } : {}),
  };
}

/** What a month's export is planned from: its record and manifest as read, and the manifest of the file once written and read back. */
interface MonthState {
  readonly record: ExportRecord | undefined;
  readonly previous: ArchiveManifest | null;
  /** The manifest matches the table and the file has its size: nothing to write. */
  readonly upToDate: boolean;
  /** Set by `act` (applying only): the manifest of the file as written and read back, and whether it was written now. */
  readonly written?: { readonly manifest: ArchiveManifest; readonly action: MonthExport['action'] };
}

interface MonthPhase extends Phase<MonthState> {
  /** The month as the result reports it, once planned. */
  readonly result: MonthExport | undefined;
}

function monthPhase(kit: string, target: ArchiveTarget, table: ArchivedTable, drop: boolean, log: Logger): MonthPhase {
  const location = target.location(table.fileKey);
  const base = { table: displayName(table.parent), archivedTable: displayName(table.archived), month: table.month, file: location, manifest: target.location(table.manifestKey) };
  let result: MonthExport | undefined;
  return {
    description: `export ${displayName(table.archived)} (${table.month})`,
    maxRounds: 1,
    get result() {
      return result;
    },
    async read(db) {
      const [record] = await db.query<ExportRecord>(
        `SELECT archived_table, rows::text AS rows, sha256, dropped_at IS NOT NULL AS dropped FROM ${quoteIdent(kit)}.archive_export WHERE archive_schema = $1 AND archived_table = $2`,
        [table.archived.schema, table.archived.name],
      );
      const previous = await readManifest(target, table.manifestKey);
      const upToDate =
        previous !== null &&
        previous.archived_table === displayName(table.archived) &&
        previous.rows === table.rows &&
        sameColumns(previous.columns, table.columns) &&
        (await target.size(table.fileKey)) === previous.bytes;
      return { record, previous, upToDate };
    },
    async act(db, state) {
      if (state.upToDate && !drop) return { ...state, written: { manifest: state.previous!, action: 'skipped' } };
      if (state.upToDate) {
        // Dropping trusts only a file read back now; one that does not read back is written again.
        if (await verifyExport(target, table, state.previous!).catch(() => null)) return { ...state, written: { manifest: state.previous!, action: 'skipped' } };
        log.warn(`${location} does not read back as its manifest says; exporting ${displayName(table.archived)} again`);
      }
      return { ...state, written: { manifest: await exportAndVerify(db, target, table), action: 'exported' } };
    },
    plan(state) {
      // Before the export (a dry run), a month still to export has no checksum and no time yet.
      const manifest = state.written?.manifest ?? (state.upToDate ? state.previous! : { rows: table.rows, sha256: '<sha256 of the exported file>', exported_at: '<time of the export>' });
      const recorded = needsRecord(state.record, manifest);
      const steps: SqlStep[] = recorded ? [recordStep(kit, table, manifest, location)] : [];
      if (drop) steps.push(dropStep(kit, table, manifest, location));
      const known = state.written !== undefined || state.upToDate;
      result = { ...base, action: state.written?.action ?? (state.upToDate ? 'skipped' : 'exported'), rows: manifest.rows, sha256: known ? manifest.sha256 : null, recorded, dropped: drop };
      return { steps };
    },
  };
}

/** The kit's archive_export row must be (re)written unless it names this very file. */
function needsRecord(record: ExportRecord | undefined, manifest: Pick<ArchiveManifest, 'sha256' | 'rows'>): boolean {
  return !record || record.dropped || record.sha256 !== manifest.sha256 || Number(record.rows) !== manifest.rows;
}

async function exportAndVerify(db: Database, target: ArchiveTarget, table: ArchivedTable): Promise<ArchiveManifest> {
  const written = await writeExport(db, target, table, db.log);
  await verifyExport(target, table, written);
  const manifest = manifestOf(db, table, written);
  await target.writeText(table.manifestKey, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export function renderArchiveExport(result: ArchiveExportResult): string {
  const would = result.dryRun ? 'would be ' : '';
  const head = `archive export to ${result.directory}${result.dryRun ? ' (dry run: nothing written or dropped)' : ''}: ${
    result.months.length === 0 ? 'no archived months' : `${result.exported} ${would}exported, ${result.skipped} already exported, ${result.dropped} ${would}dropped`
  }`;
  const lines = result.months.map((month) => {
    const verb = result.dryRun ? (month.action === 'exported' ? 'export' : 'skip') : month.action;
    return `  ${verb.padEnd(8)} ${month.table} ${month.month}  ${month.archivedTable} (${month.rows} rows) -> ${month.file}${month.dropped ? (result.dryRun ? ', then drop' : ', dropped') : ''}`;
  });
  if (result.sql === undefined) return [head, ...lines].join('\n');
  // A dry run prints a script (stdout may go to psql): the summary as comments, then the steps.
  return `${[head, ...lines].map((line) => sqlComment(line)).join('\n')}\n${result.sql}`;
}
