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
import { MissingCapabilityError, sqlState, UsageError } from '../core/errors.js';
import { displayName } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { addMonths, monthKey, monthStartLiteral, type Month } from '../core/partitions.js';
import { renderPlan, sqlStep, type Plan, type SqlStep } from '../core/plan.js';
import { run, underRunLock } from '../core/runner.js';
import { captureKey, captureName, drain, replaySteps, requireCapture, stateStep, type FillState } from './capture.js';
import { batchStatement, blockBatchStatement, boundaryStatement } from './copy.js';
import { inspectMigration, primaryKey, readColumns, readIndexes, type Column } from './inspect.js';

export interface FillOptions {
  readonly batchSize: number;
  readonly sleepMs: number;
  readonly from?: Month | undefined;
  readonly to?: Month | undefined;
  /** Start from the first key again (a full pass); when it completes, the catch-up window starts at this pass. */
  readonly rescan?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
  /** Receives each copied batch; without it, each batch is one info line of the logger. */
  readonly onBatch?: ((event: FillBatchEvent) => void) | undefined;
}

/** One copied batch of a fill, as the CLI shows it (a bar, a JSON line) and the API's onEvent receives it. */
export interface FillBatchEvent {
  readonly type: 'fill-batch';
  readonly batch: number;
  /** Rows this batch copied, and all batches of this run so far. */
  readonly copied: number;
  readonly total: number;
  /** Captured keys replayed so far by this run. */
  readonly replayed: number;
  readonly batchMs: number;
  readonly rowsPerSecond: number;
  /** 0 to 1: how much of the table has been read. */
  readonly fraction: number;
  readonly etaSeconds: number | null;
}

/** The plain line of a batch (the CLI's output when stderr is neither a terminal nor --json). */
export function fillBatchLine(event: FillBatchEvent): string {
  return `  batch ${event.batch}: copied ${event.copied} in ${event.batchMs} ms (total copied ${event.total}, ${event.rowsPerSecond} rows/s, ETA ${event.etaSeconds ?? '?'} s; replayed ${event.replayed} captured key(s))`;
}

/** A batch transaction aims at this long (and stays under a second): the block count adapts to it. */
export const BATCH_TARGET_MS = 400;

export const FILL_GUARANTEE =
  'Every insert, update and delete made to the original since prep is captured and replayed from the original\'s current state (by fill after each batch, and by swap).';

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
  /** The heap block a block-range fill resumed at (null: it started at block 0, or fill went by key). */
  readonly resumedAtBlock: number | null;
  readonly lastKey: readonly string[] | null;
  readonly range: { readonly from: string; readonly to: string } | null;
  /** Captured keys replayed by this run. */
  readonly replayed: number;
  /** The longest batch transaction of this run (ms, client clock; 0 when no batch ran). */
  readonly longestBatchMs: number;
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
  return underRunLock(db, options, () => fillLocked(db, config, input, options));
}

