/**
 * `partkit archive restore <table> --month YYYY-MM --from DIR|s3://... [--attach | --into schema.table]`:
 * one exported month back into the database. The file is streamed from the target through gzip
 * into `COPY ... FROM STDIN` in one transaction that commits only when the rows COPY took and the
 * sha256 of the bytes read equal the manifest's, so a tampered or truncated file leaves nothing.
 * With --into it is loaded into a new table to query on its own (never back into the archive
 * schema by default: the next export would record it and purge drop it again). With --attach it
 * is loaded as the month's child (the name and bounds the table's strategy and time zone give it)
 * and attached after a CHECK constraint on the bounds, so that ATTACH does not scan it, in the same
 * transaction as the load: a failed or killed restore leaves nothing, and a re-run starts afresh
 * (a table an older partkit loaded but did not attach is loaded again).
 */
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Config } from '../core/config.js';
import { CheckFailedError, ExitCode, ConflictError, sqlState, UsageError } from '../core/errors.js';
import { StepFailedError, type Database } from '../core/db.js';
import { requireKit } from '../core/kit.js';
import { strategyOf } from '../strategies/index.js';
import { displayName, parseQualifiedName, quoteIdent, quoteLiteral, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { shellQuote } from '../core/shell.js';
import { renderPlan, sqlComment, sqlStep, type SqlStep } from '../core/plan.js';
import { run, underRunLock } from '../core/runner.js';
import { hashTap } from './csv.js';
import { monthKeys, parseManifest, type ArchiveManifest } from './manifest.js';
import { openTarget, type S3Options } from './targets/index.js';

export interface ArchiveRestoreOptions {
  readonly table: string;
  /** YYYY-MM. */
  readonly month: string;
  /** The folder or s3:// address the month was exported to. */
  readonly from: string;
  readonly attach?: boolean | undefined;
  readonly into?: string | undefined;
  /** With --attach: hold the month (kit's archive_hold) so that maintenance does not archive it again. */
  readonly keep?: boolean | undefined;
  readonly s3?: S3Options | undefined;
  readonly dryRun?: boolean | undefined;
}

export interface ArchiveRestoreResult {
  readonly table: string;
  readonly month: string;
  /** The data file restored from. */
  readonly file: string;
  /** Where the rows go, as SQL writes it. */
  readonly into: string;
  /** 'restored' now (with --dry-run: to be), or 'skipped' because it is already there. */
  readonly action: 'restored' | 'skipped';
  readonly attached: boolean;
  readonly rows: number;
  readonly sha256: string;
  readonly dryRun: boolean;
  /** The statements (with --dry-run: that would run); the COPY is fed from the file. */
  readonly plan: string;
  readonly exitCode: number;
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const BOUNDS_CHECK = 'partkit_restore_bounds';
/** The comment a restored table gets: how a re-run knows a table it loaded. */
const RESTORED_MARK = 'partkit archive restore:';

interface RestoreSettings {
  readonly strategy: 'plpgsql' | 'partman';
  readonly time_zone: string;
  readonly archive_schema: string | null;
  readonly partman_major: number | null;
}

interface MonthBounds {
  readonly control_column: string;
  readonly control_type: 'timestamptz' | 'timestamp' | 'date';
  readonly lower: string;
  readonly upper: string;
  readonly past_retention: boolean;
  readonly retention: string | null;
  readonly default_partition: string | null;
}

/** The child name each strategy gives a month: pg_partman 4 `t_p2026_01`, 5 `t_p20260101`, the kit `t_y2026m01`. */
export function monthChildName(table: string, month: string, managed: Pick<RestoreSettings, 'strategy' | 'partman_major'>): string {
  const [year, mm] = month.split('-') as [string, string];
  return strategyOf(managed.strategy).childName(table, { year: Number(year), month: Number(mm) }, managed.partman_major);
}

export async function archiveRestore(db: Database, config: Config, options: ArchiveRestoreOptions): Promise<ArchiveRestoreResult> {
  return underRunLock(db, options, () => restoreLocked(db, config, options));
}

async function restoreLocked(db: Database, config: Config, options: ArchiveRestoreOptions): Promise<ArchiveRestoreResult> {
  // Validate
  const month = MONTH.exec(options.month ?? '');
  if (!month) throw new UsageError(`--month "${options.month}" is not a month.`, 'Use YYYY-MM, e.g. --month 2025-11');
  if (options.attach && options.into) throw new UsageError('--attach and --into exclude each other.', 'Give one: --attach puts the month back into the table, --into schema.table loads it elsewhere.');
  if (options.keep && !options.attach) throw new UsageError('--keep holds a month attached, so it needs --attach.', 'Add --attach, or leave --keep out.');
  // Not back into the archive schema by default: the next export would record it again and purge drop it again.
  if (!options.attach && !options.into) {
    throw new UsageError('archive restore needs --attach (back into the table) or --into schema.table (a new table to query on its own).', `For example: partkit archive restore ${shellQuote(options.table)} --month ${shellQuote(options.month ?? 'YYYY-MM')} --from ${shellQuote(options.from)} --into restore.month`);
  }
  const parent = parseQualifiedName(options.table);
  const into = options.into ? parseQualifiedName(options.into) : null;
  const dryRun = options.dryRun ?? false;
  const kit = quoteIdent(config.kitSchema);
  const target = await openTarget(options.from, { modes: { fileMode: config.archiveExport.fileMode, dirMode: config.archiveExport.dirMode }, s3: options.s3 });
  if (target.root.startsWith('s3://')) await target.prepare();

  // Inspect: the manifest, the table, the destination
  const keys = monthKeys(parent, options.month);
  const file = target.location(keys.file);
  const manifest = parseManifest(await target.readText(keys.manifest));
  if (manifest === null) {
    throw new CheckFailedError(`There is no export of ${displayName(parent)} for ${options.month} under ${target.root} (no readable ${target.location(keys.manifest)}).`, `See what is there: partkit archive list --from ${shellQuote(options.from)}`);
  }
  if (manifest.table !== displayName(parent) || manifest.month !== options.month) {
    throw new CheckFailedError(`${target.location(keys.manifest)} describes ${manifest.table} ${manifest.month}, not ${displayName(parent)} ${options.month}.`, 'Check --from and the table name.');
  }
  const [managed] = await db.query<RestoreSettings>(
    `SELECT m.strategy, m.time_zone, m.archive_schema,
            (SELECT split_part(e.extversion, '.', 1)::int FROM pg_extension e WHERE e.extname = 'pg_partman') AS partman_major
       FROM ${kit}.managed_table m WHERE m.parent_schema = $1 AND m.parent_table = $2`,
    [parent.schema, parent.name],
  );
  let destination: QualifiedName;
  if (into) destination = into;
  else {
    if (!managed) throw new UsageError(`${displayName(parent)} is not managed by partkit in this database, so it has no month to attach to.`, 'Restore it into a table of your choice: add --into schema.table');
    destination = { schema: parent.schema, name: monthChildName(parent.name, options.month, managed) };
  }

  const [existing] = await db.query<{ parent: string | null; comment: string | null }>(
    `SELECT (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid) AS parent, obj_description(c.oid, 'pg_class') AS comment
       FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [quoteQualified(destination)],
  );
  // A table under the month's name, loaded by a restore that stopped before its attach (an older
  // partkit loaded and attached in two transactions): it is made again in this run's one transaction.
  let leftover = false;
  if (existing) {
    const [count] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(destination)}`);
    const rows = Number(count!.n);
    const attachedHere = existing.parent !== null && (await sameRelation(db, existing.parent, parent));
    if (options.attach && attachedHere) {
      if (options.keep && !dryRun) await run(db, { steps: [holdStep(config.kitSchema, parent, options.month)] }, { dryRun: false });
      return skipped(options, manifest, file, destination, true, rows);
    }
    if (!options.attach && existing.parent === null && rows === manifest.rows) return skipped(options, manifest, file, destination, false, rows);
    leftover = Boolean(options.attach) && existing.parent === null && (existing.comment?.startsWith(RESTORED_MARK) === true || rows === manifest.rows);
    if (!leftover) {
      throw new ConflictError(
        `${displayName(destination)} already exists${existing.parent ? `, attached to ${existing.parent},` : ''} with ${rows} rows; the export has ${manifest.rows}.`,
        options.attach ? `Nothing was changed. Move it out of the way, or restore elsewhere: partkit archive restore ${shellQuote(options.table)} --month ${options.month} --from ${shellQuote(options.from)} --into SCHEMA.TABLE` : 'Nothing was changed. Restore it under another name: add --into schema.table',
      );
    }
  }

  let bounds: MonthBounds | null = null;
  if (options.attach) {
    const [row] = await db.query<MonthBounds>(
      `WITH k AS (SELECT * FROM ${kit}.partition_key($1::regclass)),
            m AS (SELECT make_timestamp($2, $3, 1, 0, 0, 0) AS start, t.time_zone AS zone, t.retention
                    FROM ${kit}.managed_table t WHERE t.parent_schema = $4 AND t.parent_table = $5)
       SELECT k.control_column, k.control_type,
              CASE WHEN k.control_type = 'timestamptz'
                   THEN to_char((m.start AT TIME ZONE m.zone) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'
                   ELSE to_char(m.start, 'YYYY-MM-DD') END AS lower,
              CASE WHEN k.control_type = 'timestamptz'
                   THEN to_char(((m.start + interval '1 month') AT TIME ZONE m.zone) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'
                   ELSE to_char(m.start + interval '1 month', 'YYYY-MM-DD') END AS upper,
              coalesce(m.start + interval '1 month' <= (now() AT TIME ZONE m.zone) - m.retention, false) AS past_retention,
              m.retention::text AS retention,
              (SELECT nullif(p.partdefid, 0)::regclass::text FROM pg_partitioned_table p WHERE p.partrelid = $1::regclass) AS default_partition
         FROM k, m`,
      [quoteQualified(parent), Number(month[1]), Number(month[2]), parent.schema, parent.name],
    );
    bounds = row!;
    if (bounds.past_retention && !options.keep) {
      throw new UsageError(
        `${options.month} of ${displayName(parent)} is past its retention (${bounds.retention}): maintenance would archive it again right after the attach.`,
        `Nothing was changed. Hold it attached: partkit archive restore ${shellQuote(options.table)} --month ${options.month} --from ${shellQuote(options.from)} --attach --keep (or load it beside the table with --into SCHEMA.TABLE).`,
      );
    }
    if (options.keep) {
      await requireKit(db, config.kitSchema, ['archive_hold']);
    }
    if (bounds.default_partition !== null) {
      const [held] = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${bounds.default_partition} WHERE ${quoteIdent(bounds.control_column)} >= $1::${bounds.control_type} AND ${quoteIdent(bounds.control_column)} < $2::${bounds.control_type}`,
        [bounds.lower, bounds.upper],
      );
      if (Number(held!.n) > 0) {
        throw new ConflictError(
          `The default partition ${bounds.default_partition} holds ${held!.n} rows of ${options.month}: attaching the restored month next to them would fail, and merging them is not a restore.`,
          `Nothing was changed. Run partkit maintain to move them into their month first, or restore beside the table: --into SCHEMA.TABLE`,
        );
      }
    }
  }

  // Plan: one transaction loads, checks and attaches (Database.copyIn): a bad file, rows outside the
  // month, a lock not taken or a killed run leave nothing behind, and a re-run starts afresh.
  const columns = manifest.columns.map((column) => quoteIdent(column.name)).join(', ');
  const [version] = await db.query<{ n: number }>(`SELECT current_setting('server_version_num')::int AS n`);
  // PostgreSQL 15+ checks that the header names the columns in order; older servers skip it.
  const header = (version?.n ?? 0) >= 150000 ? 'HEADER MATCH' : 'HEADER';
  const group = `restore ${displayName(destination)}`;
  const step = (description: string, sql: string, extra: Partial<SqlStep> = {}) => sqlStep(description, sql, { group, table: displayName(parent), ...extra });
  const before: SqlStep[] = leftover
    ? [step(`drop ${displayName(destination)}, loaded by a restore that stopped before its attach (it is loaded again here)`, `DROP TABLE ${quoteQualified(destination)}`)]
    : [];
  before.push(
    options.attach
      ? step(`create ${displayName(destination)} like ${displayName(parent)}`, `CREATE TABLE ${quoteQualified(destination)} (LIKE ${quoteQualified(parent)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`)
      : step(`create ${displayName(destination)} with the ${manifest.columns.length} columns of the export`, `CREATE TABLE ${quoteQualified(destination)} (${manifest.columns.map((column) => `${quoteIdent(column.name)} ${column.type}`).join(', ')})`),
  );
  const copy = step(`load ${manifest.rows} rows from ${file} (sha256 ${manifest.sha256})`, `COPY ${quoteQualified(destination)} (${columns}) FROM STDIN WITH (FORMAT csv, ${header})`);
  const after: SqlStep[] = [step(`note on ${displayName(destination)} where its rows came from`, `COMMENT ON TABLE ${quoteQualified(destination)} IS ${quoteLiteral(`${RESTORED_MARK} ${options.month} of ${displayName(parent)} from ${file} (sha256 ${manifest.sha256})`)}`)];
  if (options.attach && bounds) {
    const key = quoteIdent(bounds.control_column);
    if (options.keep) after.push(holdStep(config.kitSchema, parent, options.month, group));
    after.push(
      step(
        `check ${displayName(destination)} holds only ${options.month} (so that ATTACH need not scan it)`,
        `ALTER TABLE ${quoteQualified(destination)} ADD CONSTRAINT ${BOUNDS_CHECK} CHECK (${key} IS NOT NULL AND ${key} >= ${quoteLiteral(bounds.lower)}::${bounds.control_type} AND ${key} < ${quoteLiteral(bounds.upper)}::${bounds.control_type})`,
        { id: BOUNDS_CHECK },
      ),
      step(
        `attach ${displayName(destination)} to ${displayName(parent)} for [${bounds.lower}, ${bounds.upper})`,
        `ALTER TABLE ${quoteQualified(parent)} ATTACH PARTITION ${quoteQualified(destination)} FOR VALUES FROM (${quoteLiteral(bounds.lower)}) TO (${quoteLiteral(bounds.upper)})`,
      ),
      step(`drop the bounds check of ${displayName(destination)}, now the partition bound`, `ALTER TABLE ${quoteQualified(destination)} DROP CONSTRAINT ${BOUNDS_CHECK}`),
    );
  }
  const planText = renderPlan({ steps: [...before, copy, ...after] }, { appDatabase: db.name, lockTimeout: db.lockTimeout });
  const result = { table: displayName(parent), month: options.month, file, into: displayName(destination), action: 'restored' as const, attached: options.attach ?? false, rows: manifest.rows, sha256: manifest.sha256, dryRun, plan: planText, exitCode: ExitCode.ok };
  if (dryRun) return result;

  // Apply (under the run lock, taken before the inspection above)
  const raw = await target.read(keys.file);
  if (raw === null) throw new CheckFailedError(`${file} is missing, though its manifest is there.`, 'Nothing was restored. Check the storage under --from.');
  const tap = hashTap();
  const gunzip = createGunzip();
  const feeding = pipeline(raw, tap.stream, gunzip).catch((error: unknown) => error);
  await db
    .copyIn({
      before,
      copy,
      after,
      source: gunzip,
      verify: async (rows) => {
        // COPY read gunzip to its end, so the feeding pipeline has settled.
        const failed = await feeding;
        if (failed) throw failed;
        const { sha256, bytes } = tap.digest();
        const problems: string[] = [];
        if (sha256 !== manifest.sha256) problems.push(`sha256 ${sha256}, the manifest says ${manifest.sha256}`);
        if (bytes !== manifest.bytes) problems.push(`${bytes} bytes, the manifest says ${manifest.bytes}`);
        if (rows !== manifest.rows) problems.push(`${rows} rows, the manifest says ${manifest.rows}`);
        if (problems.length > 0) {
          throw new CheckFailedError(`${file} does not match its manifest: ${problems.join('; ')}.`, 'Nothing was restored. The file was changed or damaged after the export; restore from another copy.');
        }
      },
    })
    .catch((error: unknown) => {
      // A file that no longer inflates was changed or damaged: the same refusal as a wrong checksum.
      if (typeof (error as NodeJS.ErrnoException).code === 'string' && (error as NodeJS.ErrnoException).code!.startsWith('Z_')) {
        throw new CheckFailedError(`${file} does not match its manifest: it is not the gzip stream that was exported (${(error as Error).message}).`, 'Nothing was restored. The file was changed or damaged after the export; restore from another copy.');
      }
      // Rows of the file outside the month's bounds in the table's zone (exported under another zone, say).
      if (error instanceof StepFailedError && sqlState(error.cause) === '23514' && bounds) {
        throw new ConflictError(
          `Some rows of ${file} lie outside ${options.month} of ${displayName(parent)} as its zone ${managed?.time_zone ?? ''} bounds it ([${bounds.lower}, ${bounds.upper})), so it cannot be attached as that month.`,
          `Nothing was restored. Load it beside the table instead: partkit archive restore ${shellQuote(options.table)} --month ${options.month} --from ${shellQuote(options.from)} --into SCHEMA.TABLE`,
          { cause: error },
        );
      }
      // The month, as the table's zone bounds it, overlaps a month attached under other bounds (a zone changed by hand, say).
      if (error instanceof StepFailedError && sqlState(error.cause) === '42P17' && bounds) {
        throw new ConflictError(
          `${options.month} of ${displayName(parent)} as its zone ${managed?.time_zone ?? ''} bounds it ([${bounds.lower}, ${bounds.upper})) overlaps a partition already attached (${(error.cause as Error).message}), so it cannot be attached as that month.`,
          `Nothing was restored. Load it beside the table instead: partkit archive restore ${shellQuote(options.table)} --month ${options.month} --from ${shellQuote(options.from)} --into SCHEMA.TABLE`,
          { cause: error },
        );
      }
      throw error;
    });
  return result;
}

/** The hold maintenance reads (archive_hold): the month stays attached past retention. */
function holdStep(kitSchema: string, parent: QualifiedName, month: string, group?: string): SqlStep {
  return sqlStep(
    `hold ${displayName(parent)} ${month} attached: maintenance does not archive it while ${kitSchema}.archive_hold has it`,
    `INSERT INTO ${quoteIdent(kitSchema)}.archive_hold (parent_schema, parent_table, month, reason) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    { params: [parent.schema, parent.name, month, 'partkit archive restore --attach --keep'], table: displayName(parent), ...(group ? { group } : {}) },
  );
}

function skipped(options: ArchiveRestoreOptions, manifest: ArchiveManifest, file: string, destination: QualifiedName, attached: boolean, rows: number): ArchiveRestoreResult {
  return {
    table: manifest.table,
    month: options.month,
    file,
    into: displayName(destination),
    action: 'skipped',
    attached,
    rows,
    sha256: manifest.sha256,
    dryRun: options.dryRun ?? false,
    plan: '',
    exitCode: ExitCode.ok,
  };
}

async function sameRelation(db: Database, regclassText: string, name: QualifiedName): Promise<boolean> {
  const [row] = await db.query<{ same: boolean }>('SELECT $1::regclass = to_regclass($2) AS same', [regclassText, quoteQualified(name)]);
  return row?.same ?? false;
}


export function renderArchiveRestore(result: ArchiveRestoreResult): string {
  if (result.action === 'skipped') return `archive restore: ${result.table} ${result.month} is already in ${result.into}${result.attached ? ' (attached)' : ''} with ${result.rows} rows; nothing to do`;
  const head = result.dryRun
    ? `archive restore (dry run: nothing changed): ${result.table} ${result.month} would be loaded from ${result.file} into ${result.into}${result.attached ? ' and attached' : ''}`
    : `archive restore: ${result.table} ${result.month}: ${result.rows} rows from ${result.file} in ${result.into}${result.attached ? ', attached' : ''}; rows and sha256 match the manifest`;
  // A dry run prints a script (stdout may go to psql): the summary as a comment, then the steps.
  return result.dryRun ? `${sqlComment(head)}\n${result.plan}` : head;
}
