/**
 * `partkit migrate fill <table>` (phase 2): copies the rows of the table into
 * `<table>_partitioned` in batches, in primary-key order, each batch its own transaction through
 * the executor, and replays the keys captured since prep (see capture.ts) after each batch and at
 * the end. Resumable: the last key copied is recorded with each batch (in the capture table's
 * comment), and ON CONFLICT DO NOTHING makes re-copying harmless.
 *
 * Why replay and not a trigger that writes into the copy: a fill batch reads the original with its
 * own snapshot; a row a writer deletes after that snapshot would be re-inserted by the batch after
 * the trigger deleted it. The capture keeps the key, and the replay that follows the batch removes it.
 */
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { MissingCapabilityError, UsageError } from '../core/errors.js';
import { addMonths, monthKey, monthStartLiteral, type Month } from '../core/partitions.js';
import { renderPlan, sqlStep, type SqlStep } from '../core/plan.js';
import { captureName, drain, replaySteps, requireCapture, stateStep, type FillState } from './capture.js';
import { batchStatement, boundaryStatement } from './copy.js';
import { inspectMigration, primaryKey, readColumns, readIndexes, type Column } from './inspect.js';

export interface FillOptions {
  readonly batchSize: number;
  readonly sleepMs: number;
  readonly from?: Month | undefined;
  readonly to?: Month | undefined;
  /** Start from the first key again (a full pass); when it completes, the catch-up window starts at this pass. */
  readonly rescan?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
}

export const FILL_GUARANTEE =
  'Every insert, update and delete made to the original since prep is captured and replayed from the original\'s current state (by fill after each batch, and by swap).';