async function fillLocked(db: Database, config: Config, input: string, options: FillOptions): Promise<FillResult> {
  const inspection = await inspectMigration(db, config, input);
  const { names, settings } = inspection;
  const base = {
    table: displayName(names.table),
    sqlName: displayName(names.table),
    source: displayName(names.table),
    target: displayName(names.partitioned),
    range: options.from && options.to ? { from: monthKey(options.from), to: monthKey(options.to) } : null,
    dryRun: options.dryRun ?? false,
    guarantee: FILL_GUARANTEE,
  };
  if (inspection.state === 'swapped') {
    return { ...base, state: 'already swapped', batches: 0, rowsRead: 0, rowsCopied: 0, resumedAfter: null, resumedAtBlock: null, lastKey: null, replayed: 0, longestBatchMs: 0, complete: true, changes: 0 };
  }
  const source = inspection.table;
  const target = inspection.partitioned;
  if (inspection.state !== 'unswapped' || !source || !target || target.relkind !== 'p') {
    throw new MissingCapabilityError(
      `${base.target} does not exist as a partitioned table next to ${base.source} (nothing was changed).`,
      `Run \`${partkitCommand(['migrate', 'prep', base.sqlName])}\` first.`,
    );
  }
  const capture = captureName(names);
  const saved = await requireCapture(db, capture, names.table);
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
  const replay = { capture, key: await captureKey(db, capture, columns), columns, live: source, copy: target, group: `migrate replay ${base.table}`, table: base.table };

  const batchStep = (position: readonly string[] | null, upTo: readonly string[] | null, number: number): SqlStep => {
    const { sql, params } = batchStatement({ source, target, columns, key, control, after: position, upTo, range });
    return sqlStep(`copy batch ${number} from ${names.table.name} into ${names.partitioned.name}${position ? ` after key (${position.join(', ')})` : ''}${upTo ? ` through (${upTo.join(', ')})` : ' to the end'}`, sql, { params, table: base.table, group });
  };

  const [server] = await db.query<{ version: number; blocks: string; per_block: number }>(
    `SELECT current_setting('server_version_num')::int AS version,
            pg_relation_size($1::oid) / current_setting('block_size')::int AS blocks,
            CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 50 END AS per_block
       FROM pg_class c WHERE c.oid = $1::oid`,
    [source.oid],
  );
  // Contiguous block ranges (TID Range Scan) on PG 14+, for a whole-table fill; key ranges otherwise.
  const byBlocks = whole && (server?.version ?? 0) >= 140000 && state.after === null;

  if (options.dryRun) {
    // Every batch, as the loops below will run them on the table as it is now: the same boundary
    // reads pick the keys. The block loop below adapts its batch size to the time a batch takes,
    // so its ranges can differ from these; its statements have this form.
    const plan = await dryRunFill(db, {
      byBlocks,
      blocks: Number(server?.blocks ?? 0),
      perBlock: server?.per_block ?? 50,
      state,
      whole,
      capture,
      group,
      replay,
      batchStep,
      options,
      base: base.table,
      blockStep: (from, to, end, number) => {
        const { sql, params } = blockBatchStatement({ source, target, columns, from, to, onConflict: false });
        return sqlStep(`copy batch ${number}: heap blocks ${from} to ${to - 1} of ${end} of ${names.table.name} into ${names.partitioned.name}`, sql, { params, table: base.table, group });
      },
      boundary: (position) => boundaryStatement({ source, key, control, after: position, range, limit: options.batchSize }),
    });
    const script = renderPlan(plan, { appDatabase: db.name, lockTimeout: db.lockTimeout });
    const sql = `${script}\n-- After each batch fill replays the keys captured since (the replay steps above), and at the end until the capture is empty.\n-- ${FILL_GUARANTEE}\n`;
    return { ...base, state: 'filled', batches: 0, rowsRead: 0, rowsCopied: 0, resumedAfter: after, resumedAtBlock: null, lastKey: after, replayed: 0, longestBatchMs: 0, complete: state.done, changes: plan.steps.length, sql };
  }
  const progress = new Progress(source.estimatedRows, options.onBatch ?? ((event) => db.log.info(fillBatchLine(event))));
  db.log.info(`fill ${base.source} -> ${base.target}: ${state.done ? 'the whole table was copied already; replaying captured changes' : byBlocks ? `heap blocks ${state.block ?? 0} to ${state.end ?? server!.blocks}` : after ? `resuming after key (${after.join(', ')})` : 'from the first key'}, ~${source.estimatedRows} rows in the table`);
  let batches = 0;
  let rowsRead = 0;
  let rowsCopied = 0;
  let replayed = 0;
  let longestBatchMs = 0;
  let position = after;
  const resumedAtBlock = byBlocks && !state.done && (state.block ?? 0) > 0 ? state.block! : null;
  if (byBlocks && !state.done) {
    const end = state.end ?? Number(server!.blocks);
    let block = state.block ?? 0;
    const initial = Math.max(1, Math.ceil(options.batchSize / Math.max(server!.per_block, 1)));
    let blocks = initial;
    let conflictBatches = 0;
    while (block < end) {
      const to = Math.min(block + blocks, end);
      const next: FillState = { after: null, block: to, end, done: to >= end, rowsCopied: state.rowsCopied, rowsPerSecond: progress.rate(rowsCopied) };
      const started = Date.now();
      const attempt = (onConflict: boolean) => {
        const { sql, params } = blockBatchStatement({ source, target, columns, from: block, to, onConflict });
        const steps = [sqlStep(`copy batch ${batches + 1}: heap blocks ${block} to ${to - 1} of ${end} of ${names.table.name} into ${names.partitioned.name}`, sql, { params, table: base.table, group }), stateStep(capture, next, group, base.table)];
        return run(db, { steps }, { dryRun: false }).then((outcome) => outcome.results);
      };
      // A plain INSERT is cheaper than ON CONFLICT DO NOTHING; a key the replay has already put in
      // the copy makes it fail (unique violation), and then the batch runs again with ON CONFLICT,
      // as do the next few (a writer is busy).
      let results;
      if (conflictBatches > 0) {
        conflictBatches -= 1;
        results = await attempt(true);
      } else {
        try {
          results = await attempt(false);
        } catch (error) {
          if (sqlState((error as Error).cause) !== '23505') throw error;
          conflictBatches = 8;
          results = await attempt(true);
        }
      }
      const elapsed = Date.now() - started;
      longestBatchMs = Math.max(longestBatchMs, elapsed);
      const copied = Number((results[0]!.rows[0] as { copied: string }).copied);
      batches += 1;
      rowsCopied += copied;
      rowsRead += copied;
      state = { ...next, rowsCopied: state.rowsCopied + copied };
      block = to;
      replayed += await drain(db, { ...replay, batch: options.batchSize, maxRounds: 1 });
      progress.batch(batches, copied, rowsCopied, replayed, elapsed, block / end);
      // Keep each batch transaction well under a second, whatever the row width.
      if (elapsed > BATCH_TARGET_MS * 1.5) blocks = Math.max(1, Math.floor((blocks * BATCH_TARGET_MS) / elapsed));
      else if (elapsed < BATCH_TARGET_MS / 2) blocks = Math.min(blocks * 2, initial * 16);
      if (options.sleepMs > 0 && block < end) await db.pause(options.sleepMs);
    }
    // The state written with each batch counts the rows before it: write the final count.
    state = { ...state, done: true };
    if (batches > 0 || !saved.done) await run(db, { steps: [stateStep(capture, state, group, base.table)] }, { dryRun: false });
  }
  while (!state.done) {
    const boundary = boundaryStatement({ source, key, control, after: position, range, limit: options.batchSize });
    const [edge] = await db.query<{ key: string[] }>(boundary.sql, boundary.params);
    const upTo = edge?.key ?? null;
    const next: FillState = { after: upTo, done: upTo === null, rowsCopied: state.rowsCopied, rowsPerSecond: progress.rate(rowsCopied) };
    const steps = [batchStep(position, upTo, batches + 1)];
    const started = Date.now();
    const { results } = await run(db, { steps: whole ? [...steps, stateStep(capture, next, group, base.table)] : steps }, { dryRun: false });
    const elapsed = Date.now() - started;
    longestBatchMs = Math.max(longestBatchMs, elapsed);
    const copied = Number((results[0]!.rows[0] as { copied: string }).copied);
    batches += 1;
    rowsCopied += copied;
    rowsRead += upTo ? options.batchSize : copied;
    state = { ...next, rowsCopied: state.rowsCopied + copied };
    if (whole && state.done) await run(db, { steps: [stateStep(capture, state, group, base.table)] }, { dryRun: false });
    position = upTo ?? position;
    replayed += await drain(db, { ...replay, batch: options.batchSize, maxRounds: 1 });
    progress.batch(batches, copied, rowsCopied, replayed, elapsed, null);
    if (!whole && upTo === null) break;
    if (options.sleepMs > 0 && upTo !== null) await db.pause(options.sleepMs);
  }
  replayed += await drain(db, { ...replay, batch: Math.max(options.batchSize, 1000), maxRounds: 20 });
  db.log.info(`fill done: ${rowsCopied} row(s) copied in ${batches} batch(es), ${replayed} captured key(s) replayed.`);
  return { ...base, state: 'filled', batches, rowsRead, rowsCopied, resumedAfter: after, resumedAtBlock, lastKey: position, replayed, longestBatchMs, complete: whole ? state.done : saved.done, changes: rowsCopied + replayed, dryRun: false };
}

