/**
 * `partkit migrate fill <table>` (phase 2): copies the rows of the table into
 * `<table>_partitioned` in batches, in primary-key order, each batch its own transaction through
 * the executor. Resumable: it starts after the highest key already in the target (within
 * --from/--to when given), and ON CONFLICT DO NOTHING makes re-copying harmless.
 *
 * What fill does not see: rows updated or deleted in the table after it copied them, and rows
 * inserted behind its position. The first fill records its start time on the target (a marker
 * comment); `partkit migrate swap` copies, under its lock, every row whose control value is at or
 * after that time (minus a margin) before it renames. Updates and deletes are not carried over:
 * stop them, or accept that, for the duration of the migration.
 */
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { MissingCapabilityError, UsageError } from '../core/errors.js';
import { displayName, quoteIdent, quoteLiteral } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { addMonths, monthKey, monthStartLiteral, type Month } from '../core/partitions.js';
import { renderPlan, sqlStep, type SqlStep } from '../core/plan.js';
import { batchStatement, monthStartAs } from './copy.js';
import { inspectMigration, markerComment, primaryKey, readColumns, readIndexes, readMarker, type Column } from './inspect.js';

export interface FillOptions {
  readonly batchSize: number;
  readonly sleepMs: number;
  readonly from?: Month | undefined;
  readonly to?: Month | undefined;
  /** Start from the first key again (a full pass); when it completes, the catch-up window starts at this pass. */
  readonly rescan?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
}

export const FILL_LIMITATION =
  'Rows updated or deleted in the original after fill copied them are not carried over; rows inserted meanwhile are copied by `partkit migrate swap` (catch-up on the control column, under its lock).';

export interface FillResult {
  readonly table: string;
  /** The table as SQL writes it (quoted where needed): the form partkit's commands take. */
  readonly sqlName: string;
  readonly source: string;
  readonly target: string;
  readonly state: 'filled' | 'already swapped';
  readonly batches: number;
  readonly rowsRead: number;
  readonly rowsCopied: number;
  /** The key fill started after (null: from the first row). */
  readonly resumedAfter: readonly string[] | null;
  readonly lastKey: readonly string[] | null;
  readonly range: { readonly from: string; readonly to: string } | null;
  /** Where swap's catch-up will start (the marker on the target). */
  readonly catchUpFrom: string | null;
  readonly changes: number;
  readonly dryRun: boolean;
  readonly limitation: string;
  readonly sql?: string;
}

function keyColumns(columns: readonly Column[], names: readonly string[]): Column[] {
  return names.map((name) => columns.find((column) => column.name === name)!);
}

