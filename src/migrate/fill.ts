/**
 * `partkit migrate fill <table>` (phase 2): copies the rows of the table into
 * `<table>_partitioned` in batches (heap-block ranges on PG 14+, else in primary-key order), each
 * batch its own transaction, and replays the keys captured since prep (see capture.ts) after each
 * batch and at the end. The batches are the rounds of one phase of the runner (runPhases in
 * src/core/runner.ts): each round reads the recorded progress (and the next boundary key) afresh
 * and is planned from it; the final replays are drainPhase's rounds. Resumable: the progress is
 * recorded with each batch (in the capture table's comment), and ON CONFLICT DO NOTHING makes
 * re-copying harmless.
 *
 * Why replay and not a trigger that writes into the copy: a fill batch reads the original with its
 * own snapshot; a row a writer deletes after that snapshot would be re-inserted by the batch after
 * the trigger deleted it. The capture keeps the key, and the replay that follows the batch removes it.
 */
import type { Config } from '../core/config.js';
import type { Database, StepRows } from '../core/db.js';
import { MissingCapabilityError, sqlState, UsageError } from '../core/errors.js';
import { displayName, type QualifiedName } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { addMonths, monthKey, monthStartLiteral, type ControlType, type Month } from '../core/partitions.js';
import { sqlStep, type Plan, type SqlStep } from '../core/plan.js';
import { runPhases, underRunLock, type Phase } from '../core/runner.js';
import { captureKey, captureName, drainPhase, readCapture, replayedIn, replaySteps, requireCapture, stateStep, type FillState, type ReplayOptions } from './capture.js';
import { batchStatement, blockBatchStatement, boundaryStatement } from './copy.js';
import { inspectMigration, primaryKey, readColumns, readIndexes, type Column, type MigrationNames, type Relation } from './inspect.js';

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
  const inspection = await inspectMigration(db, config, input, 'fill');
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
  const start: FillState = whole && !options.rescan ? saved : { after: null, done: false, rowsCopied: 0 };
  const group = `migrate fill ${base.table}`;
  const replay = { capture, key: await captureKey(db, capture, columns), columns, live: source, copy: target, group: `migrate replay ${base.table}`, table: base.table };

  const [server] = await db.query<{ version: number; blocks: string; per_block: number }>(
    `SELECT current_setting('server_version_num')::int AS version,
            pg_relation_size($1::oid) / current_setting('block_size')::int AS blocks,
            CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 50 END AS per_block
       FROM pg_class c WHERE c.oid = $1::oid`,
    [source.oid],
  );
  // Contiguous block ranges (TID Range Scan) on PG 14+, for a whole-table fill; key ranges otherwise.
  const byBlocks = whole && (server?.version ?? 0) >= 140000 && start.after === null;
  const progress = new Progress(source.estimatedRows, options.onBatch ?? ((event) => db.log.info(fillBatchLine(event))));
  const tally: FillTally = { batches: 0, rowsRead: 0, rowsCopied: 0, replayed: 0, longestBatchMs: 0 };
  const fillInput: FillInput = { names, source, target, columns, key, control, range, whole, start, capture, group, replay, options, tally, progress, blocks: Number(server?.blocks ?? 0), perBlock: server?.per_block ?? 50 };
  const copy = byBlocks ? blockPhase(fillInput) : keyPhase(fillInput);
  const drain = drainPhase({ ...replay, batch: Math.max(options.batchSize, 1000), maxRounds: 20 });
  db.log.info(`fill ${base.source} -> ${base.target}: ${start.done ? 'the whole table was copied already; replaying captured changes' : byBlocks ? `heap blocks ${start.block ?? 0} to ${start.end ?? server!.blocks}` : start.after ? `resuming after key (${start.after.join(', ')})` : 'from the first key'}, ~${source.estimatedRows} rows in the table`);
  const outcome = await runPhases(db, [copy, drain], { dryRun: options.dryRun ?? false });
  const resumedAtBlock = byBlocks && !start.done && (start.block ?? 0) > 0 ? start.block! : null;
  const complete = whole ? copy.last?.done ?? start.done : saved.done;
  if (outcome.dryRun) {
    const sql = `${outcome.sql}\n-- ${FILL_GUARANTEE}\n`;
    return { ...base, state: 'filled', batches: 0, rowsRead: 0, rowsCopied: 0, resumedAfter: start.after, resumedAtBlock: null, lastKey: start.after, replayed: 0, longestBatchMs: 0, complete, changes: 0, sql };
  }
  const replayed = tally.replayed + drain.replayed;
  db.log.info(`fill done: ${tally.rowsCopied} row(s) copied in ${tally.batches} batch(es), ${replayed} captured key(s) replayed.`);
  return { ...base, state: 'filled', batches: tally.batches, rowsRead: tally.rowsRead, rowsCopied: tally.rowsCopied, resumedAfter: start.after, resumedAtBlock, lastKey: copy.position ?? start.after, replayed, longestBatchMs: tally.longestBatchMs, complete, changes: tally.rowsCopied + replayed, dryRun: false };
}