/** The steps of a whole fill, batch by batch, for --dry-run (reads only). */
async function dryRunFill(
  db: Database,
  input: {
    readonly byBlocks: boolean;
    readonly blocks: number;
    readonly perBlock: number;
    readonly state: FillState;
    readonly whole: boolean;
    readonly capture: Parameters<typeof stateStep>[0];
    readonly group: string;
    readonly base: string;
    readonly replay: Omit<Parameters<typeof replaySteps>[0], 'limit' | 'isolated'>;
    readonly options: FillOptions;
    readonly batchStep: (position: readonly string[] | null, upTo: readonly string[] | null, number: number) => SqlStep;
    readonly blockStep: (from: number, to: number, end: number, number: number) => SqlStep;
    readonly boundary: (position: readonly string[] | null) => { sql: string; params: readonly unknown[] };
  },
): Promise<Plan> {
  const { options, whole, capture, group, base } = input;
  // Each replay is a transaction of its own, as the loops run them: a group per replay keeps them apart in one plan.
  let replays = 0;
  const replay = (limit = options.batchSize) => replaySteps({ ...input.replay, group: `${input.replay.group} (${(replays += 1)})`, limit, isolated: true });
  const steps: SqlStep[] = [];
  let state = input.state;
  let number = 0;
  if (input.byBlocks && !state.done) {
    const end = state.end ?? input.blocks;
    const size = Math.max(1, Math.ceil(options.batchSize / Math.max(input.perBlock, 1)));
    for (let block = state.block ?? 0; block < end; block += size) {
      const to = Math.min(block + size, end);
      number += 1;
      steps.push(input.blockStep(block, to, end, number), stateStep(capture, { after: null, block: to, end, done: to >= end, rowsCopied: state.rowsCopied }, group, base), ...replay());
    }
    state = { ...state, done: true };
    steps.push(stateStep(capture, state, group, base));
  }
  let position = state.after;
  while (!state.done) {
    const boundary = input.boundary(position);
    const [edge] = await db.query<{ key: string[] }>(boundary.sql, boundary.params);
    const upTo = edge?.key ?? null;
    number += 1;
    state = { after: upTo, done: upTo === null, rowsCopied: state.rowsCopied };
    steps.push(input.batchStep(position, upTo, number), ...(whole ? [stateStep(capture, state, group, base)] : []), ...replay());
    position = upTo ?? position;
    if (!whole && upTo === null) break;
  }
  steps.push(...replay(Math.max(options.batchSize, 1000)));
  return { steps };
}