export async function fill(db: Database, config: Config, input: string, options: FillOptions): Promise<FillResult> {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new UsageError(`--batch-size ${options.batchSize} must be a positive whole number.`);
  if (!Number.isFinite(options.sleepMs) || options.sleepMs < 0) throw new UsageError(`--sleep ${options.sleepMs} must be 0 or more milliseconds.`);
  if ((options.from === undefined) !== (options.to === undefined)) throw new UsageError('Give both --from and --to (months, YYYY-MM), or neither.');
  if (options.from && options.to && options.from.year * 12 + options.from.month > options.to.year * 12 + options.to.month) {
    throw new UsageError(`--from ${monthKey(options.from)} is after --to ${monthKey(options.to)}.`, 'Swap them.');
  }
  if (options.rescan && options.from) throw new UsageError('--rescan is a full pass: give it without --from/--to.');
  if (!options.dryRun) await db.acquireRunLock();
  const inspection = await inspectMigration(db, config, input);
  const { names, settings } = inspection;
  const base = {
    table: `${names.table.schema}.${names.table.name}`,
    sqlName: displayName(names.table),
    source: `${names.table.schema}.${names.table.name}`,
    target: `${names.partitioned.schema}.${names.partitioned.name}`,
    range: options.from && options.to ? { from: monthKey(options.from), to: monthKey(options.to) } : null,
    dryRun: options.dryRun ?? false,
    limitation: FILL_LIMITATION,
  };
  if (inspection.state === 'swapped') {
    return { ...base, state: 'already swapped', batches: 0, rowsRead: 0, rowsCopied: 0, resumedAfter: null, lastKey: null, catchUpFrom: null, changes: 0 };
  }
  const source = inspection.table;
  const target = inspection.partitioned;
  if (inspection.state !== 'unswapped' || !source || !target || target.relkind !== 'p') {
    throw new MissingCapabilityError(
      `${base.target} does not exist as a partitioned table next to ${base.source} (nothing was changed).`,
      `Run \`${partkitCommand(['migrate', 'prep', base.sqlName])}\` first.`,
    );
  }
  const columns = await readColumns(db, source.oid);
  const pk = primaryKey(await readIndexes(db, source));
  if (!pk) throw new MissingCapabilityError(`${source.label} has no primary key; fill copies in primary-key order.`, 'Add a primary key, then run partkit migrate prep and fill again.');
  const key = keyColumns(columns, pk.keyNames);
  const controlType = source.control.type!;
  const control = { column: settings.controlColumn, type: controlType, zone: settings.timeZone };
  const range = options.from && options.to ? { from: monthStartLiteral(options.from), to: monthStartLiteral(addMonths(options.to, 1)) } : null;

  // Resume after the highest key already copied (within the range): fill copies in key order.
  // A whole-table fill resumes only once one has started (its marker exists); before that the
  // target may hold keys from --from/--to fills only, and it starts from the first key.
  const existingMarker = readMarker(target.comment);
  let after: string[] | null = null;
  if (!options.rescan && (range !== null || existingMarker !== undefined)) {
    const keyList = key.map((column) => quoteIdent(column.name));
    const params: unknown[] = [];
    let where = '';
    if (range) {
      const zone = controlType === 'timestamptz' ? `$3` : '';
      params.push(range.from, range.to);
      if (controlType === 'timestamptz') params.push(settings.timeZone);
      const column = quoteIdent(settings.controlColumn);
      where = ` WHERE ${column} >= ${monthStartAs(controlType, '$1', zone)} AND ${column} < ${monthStartAs(controlType, '$2', zone)}`;
    }
    const [row] = await db.query<{ key: string[] }>(
      `SELECT ARRAY[${keyList.map((k) => `${k}::text`).join(', ')}] AS key FROM ${target.quoted}${where} ORDER BY ${keyList.map((k) => `${k} DESC`).join(', ')} LIMIT 1`,
      params,
    );
    after = row?.key ?? null;
  }

  const [clock] = await db.query<{ now: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`);
  const startedAt = clock!.now;
  const markerStep = (since: string): SqlStep =>
    sqlStep(`record on ${names.partitioned.name} that rows written to ${names.table.name} from ${since} on are copied by the swap's catch-up`, `COMMENT ON TABLE ${target.quoted} IS ${quoteLiteral(markerComment(since))}`, {
      table: base.table,
    });
  // Only a fill of the whole table starts the catch-up window: a --from/--to fill leaves other months uncopied.
  const firstMarker = existingMarker === undefined && !options.rescan && !range ? markerStep(startedAt) : undefined;

  const statement = (position: string[] | null) => batchStatement({ source, target, columns, key, control, after: position, range, limit: options.batchSize });
  const batchStep = (position: string[] | null, number: number): SqlStep => {
    const { sql, params } = statement(position);
    return sqlStep(`copy batch ${number} of up to ${options.batchSize} rows from ${names.table.name} into ${names.partitioned.name}${position ? ` after key (${position.join(', ')})` : ''}`, sql, { params, table: base.table });
  };

  if (options.dryRun) {
    const steps = [...(firstMarker ? [firstMarker] : []), batchStep(after, 1)];
    const script = renderPlan({ steps }, { appDatabase: db.name, lockTimeout: db.lockTimeout });
    const sql = `${script}\n-- fill repeats the batch with the last key it read until a batch reads no rows.\n-- ${FILL_LIMITATION}\n`;
    return { ...base, state: 'filled', batches: 0, rowsRead: 0, rowsCopied: 0, resumedAfter: after, lastKey: after, catchUpFrom: existingMarker ?? (firstMarker || options.rescan ? startedAt : null), changes: steps.length, sql };
  }

  if (firstMarker) await db.applyPlan({ steps: [firstMarker] });
  db.log.info(`fill ${base.source} -> ${base.target}: ${after ? `resuming after key (${after.join(', ')})` : 'from the first key'}, batches of ${options.batchSize}, ~${source.estimatedRows} rows in the table`);
  let position = after;
  let batches = 0;
  let rowsRead = 0;
  let rowsCopied = 0;
  for (;;) {
    const [result] = await db.applyPlan({ steps: [batchStep(position, batches + 1)] });
    const row = result!.rows[0] as { read: string; copied: string; last_key: string[] | null };
    const read = Number(row.read);
    batches += 1;
    rowsRead += read;
    rowsCopied += Number(row.copied);
    if (read > 0) {
      position = row.last_key;
      db.log.info(`  batch ${batches}: read ${read}, copied ${row.copied} (total copied ${rowsCopied}, read ${rowsRead} of ~${source.estimatedRows})`);
    }
    if (read < options.batchSize) break;
    if (options.sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, options.sleepMs));
  }
  // A full pass from the first key has copied everything written before it started.
  let catchUpFrom = existingMarker ?? (firstMarker ? startedAt : null);
  if (options.rescan) {
    await db.applyPlan({ steps: [markerStep(startedAt)] });
    catchUpFrom = startedAt;
  }
  db.log.info(`fill done: ${rowsCopied} row(s) copied in ${batches} batch(es). ${FILL_LIMITATION}`);
  return { ...base, state: 'filled', batches, rowsRead, rowsCopied, resumedAfter: after, lastKey: position, catchUpFrom, changes: rowsCopied, dryRun: false };
}

export function renderFill(result: FillResult): string {
  if (result.sql !== undefined) return result.sql;
  if (result.state === 'already swapped') return `${result.table} is already swapped: nothing to fill (the original is ${result.table}_retired).`;
  const lines = [
    `${result.source} -> ${result.target}: copied ${result.rowsCopied} row(s) in ${result.batches} batch(es)${result.range ? ` (months ${result.range.from} to ${result.range.to})` : ''}${result.resumedAfter ? `, resumed after key (${result.resumedAfter.join(', ')})` : ''}`,
    result.catchUpFrom
      ? `  swap's catch-up will copy rows whose control column is at or after ${result.catchUpFrom} (minus 1 hour)`
      : '  this was a --from/--to fill: run a fill without them before the swap (the swap needs a fill of the whole table)',
    `  note: ${result.limitation}`,
    `next: ${partkitCommand(['migrate', 'swap', result.sqlName])}`,
  ];
  return lines.join('\n');
}