/**
 * ANALYZE of the partitioned copy (its parent and every month), in the round that copies the last
 * rows of a whole-table fill: the copy's statistics are empty until autovacuum gets to its months
 * (and never for the partitioned parent), so plans right after the swap would be guesses.
 */
function analyzeStep(target: Relation, group: string, table: string): SqlStep {
  return sqlStep(`analyze ${target.label} and its months, so that the first plans after the swap have statistics`, `ANALYZE ${target.quoted}`, { group: `${group} (analyze)`, table });
}

/** What this run of fill has done so far, for its result and its progress events. */
interface FillTally {
  batches: number;
  rowsRead: number;
  rowsCopied: number;
  /** Keys replayed after the batches (the final drain counts its own). */
  replayed: number;
  longestBatchMs: number;
}

interface FillInput {
  readonly names: MigrationNames;
  readonly source: Relation;
  readonly target: Relation;
  readonly columns: readonly Column[];
  readonly key: readonly Column[];
  readonly control: { readonly column: string; readonly type: ControlType; readonly zone: string };
  readonly range: { readonly from: string; readonly to: string } | null;
  readonly whole: boolean;
  /** The fill state this run starts from (the recorded one, or a fresh start: --rescan, --from/--to). */
  readonly start: FillState;
  readonly capture: QualifiedName;
  readonly group: string;
  readonly replay: ReplayOptions;
  readonly options: FillOptions;
  readonly tally: FillTally;
  readonly progress: Progress;
  /** The table's heap blocks when the fill started, and rows per block (estimated). */
  readonly blocks: number;
  readonly perBlock: number;
}

/** Id of a batch's step (its row: copied). */
const FILL_BATCH_STEP = 'fill-batch';

/** A round of the copy: a batch (with its progress record and a replay), or the final progress record. */
interface CopyRound extends Plan {
  readonly batch: { readonly to?: number; readonly upTo?: readonly string[] | null; readonly onConflict?: boolean } | null;
}

/** The copy phase of a fill; `last` is the fill state it last read, `position` the last key a key fill copied through. */
interface CopyPhase<State> extends Phase<State, CopyRound> {
  readonly last: FillState | undefined;
  readonly position?: readonly string[] | null;
}

/** The recorded fill state, except before the first batch of a --rescan (which starts again). */
async function readFillState(db: Database, input: FillInput, fresh: boolean): Promise<FillState> {
  return fresh ? input.start : (await readCapture(db, input.capture)).state;
}

/** The final progress record: the count written with each batch is the rows before it. */
function finalRecord(input: FillInput, state: FillState, lastCopied: number): CopyRound {
  return { steps: [stateStep(input.capture, { ...state, done: true, rowsCopied: state.rowsCopied + lastCopied }, input.group, displayName(input.names.table))], batch: null };
}

/** A batch round's replay of up to --batch-size captured keys (a transaction of its own). */
function batchReplay(input: FillInput): SqlStep[] {
  return replaySteps({ ...input.replay, limit: input.options.batchSize, isolated: true });
}

