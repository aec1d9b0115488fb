/**
 * `partkit archive export --to DIR`: the months retention moved into the archive schema, written to
 * cold storage. Each archived month becomes `DIR/<schema>.<table>/<YYYY-MM>.csv.gz` (what
 * `COPY ... TO STDOUT WITH (FORMAT csv, HEADER)` prints, gzipped) and a manifest `<YYYY-MM>.json`
 * (rows, sha256 of the .gz, columns and types), and is recorded in the kit's `archive_export`.
 * With `--drop-after-export` the archived table is dropped, by the kit's drop_exported_archive, only
 * after its file was written, fsynced and read back with the right row count and checksum.
 * A month whose manifest already matches the table is skipped, so a second run writes nothing.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { Argv, CommandModule } from 'yargs';
import { readArchivedMonths } from '../core/checks/state.js';
import type { Config, TableConfig } from '../core/config.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import type { Database } from '../core/db.js';
import { CheckFailedError, ExitCode, MissingCapabilityError, UsageError } from '../core/errors.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import type { Logger } from '../core/log.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { isAlive } from '../core/processes.js';

/** Rows fetched from the cursor per round trip. */
const FETCH_ROWS = 5000;
const CURSOR = 'partkit_archive_export';
export const MANIFEST_FORMAT = 'partkit archive export 1: CSV with a header line, as COPY ... TO STDOUT WITH (FORMAT csv, HEADER), gzip';

export interface ArchiveColumn {
  readonly name: string;
  /** As format_type prints it: `uuid`, `character varying(20)`, `timestamp with time zone`. */
  readonly type: string;
}

/** What `<YYYY-MM>.json` next to each export holds. */
export interface ArchiveManifest {
  readonly format: string;
  /** The parent, as SQL writes it. */
  readonly table: string;
  readonly archived_table: string;
  readonly month: string;
  readonly rows: number;
  /** The .csv.gz, relative to the manifest. */
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly columns: readonly ArchiveColumn[];
  readonly exported_at: string;
  readonly database: string;
}

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
  readonly directory: string;
  readonly dryRun: boolean;
  readonly months: readonly MonthExport[];
  readonly exported: number;
  readonly skipped: number;
  readonly dropped: number;
  readonly exitCode: number;
}

export interface ArchiveExportOptions {
  /** The cold-storage folder (created if missing). */
  readonly to: string;
  /** Modes of the files and of the folders partkit creates; default the config's (0600 and 0700). */
  readonly fileMode?: number | undefined;
  readonly dirMode?: number | undefined;
  readonly dropAfterExport?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
}

/** One archived table as found in the database, with where its files go. */
interface FileModes {
  readonly fileMode: number;
  readonly dirMode: number;
}

interface ArchivedTable {
  readonly parent: QualifiedName;
  readonly archived: QualifiedName;
  readonly month: string;
  readonly rows: number;
  readonly columns: readonly ArchiveColumn[];
  readonly file: string;
  readonly manifestFile: string;
}

interface ExportRecord {
  readonly archived_table: string;
  readonly rows: string;
  readonly sha256: string;
  readonly dropped: boolean;
}

/** What reading a .csv.gz back gives. */
interface FileCheck {
  readonly sha256: string;
  readonly bytes: number;
  readonly rows: number;
  readonly header: string;
}

// ---------------------------------------------------------------------------------------------
// CSV as COPY writes it

/**
 * One field as `COPY ... (FORMAT csv)` writes it: NULL is empty and unquoted, and a value is quoted
 * when it is empty or holds a delimiter, quote or line break (or is `\.`), quotes doubled. So a
 * file reads back with `COPY ... FROM ... WITH (FORMAT csv, HEADER)` into the same values.
 */
export function csvField(value: string | null): string {
  if (value === null) return '';
  if (value === '' || value === '\\.' || /[",\r\n]/.test(value)) return `"${value.replaceAll('"', '""')}"`;
  return value;
}

export function csvHeader(columns: readonly ArchiveColumn[]): string {
  return `${columns.map((column) => csvField(column.name)).join(',')}\n`;
}

/** Counts CSV records (line breaks outside quotes) and keeps the first one, the header. */
class CsvRecordCounter extends Writable {
  records = 0;
  private inQuotes = false;
  private trailing = false;
  private readonly headerParts: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let headerStart = this.records === 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i];
      if (byte === 0x22) {
        this.inQuotes = !this.inQuotes;
      } else if (byte === 0x0a && !this.inQuotes) {
        if (this.records === 0) {
          this.headerParts.push(chunk.subarray(headerStart, i + 1));
          headerStart = -1;
        }
        this.records += 1;
        this.trailing = false;
        continue;
      }
      this.trailing = true;
    }
    if (headerStart >= 0) this.headerParts.push(chunk.subarray(headerStart));
    callback();
  }

  /** Records after the header; a last record without a line break counts too. */
  get rows(): number {
    return Math.max(0, this.records + (this.trailing ? 1 : 0) - 1);
  }

  get header(): string {
    return Buffer.concat(this.headerParts).toString('utf8');
  }
}