export interface FillResult {
  readonly table: string;
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
  /** Captured keys replayed by this run. */
  readonly replayed: number;
  /** True once a fill of the whole table has read past the last key (swap requires it). */
  readonly complete: boolean;
  readonly changes: number;
  readonly dryRun: boolean;
  readonly guarantee: string;
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
    source: `${names.table.schema}.${names.table.name}`,
    target: `${names.partitioned.schema}.${names.partitioned.name}`,
    range: options.from && options.to ? { from: monthKey(options.from), to: monthKey(options.to) } : null,
    dryRun: options.dryRun ?? false,
    guarantee: FILL_GUARANTEE,
  };
  if (inspection.state === 'swapped') {
    return { ...base, state: 'already swapped', batches: 0, rowsRead: 0, rowsCopied: 0, resumedAfter: null, lastKey: null, replayed: 0, complete: true, changes: 0 };
  }
  const source = inspection.table;
  const target = inspection.partitioned;
  if (inspection.state !== 'unswapped' || !source || !target || target.relkind !== 'p') {
    throw new MissingCapabilityError(
      `${base.target} does not exist as a partitioned table next to ${base.source} (nothing was changed).`,
      `Run \`partkit migrate prep ${base.table}\` first.`,
    );
  }
  const capture = captureName(names);
  const saved = await requireCapture(db, capture, base.table);
  const columns = await readColumns(db, source.oid);
  const pk = primaryKey(await readIndexes(db, source));
  if (!pk) throw new MissingCapabilityError(`${source.label} has no primary key; fill copies in primary-key order.`, 'Add a primary key, then run partkit migrate prep and fill again.');
  const key = keyColumns(columns, pk.keyNames);
  const control = { column: settings.controlColumn, type: source.control.type!, zone: settings.timeZone };
  const range = options.from && options.to ? { from: monthStartLiteral(options.from), to: monthStartLiteral(addMonths(options.to, 1)) } : null;

  // A whole-table fill resumes after the last key it recorded; a --from/--to pass starts at the
  // range's first key each time and records nothing (re-copying is harmless).
  const whole = range === null;
  let state: FillState = whole ? (options.rescan ? { after: null, done: false, rowsCopied: 0 } : saved) : { after: null, done: false, rowsCopied: 0 };
  const after = state.after;
  const group = `migrate fill ${base.table}`;
  const replay = { capture, key, columns, live: source, copy: target, group: `migrate replay ${base.table}`, table: base.table };

  const batchStep = (position: readonly string[] | null, upTo: readonly string[] | null, number: number): SqlStep => {
    const { sql, params } = batchStatement({ source, target, columns, key, control, after: position, upTo, range });
    return sqlStep(`copy batch ${number} from ${names.table.name} into ${names.partitioned.name}${position ? ` after key (${position.join(', ')})` : ''}${upTo ? ` through (${upTo.join(', ')})` : ' to the end'}`, sql, { params, table: base.table, group });
  };

  if (options.dryRun) {
    const steps = [batchStep(after, null, 1), ...(whole ? [stateStep(capture, { ...state, done: true }, group, base.table)] : []), ...replaySteps({ ...replay, limit: options.batchSize, isolated: true })];
    const script = renderPlan({ steps }, { appDatabase: db.name, lockTimeout: db.lockTimeout });
    const sql = `${script}\n-- fill runs the copy in batches of ${options.batchSize} keys (each ending at the key ${options.batchSize} rows on), each followed by a replay of the captured keys, until the last key.\n-- ${FILL_GUARANTEE}\n`;
    return { ...base, state: 'filled', batches: 0, rowsRead: 0, rowsCopied: 0, resumedAfter: after, lastKey: after, replayed: 0, complete: state.done, changes: steps.length, sql };
  }

  db.log.info(`fill ${base.source} -> ${base.target}: ${state.done ? 'the whole table was copied already; replaying captured changes' : after ? `resuming after key (${after.join(', ')})` : 'from the first key'}, batches of ${options.batchSize}, ~${source.estimatedRows} rows in the table`);
  let batches = 0;
  let rowsRead = 0;
  let rowsCopied = 0;
  let replayed = 0;
  let position = after;
  const started = Date.now();
  while (!state.done) {
    const boundary = boundaryStatement({ source, key, control, after: position, range, limit: options.batchSize });
    const [edge] = await db.query<{ key: string[] }>(boundary.sql, boundary.params);
    const upTo = edge?.key ?? null;
    const next: FillState = { after: upTo, done: upTo === null, rowsCopied: state.rowsCopied };
    const steps = [batchStep(position, upTo, batches + 1)];
    const results = await db.applyPlan({ steps: whole ? [...steps, stateStep(capture, next, group, base.table)] : steps });
    const copied = Number((results[0]!.rows[0] as { copied: string }).copied);
    batches += 1;
    rowsCopied += copied;
    rowsRead += upTo ? options.batchSize : copied;
    state = { ...next, rowsCopied: state.rowsCopied + copied };
    if (whole && state.done) await db.applyPlan({ steps: [stateStep(capture, state, group, base.table)] });
    position = upTo ?? position;
    replayed += await drain(db, { ...replay, batch: options.batchSize, maxRounds: 1 });
    const rate = Math.round(rowsCopied / Math.max((Date.now() - started) / 1000, 0.001));
    db.log.info(`  batch ${batches}: copied ${copied} (total copied ${rowsCopied} of ~${source.estimatedRows}, ${rate} rows/s; replayed ${replayed} captured key(s))`);
    if (!whole && upTo === null) break;
    if (options.sleepMs > 0 && upTo !== null) await new Promise((resolve) => setTimeout(resolve, options.sleepMs));
  }
  replayed += await drain(db, { ...replay, batch: Math.max(options.batchSize, 1000), maxRounds: 20 });
  db.log.info(`fill done: ${rowsCopied} row(s) copied in ${batches} batch(es), ${replayed} captured key(s) replayed.`);
  return { ...base, state: 'filled', batches, rowsRead, rowsCopied, resumedAfter: after, lastKey: position, replayed, complete: whole ? state.done : saved.done, changes: rowsCopied + replayed, dryRun: false };
}

export function renderFill(result: FillResult): string {
  if (result.sql !== undefined) return result.sql;
  if (result.state === 'already swapped') return `${result.table} is already swapped: nothing to fill (the original is ${result.table}_retired).`;
  const lines = [
    `${result.source} -> ${result.target}: copied ${result.rowsCopied} row(s) in ${result.batches} batch(es)${result.range ? ` (months ${result.range.from} to ${result.range.to})` : ''}${result.resumedAfter ? `, resumed after key (${result.resumedAfter.join(', ')})` : ''}; replayed ${result.replayed} captured key(s)`,
    result.complete ? '  the whole table has been copied: swap may run' : '  the whole table has not been copied yet: run a fill without --from/--to before the swap',
    `  ${result.guarantee}`,
    `next: partkit migrate swap ${result.table}`,
  ];
  return lines.join('\n');
}