/**
 * Whole-table fill by heap-block ranges (PG 14+): each round copies the next range and records the
 * block it reached, then replays captured keys. The range adapts so that a batch takes about
 * BATCH_TARGET_MS. A plain INSERT is cheaper than ON CONFLICT DO NOTHING; a key the replay has
 * already put in the copy makes it fail (unique violation), and then the round is planned again
 * with ON CONFLICT, as are the next few (a writer is busy).
 */
function blockPhase(input: FillInput): CopyPhase<{ readonly fill: FillState; readonly rate: number | null }> {
  const { names, source, target, columns, capture, group, options, tally, progress } = input;
  const table = displayName(names.table);
  const initial = Math.max(1, Math.ceil(options.batchSize / Math.max(input.perBlock, 1)));
  let blocks = initial;
  let conflictBatches = 0;
  let fresh = options.rescan ?? false;
  let lastCopied = 0;
  let finalPending = false;
  let last: FillState | undefined;
  return {
    description: `copy ${source.label} into ${target.label} by heap blocks`,
    get last() {
      return last;
    },
    async read(db) {
      last = await readFillState(db, input, fresh);
      return { fill: last, rate: progress.rate(tally.rowsCopied) };
    },
    plan({ fill, rate }) {
      const end = fill.end ?? input.blocks;
      const block = fill.block ?? 0;
      if (fill.done || block >= end) return !fill.done || finalPending ? finalRecord(input, fill, lastCopied) : null;
      const to = Math.min(block + blocks, end);
      const onConflict = conflictBatches > 0;
      const { sql, params } = blockBatchStatement({ source, target, columns, from: block, to, onConflict });
      const next: FillState = { after: null, block: to, end, done: to >= end, rowsCopied: fill.rowsCopied + lastCopied, rowsPerSecond: rate };
      return {
        steps: [
          sqlStep(`copy batch ${tally.batches + 1}: heap blocks ${block} to ${to - 1} of ${end} of ${names.table.name} into ${names.partitioned.name}`, sql, { params, table, group, id: FILL_BATCH_STEP }),
          stateStep(capture, next, group, table),
          ...batchReplay(input),
          ...(next.done ? [analyzeStep(target, group, table)] : []),
        ],
        batch: { to, onConflict },
      };
    },
    later({ fill }) {
      const end = fill.end ?? input.blocks;
      if (fill.done || (fill.block ?? 0) + blocks >= end) return null;
      return `batches of the next heap blocks up to block ${end} (${blocks} block(s) each at first, then as many as take about ${BATCH_TARGET_MS} ms), each recording its progress and followed by a replay of up to ${options.batchSize} captured keys; the last one analyzes ${target.label}, then the final count is recorded`;
    },
    replan(error) {
      if (sqlState((error as Error).cause) !== '23505') return false;
      conflictBatches = 9;
      return true;
    },
    applied(results, unitMs, round) {
      const elapsed = unitMs[0] ?? 0;
      fresh = false;
      if (round.batch === null) {
        finalPending = false;
        return;
      }
      if (round.batch.onConflict) conflictBatches -= 1;
      const copied = tallyBatch(tally, results, elapsed);
      lastCopied = copied;
      finalPending = true;
      const end = last?.end ?? input.blocks;
      progress.batch(tally.batches, copied, tally.rowsCopied, tally.replayed, elapsed, round.batch.to! / end);
      // Keep each batch transaction well under a second, whatever the row width.
      if (elapsed > BATCH_TARGET_MS * 1.5) blocks = Math.max(1, Math.floor((blocks * BATCH_TARGET_MS) / elapsed));
      else if (elapsed < BATCH_TARGET_MS / 2) blocks = Math.min(blocks * 2, initial * 16);
    },
    pauseMs: options.sleepMs,
  };
}

/**
 * Fill in primary-key order: a whole-table fill on PG 13 and older (or one that started so), or a
 * --from/--to pass. Each round reads the key --batch-size rows on (the batch's inclusive end; none:
 * the last batch), copies through it, and replays captured keys; a whole-table fill records the
 * key it reached with each batch, a range pass keeps it in memory (it starts again each time).
 */