/** Progress of a fill: rates and the ETA of each batch, handed to `report`. */
class Progress {
  private readonly started = Date.now();
  constructor(
    private readonly estimated: number,
    private readonly report: (event: FillBatchEvent) => void,
  ) {}

  /** Rows per second since the start (null before anything was copied). */
  rate(total: number): number | null {
    return total > 0 ? Math.round(total / Math.max((Date.now() - this.started) / 1000, 0.001)) : null;
  }

  batch(number: number, copied: number, total: number, replayed: number, elapsedMs: number, fraction: number | null): void {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const done = fraction ?? (this.estimated > 0 ? Math.min(total / this.estimated, 1) : 0);
    this.report({
      type: 'fill-batch',
      batch: number,
      copied,
      total,
      replayed,
      batchMs: elapsedMs,
      rowsPerSecond: Math.round(total / seconds),
      fraction: Math.round(done * 1000) / 1000,
      etaSeconds: done > 0 ? Math.round((seconds * (1 - done)) / done) : null,
    });
  }
}

export function renderFill(result: FillResult): string {
  if (result.sql !== undefined) return result.sql;
  if (result.state === 'already swapped') return `${result.table} is already swapped: nothing to fill (the original is ${result.table}_retired).`;
  const lines = [
    `${result.source} -> ${result.target}: copied ${result.rowsCopied} row(s) in ${result.batches} batch(es)${result.range ? ` (months ${result.range.from} to ${result.range.to})` : ''}${result.resumedAfter ? `, resumed after key (${result.resumedAfter.join(', ')})` : ''}${result.resumedAtBlock !== null ? `, resumed at heap block ${result.resumedAtBlock}` : ''}${result.batches > 0 ? `, longest batch ${result.longestBatchMs} ms` : ''}; replayed ${result.replayed} captured key(s)`,
    result.complete ? '  the whole table has been copied: swap may run' : '  the whole table has not been copied yet: run a fill without --from/--to before the swap',
    `  ${result.guarantee}`,
    `next: ${partkitCommand(['migrate', 'swap', result.sqlName])}`,
  ];
  return lines.join('\n');
}