/** sha256 and size of the bytes going through. */
function hashTap(): { stream: Transform; digest: () => { sha256: string; bytes: number } } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, digest: () => ({ sha256: hash.digest('hex'), bytes }) };
}

/** Reads a .csv.gz back: checksum of the file as stored, and the CSV records inside it. */
export async function checkExportFile(file: string): Promise<FileCheck> {
  const tap = hashTap();
  const counter = new CsvRecordCounter();
  await pipeline(createReadStream(file), tap.stream, createGunzip(), counter);
  const { sha256, bytes } = tap.digest();
  return { sha256, bytes, rows: counter.rows, header: counter.header };
}

// ---------------------------------------------------------------------------------------------
// Files

/** A name part as a file-name part: letters, digits, `_` and `-` stay, anything else is %XX (UTF-8). */
function fileSafe(part: string): string {
  return part.replace(/[^A-Za-z0-9_-]/gu, (char) => [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

export function tableDirectory(root: string, parent: QualifiedName): string {
  return path.join(root, `${fileSafe(parent.schema)}.${fileSafe(parent.name)}`);
}

async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems cannot fsync a directory; the file itself was synced before.
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/** Writes a small file so that it is either absent or complete: temp file, fsync, rename, fsync the folder. */
async function writeFileDurably(file: string, content: string, fileMode: number): Promise<void> {
  const temp = partialName(file, process.pid);
  const handle = await open(temp, 'w', fileMode);
  try {
    // The mode given to open() passes through the umask; the configured one is set exactly.
    await handle.chmod(fileMode);
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await fsyncPath(path.dirname(file));
}

/** Where a file is written before it is complete: `<file>.<pid>.partial`, renamed into place when done. */
function partialName(file: string, pid: number): string {
  return `${file}.${pid}.partial`;
}

/**
 * Creates `directory` and any missing parents with exactly `mode` (mkdir's mode passes through the
 * umask). Folders that already exist keep theirs: partkit changes only what it creates.
 */
async function makeDirectory(directory: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let each = path.resolve(directory); ; each = path.dirname(each)) {
    const exists = await stat(each).then(() => true, (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? false : Promise.reject(error)));
    if (exists) break;
    missing.unshift(each);
    if (path.dirname(each) === each) break;
  }
  if (missing.length === 0) return;
  await mkdir(directory, { recursive: true, mode });
  for (const each of missing) await chmod(each, mode);
}

/**
 * Removes what an interrupted export left behind: `<month file>.<pid>.partial` of this table's
 * months in its folder, when that process is gone. Nothing else in the folder is touched.
 */
async function removeLeftoverPartials(tables: readonly ArchivedTable[], log: Logger): Promise<void> {
  const byDirectory = new Map<string, Set<string>>();
  for (const table of tables) {
    const names = byDirectory.get(path.dirname(table.file)) ?? new Set<string>();
    names.add(path.basename(table.file)).add(path.basename(table.manifestFile));
    byDirectory.set(path.dirname(table.file), names);
  }
  for (const [directory, names] of byDirectory) {
    let entries: string[];
    try {
      entries = await readdir(directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const entry of entries) {
      const match = /^(.+)\.(\d+)\.partial$/.exec(entry);
      if (!match || !names.has(match[1]!)) continue;
      const pid = Number(match[2]);
      if (pid !== process.pid && isAlive(pid)) continue;
      await rm(path.join(directory, entry), { force: true });
      log.info(`  removed ${path.join(directory, entry)}, left by an interrupted export`);
    }
  }
}

async function readManifest(file: string): Promise<ArchiveManifest | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return JSON.parse(text) as ArchiveManifest;
  } catch {
    // A manifest that does not parse is as good as none: the month is exported again.
    return null;
  }
}

async function fileSize(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function sameColumns(a: readonly ArchiveColumn[] | undefined, b: readonly ArchiveColumn[]): boolean {
  return a !== undefined && a.length === b.length && a.every((column, i) => column.name === b[i]!.name && column.type === b[i]!.type);
}

// ---------------------------------------------------------------------------------------------
// Inspect

async function archiveSchemaOf(db: Database, kitSchema: string, table: TableConfig): Promise<string | null> {
  const [row] = await db.query<{ archive_schema: string | null }>(
    `SELECT archive_schema FROM ${quoteIdent(kitSchema)}.managed_table WHERE parent_schema = $1 AND parent_table = $2`,
    [table.name.schema, table.name.name],
  );
  return row ? row.archive_schema : table.archiveSchema;
}

/** The archived months of one table that are detached (a table in the archive schema still attached somewhere is not archived). */
async function inspectTable(db: Database, root: string, archiveSchema: string, table: TableConfig, log: Logger): Promise<ArchivedTable[]> {
  const months = await readArchivedMonths(db, archiveSchema, table.name);
  const found: Omit<ArchivedTable, 'file' | 'manifestFile'>[] = [];
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
    const columns = await db.query<ArchiveColumn>(
      `SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type
         FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum`,
      [quoteQualified(archived)],
    );
    const [count] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(archived)}`);
    found.push({ parent: table.name, archived, month: month.month, rows: Number(count?.n ?? 0), columns });
  }
  const directory = tableDirectory(root, table.name);
  const perMonth = new Map<string, number>();
  for (const each of found) perMonth.set(each.month, (perMonth.get(each.month) ?? 0) + 1);
  const result: ArchivedTable[] = [];
  for (const each of found) {
    // Two archived tables of one month (say after a switch of strategy) must not share a file,
    // and an export of another table under the plain name is never overwritten.
    let base = each.month;
    const plain = await readManifest(path.join(directory, `${base}.json`));
    if (perMonth.get(each.month)! > 1 || (plain !== null && plain.archived_table !== displayName(each.archived))) base = `${each.month}.${fileSafe(each.archived.name)}`;
    result.push({ ...each, file: path.join(directory, `${base}.csv.gz`), manifestFile: path.join(directory, `${base}.json`) });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Export one month

/**
 * Streams the table through a cursor into gzip and the file, in one read-only snapshot. Values are
 * cast to text by the server, so they are exactly what COPY would print (dates in ISO, timestamptz
 * in UTC). Cursor statements only read; changes to the database still go through applyPlan.
 */
async function writeExport(db: Database, table: ArchivedTable, modes: FileModes, log: Logger): Promise<{ rows: number; sha256: string; bytes: number }> {
  await makeDirectory(path.dirname(table.file), modes.dirMode);
  const temp = partialName(table.file, process.pid);
  const select = `SELECT ${table.columns.map((column, i) => `${quoteIdent(column.name)}::text AS c${i}`).join(', ')} FROM ${quoteQualified(table.archived)}`;
  let rows = 0;
  async function* csv(): AsyncGenerator<Buffer> {
    yield Buffer.from(csvHeader(table.columns), 'utf8');
    for (;;) {
      const batch = await db.query<Record<string, string | null>>(`FETCH FORWARD ${FETCH_ROWS} FROM ${CURSOR}`);
      if (batch.length === 0) return;
      let text = '';
      for (const row of batch) text += `${table.columns.map((_, i) => csvField(row[`c${i}`] ?? null)).join(',')}\n`;
      rows += batch.length;
      yield Buffer.from(text, 'utf8');
    }
  }
  const tap = hashTap();
  await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  try {
    await db.query(`SET LOCAL TimeZone = 'UTC'`);
    await db.query(`SET LOCAL DateStyle = 'ISO, YMD'`);
    await db.query(`SET LOCAL IntervalStyle = 'postgres'`);
    await db.query('SET LOCAL extra_float_digits = 1');
    await db.query(`DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${select}`);
    log.info(`• export ${displayName(table.archived)} (${table.month}) to ${table.file}`);
    // Exactly the configured mode, whatever the umask, before a byte of user data is written.
    const created = await open(temp, 'w', modes.fileMode);
    try {
      await created.chmod(modes.fileMode);
    } finally {
      await created.close();
    }
    await pipeline(Readable.from(csv()), createGzip(), tap.stream, createWriteStream(temp, { flags: 'w' }));
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncPath(temp);
  // The old manifest goes first: a manifest never describes a file other than its own.
  await rm(table.manifestFile, { force: true });
  await rename(temp, table.file);
  await fsyncPath(path.dirname(table.file));
  return { rows, ...tap.digest() };
}

/** The file as read back must hold the rows written, under the expected header, with the checksum written. */
async function verifyExport(table: ArchivedTable, expected: { rows: number; sha256: string }): Promise<FileCheck> {
  const check = await checkExportFile(table.file);
  const problems: string[] = [];
  if (check.sha256 !== expected.sha256) problems.push(`sha256 ${check.sha256}, expected ${expected.sha256}`);
  if (check.rows !== expected.rows) problems.push(`${check.rows} rows, expected ${expected.rows}`);
  if (check.header !== csvHeader(table.columns)) problems.push(`header ${JSON.stringify(check.header.trimEnd())}, expected ${JSON.stringify(csvHeader(table.columns).trimEnd())}`);
  if (problems.length > 0) {
    throw new CheckFailedError(`The export of ${displayName(table.archived)} in ${table.file} does not read back as written: ${problems.join('; ')}.`, 'Nothing was dropped. Check the storage under --to and run partkit archive export again.');
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
    file: path.basename(table.file),
    bytes: file.bytes,
    sha256: file.sha256,
    columns: table.columns,
    exported_at: new Date().toISOString(),
    database: db.name,
  };
}

function recordStep(kitSchema: string, table: ArchivedTable, manifest: ArchiveManifest): SqlStep {
  return sqlStep(
    `record the export of ${displayName(table.archived)} (${table.month}, ${manifest.rows} rows) in ${kitSchema}.archive_export`,
    `INSERT INTO ${quoteIdent(kitSchema)}.archive_export (parent_schema, parent_table, archive_schema, archived_table, month, rows, file, sha256, exported_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (archive_schema, archived_table) DO UPDATE
   SET parent_schema = EXCLUDED.parent_schema, parent_table = EXCLUDED.parent_table, month = EXCLUDED.month, rows = EXCLUDED.rows,
       file = EXCLUDED.file, sha256 = EXCLUDED.sha256, exported_at = EXCLUDED.exported_at, dropped_at = NULL`,
    {
      params: [table.parent.schema, table.parent.name, table.archived.schema, table.archived.name, table.month, manifest.rows, table.file, manifest.sha256, manifest.exported_at],
      table: displayName(table.parent),
    },
  );
}

function dropStep(kitSchema: string, table: ArchivedTable, manifest: ArchiveManifest): SqlStep {
  return sqlStep(
    `drop ${displayName(table.archived)}: its ${manifest.rows} rows are in ${table.file} (read back and verified)`,
    `SELECT ${quoteIdent(kitSchema)}.drop_exported_archive($1::regclass, $2) AS rows`,
    { params: [quoteQualified(table.archived), manifest.sha256], table: displayName(table.parent) },
  );
}

// ---------------------------------------------------------------------------------------------
// The command

export async function archiveExport(db: Database, config: Config, options: ArchiveExportOptions): Promise<ArchiveExportResult> {
  if (!options.to) throw new UsageError('archive export needs --to DIR, the cold-storage folder.', 'For example: partkit archive export --to /mnt/cold/semibot');
  const root = path.resolve(options.to);
  const dryRun = options.dryRun ?? false;
  const modes: FileModes = { fileMode: options.fileMode ?? config.archiveExport.fileMode, dirMode: options.dirMode ?? config.archiveExport.dirMode };
  const log = db.log;
  const kit = config.kitSchema;
  const [installed] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AND to_regprocedure($2) IS NOT NULL AS ok', [
    `${quoteIdent(kit)}.archive_export`,
    `${quoteIdent(kit)}.drop_exported_archive(regclass,text)`,
  ]);
  if (!installed?.ok) {
    throw new MissingCapabilityError(`partkit's archive_export is not installed in this database (schema ${kit}).`, 'Run `partkit provision` first; it installs the kit schema update.');
  }
  if (!dryRun) {
    try {
      await makeDirectory(root, modes.dirMode);
    } catch (error) {
      throw new UsageError(`Cannot create --to folder ${root}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`, 'Give a folder partkit can write to.');
    }
    await db.acquireRunLock();
  }

  const months: MonthExport[] = [];
  for (const table of config.tables) {
    const archiveSchema = await archiveSchemaOf(db, kit, table);
    if (archiveSchema === null) continue;
    const records = new Map(
      (
        await db.query<ExportRecord>(`SELECT archived_table, rows::text AS rows, sha256, dropped_at IS NOT NULL AS dropped FROM ${quoteIdent(kit)}.archive_export WHERE archive_schema = $1`, [archiveSchema])
      ).map((record) => [record.archived_table, record]),
    );
    const archivedTables = await inspectTable(db, root, archiveSchema, table, log);
    if (!dryRun) await removeLeftoverPartials(archivedTables, log);
    for (const archived of archivedTables) {
      months.push(await exportMonth(db, kit, archived, records.get(archived.archived.name), { dryRun, drop: options.dropAfterExport ?? false, modes, log }));
    }
  }
  const count = (test: (month: MonthExport) => boolean) => months.filter(test).length;
  return {
    directory: root,
    dryRun,
    months,
    exported: count((month) => month.action === 'exported'),
    skipped: count((month) => month.action === 'skipped'),
    dropped: count((month) => month.dropped),
    exitCode: ExitCode.ok,
  };
}

async function exportMonth(
  db: Database,
  kit: string,
  table: ArchivedTable,
  record: ExportRecord | undefined,
  options: { dryRun: boolean; drop: boolean; modes: FileModes; log: Logger },
): Promise<MonthExport> {
  const base = { table: displayName(table.parent), archivedTable: displayName(table.archived), month: table.month, file: table.file, manifest: table.manifestFile };
  const previous = await readManifest(table.manifestFile);
  const upToDate =
    previous !== null &&
    previous.archived_table === displayName(table.archived) &&
    previous.rows === table.rows &&
    sameColumns(previous.columns, table.columns) &&
    (await fileSize(table.file)) === previous.bytes;

  if (options.dryRun) {
    return { ...base, action: upToDate ? 'skipped' : 'exported', rows: table.rows, sha256: upToDate ? previous.sha256 : null, recorded: false, dropped: options.drop };
  }

  let manifest: ArchiveManifest;
  let action: MonthExport['action'] = 'skipped';
  if (upToDate && options.drop) {
    // Dropping trusts only a file read back now; one that does not read back is written again.
    const check = await checkExportFile(table.file).catch(() => null);
    if (check && check.sha256 === previous.sha256 && check.rows === previous.rows && check.header === csvHeader(table.columns)) {
      manifest = previous;
    } else {
      options.log.warn(`${table.file} does not read back as its manifest says; exporting ${displayName(table.archived)} again`);
      manifest = await exportAndVerify(db, table, options.modes);
      action = 'exported';
    }
  } else if (upToDate) {
    manifest = previous;
  } else {
    manifest = await exportAndVerify(db, table, options.modes);
    action = 'exported';
  }

  const recorded = !record || record.dropped || record.sha256 !== manifest.sha256 || Number(record.rows) !== manifest.rows;
  const steps: SqlStep[] = recorded ? [recordStep(kit, table, manifest)] : [];
  if (options.drop) steps.push(dropStep(kit, table, manifest));
  if (steps.length > 0) await db.applyPlan({ steps });
  return { ...base, action, rows: manifest.rows, sha256: manifest.sha256, recorded, dropped: options.drop };
}

async function exportAndVerify(db: Database, table: ArchivedTable, modes: FileModes): Promise<ArchiveManifest> {
  const written = await writeExport(db, table, modes, db.log);
  await verifyExport(table, written);
  const manifest = manifestOf(db, table, written);
  await writeFileDurably(table.manifestFile, `${JSON.stringify(manifest, null, 2)}\n`, modes.fileMode);
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
  return [head, ...lines].join('\n');
}

interface ArchiveExportArgs extends GlobalOptions {
  readonly to: string;
  readonly dropAfterExport?: boolean;
}

const exportCommand: CommandModule<GlobalOptions, ArchiveExportArgs> = {
  command: 'export',
  describe: 'Write every archived month to DIR/<schema>.<table>/<YYYY-MM>.csv.gz with a manifest; already exported months are skipped',
  builder: (yargs) =>
    yargs
      .option('to', { type: 'string', demandOption: true, describe: 'Cold-storage folder (created if missing)' })
      .option('drop-after-export', { type: 'boolean', default: false, describe: 'Drop each archived table once its file is written, fsynced and read back with the right rows and checksum' })
      .example('$0 archive export --to /mnt/cold/semibot', '')
      .example('$0 archive export --to /mnt/cold/semibot --drop-after-export --dry-run', '') as unknown as Argv<ArchiveExportArgs>,
  handler: async (args) => {
    process.exitCode = await runCommand(
      args,
      async (ctx) => {
        // Validate before connecting: bad input never needs a server.
        if (!args.to || args.to.trim() === '') throw new UsageError('--to needs a folder.', 'For example: partkit archive export --to /mnt/cold/semibot');
        return archiveExport(await ctx.database(), ctx.config, { to: args.to, dropAfterExport: args.dropAfterExport, dryRun: args.dryRun });
      },
      renderArchiveExport,
    );
  },
};

export const archiveCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'archive',
  describe: 'Work on the archived months (export to cold storage)',
  builder: (yargs) => yargs.command(exportCommand).demandCommand(1, 'Name an action: archive export.'),
  handler: () => undefined,
};