function keyPhase(input: FillInput): CopyPhase<{ readonly fill: FillState; readonly upTo: readonly string[] | null; readonly rate: number | null }> {
  const { names, source, target, columns, key, control, range, whole, capture, group, options, tally, progress } = input;
  const table = displayName(names.table);
  let fresh = whole && (options.rescan ?? false);
  // A range pass: where it is, and whether its last batch ran.
  let passed: FillState = input.start;
  let lastCopied = 0;
  let finalPending = false;
  let last: FillState | undefined;
  let position = input.start.after;
  return {
    description: `copy ${source.label} into ${target.label} in key order`,
    get last() {
      return last;
    },
    get position() {
      return position;
    },
    async read(db) {
      last = whole ? await readFillState(db, input, fresh) : passed;
      if (last.done) return { fill: last, upTo: null, rate: null };
      const boundary = boundaryStatement({ source, key, control, after: last.after, range, limit: options.batchSize });
      const [edge] = await db.query<{ key: string[] }>(boundary.sql, boundary.params);
      return { fill: last, upTo: edge?.key ?? null, rate: progress.rate(tally.rowsCopied) };
    },
    plan({ fill, upTo, rate }) {
      if (fill.done) return whole && finalPending ? finalRecord(input, fill, lastCopied) : null;
      const { sql, params } = batchStatement({ source, target, columns, key, control, after: fill.after, upTo, range });
      const next: FillState = { after: upTo, done: upTo === null, rowsCopied: fill.rowsCopied + lastCopied, rowsPerSecond: rate };
      const description = `copy batch ${tally.batches + 1} from ${names.table.name} into ${names.partitioned.name}${fill.after ? ` after key (${fill.after.join(', ')})` : ''}${upTo ? ` through (${upTo.join(', ')})` : ' to the end'}`;
      return {
        steps: [
          sqlStep(description, sql, { params, table, group, id: FILL_BATCH_STEP }),
          ...(whole ? [stateStep(capture, next, group, table)] : []),
          ...batchReplay(input),
          ...(whole && next.done ? [analyzeStep(target, group, table)] : []),
        ],
        batch: { upTo },
      };
    },
    later({ fill, upTo }) {
      if (fill.done || upTo === null) return null;
      return `batches of ${options.batchSize} rows in key order after key (${upTo.join(', ')}), through the ${range ? "range's" : "table's"} last key, each ${whole ? 'recording its progress and ' : ''}followed by a replay of up to ${options.batchSize} captured keys${whole ? `; the last one analyzes ${target.label}, then the final count is recorded` : ''}`;
    },
    applied(results, unitMs, round) {
      const elapsed = unitMs[0] ?? 0;
      fresh = false;
      if (round.batch === null) {
        finalPending = false;
        return;
      }
      const upTo = round.batch.upTo ?? null;
      // A batch that ends at a key read batchSize rows; the last one read what it copied.
      const copied = tallyBatch(tally, results, elapsed, upTo ? options.batchSize : undefined);
      lastCopied = copied;
      finalPending = upTo === null;
      position = upTo ?? position;
      passed = { after: upTo ?? passed.after, done: upTo === null, rowsCopied: 0 };
      progress.batch(tally.batches, copied, tally.rowsCopied, tally.replayed, elapsed, null);
    },
    pauseMs: options.sleepMs,
  };
}

/** Adds a batch's figures to the fill's tally (rows read: `rowsRead`, else the rows copied); returns the rows it copied. */
function tallyBatch(tally: FillTally, results: readonly StepRows[], elapsedMs: number, rowsRead?: number): number {
  const copied = copiedIn(results);
  tally.batches += 1;
  tally.rowsCopied += copied;
  tally.rowsRead += rowsRead ?? copied;
  tally.longestBatchMs = Math.max(tally.longestBatchMs, elapsedMs);
  tally.replayed += replayedIn(results);
  return copied;
}

function copiedIn(results: readonly StepRows[]): number {
  return Number((results.find((r) => r.step.id === FILL_BATCH_STEP)?.rows[0] as { copied?: string } | undefined)?.copied ?? 0);
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
