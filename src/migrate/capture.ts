/**
 * Change capture for `partkit migrate`. From `prep` until `drop`, statement triggers on the live
 * table record the primary key of every row an INSERT, UPDATE or DELETE touches (old and new key of
 * an update, so an update that moves the control column to another month is recorded too) in
 * `<table>_capture`. Before the swap the live table is the original and the copy is
 * `<table>_partitioned`; after it the live table is the partitioned one and the copy is
 * `<table>_retired` (so that `unswap` loses nothing).
 *
 * Replay is the only way a change reaches the copy: for each recorded key, delete the key in the
 * copy, then insert the live table's current row for it, if there is one. It reads the live table's
 * current state, never the old or new row of the change, so it is correct whatever order the fill's
 * batches, the writers and the replays interleave in: the last replay of a key after the last change
 * of that key leaves the copy equal to the live table for that key. A replay runs in one
 * REPEATABLE READ transaction: the capture rows it consumes and the live rows it copies come from the
 * same snapshot, so a change committed after the snapshot stays in the capture for the next replay.
 *
 * Fill progress (the last key copied, and whether the whole table has been copied) lives in the
 * comment of the capture table, written in the same transaction as each batch.
 *
 * On Citus the capture follows the live table's kind. A local live table has a local capture table
 * and statement triggers, as on one server. A distributed one (after the swap of a migration into
 * a distributed table) has a capture table distributed by the same column and co-located with it,
 * and row triggers, which Citus runs on each shard: a row and the record of its change are on the
 * same worker and commit together. The recorded key then includes the distribution column, so that
 * a replay reads a key's capture and live rows on one worker, in one snapshot.
 */
import type { Database, StepRows } from '../core/db.js';
import { MissingCapabilityError } from '../core/errors.js';
import { displayName, quoteIdent, quoteLiteral, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import type { Phase } from '../core/runner.js';
import { fromClause, insertColumns } from './copy.js';
import { checkDerivedName, type Column, type MigrationNames, type Relation } from './inspect.js';

/** Trigger names on the live table (one per event: transition tables allow one event per trigger). */
export const CAPTURE_TRIGGERS = { INSERT: 'partkit_capture_insert', UPDATE: 'partkit_capture_update', DELETE: 'partkit_capture_delete', TRUNCATE: 'partkit_capture_truncate' } as const;

/** `<table>_capture`: the capture table and its trigger function (relations and functions do not share names). */
export function captureName(names: MigrationNames): QualifiedName {
  const name = { schema: names.table.schema, name: `${names.table.name}_capture` };
  checkDerivedName(name.name, 'The capture table\'s name');
  return name;
}

export interface FillState {
  /** The last key the whole-table fill copied (text of each key column), null before the first batch. */
  readonly after: readonly string[] | null;
  /** TID-range fill (PG 14+): the next heap block to copy, and the block count when the fill started. */
  readonly block?: number | null;
  readonly end?: number | null;
  /** True once the whole-table fill has read past the last key. */
  readonly done: boolean;
  readonly rowsCopied: number;
  /** The fill's speed so far (for `migrate status`'s ETA). */
  readonly rowsPerSecond?: number | null;
}

const STATE_PREFIX = 'partkit migrate capture: ';

/** Id of the replay step that returns `replayed`, the number of keys a replay took. */
export const REPLAYED_STEP = 'replay-removed';

export function stateComment(state: FillState): string {
  return `${STATE_PREFIX}${JSON.stringify(state)}`;
}

export function readState(comment: string | null): FillState {
  if (comment?.startsWith(STATE_PREFIX)) {
    try {
      const parsed = JSON.parse(comment.slice(STATE_PREFIX.length)) as Partial<FillState>;
      return { after: parsed.after ?? null, block: parsed.block ?? null, end: parsed.end ?? null, done: parsed.done ?? false, rowsCopied: parsed.rowsCopied ?? 0, rowsPerSecond: parsed.rowsPerSecond ?? null };
    } catch {
      // fall through: an unreadable state is a fill that has not started
    }
  }
  return { after: null, done: false, rowsCopied: 0 };
}

export function stateStep(capture: QualifiedName, state: FillState, group: string, table: string): SqlStep {
  return sqlStep(`record fill progress on ${capture.name}${state.done ? ' (whole table copied)' : ''}`, `COMMENT ON TABLE ${quoteQualified(capture)} IS ${quoteLiteral(stateComment(state))}`, { group, table });
}

/**
 * Citus: a transaction that creates or drops triggers on a distributed table must say so first
 * (Citus refuses them otherwise), and runs its multi-shard DDL over one connection per worker.
 */
export function citusTriggerSettingSteps(group: string, table: string): SqlStep[] {
  return [
    sqlStep('Citus: allow the capture triggers on the distributed table (they run on each shard and write to the co-located capture shard)', 'SET LOCAL citus.enable_unsafe_triggers = on', { group, table }),
    citusSequentialStep(group, table),
  ];
}

/** Citus: a transaction that distributes a table after other DDL runs its multi-shard commands over one connection per worker. */
export function citusSequentialStep(group: string, table: string): SqlStep {
  return sqlStep('Citus: run this transaction\'s multi-shard commands over one connection per worker', "SET LOCAL citus.multi_shard_modify_mode = 'sequential'", { group, table });
}

export interface CaptureOptions {
  readonly capture: QualifiedName;
  /** The key columns recorded: the primary key, plus the distribution column on Citus. */
  readonly key: readonly Column[];
  /** The live table, quoted. */
  readonly live: string;
  /**
   * The live table's Citus distribution column, or null for a local live table. A distributed
   * live table gets a capture table distributed by the same column and co-located with it, and
   * row triggers: each shard records its changes in the capture shard on the same worker, in the
   * same transaction. A local one gets a local capture table and statement triggers.
   */
  readonly distributedBy: string | null;
  readonly state: FillState;
  readonly group: string;
  readonly table: string;
}

/** The capture table, its trigger function, and the triggers on `live`. */
export function createCaptureSteps(options: CaptureOptions): SqlStep[] {
  const { capture, key, live, distributedBy, group, table } = options;
  const cap = quoteQualified(capture);
  const keys = key.map((column) => quoteIdent(column.name)).join(', ');
  const definitions = key.map((column) => `${quoteIdent(column.name)} ${column.type} NOT NULL`).join(', ');
  const step = (description: string, sql: string, extra: Partial<SqlStep> = {}) => sqlStep(description, sql, { group, table, ...extra });
  const steps = [
    step(
      `capture table ${capture.name}: the key of every row changed in ${table} from now on, in order`,
      `CREATE TABLE ${cap} (seq bigint GENERATED ALWAYS AS IDENTITY, ${definitions}, PRIMARY KEY (seq${distributedBy === null ? '' : `, ${quoteIdent(distributedBy)}`}))`,
    ),
    step(`key index on ${capture.name} (replay deletes by key)`, `CREATE INDEX ON ${cap} (${keys})`),
  ];
  if (distributedBy !== null) {
    steps.push(
      step(`distribute ${capture.name} by ${distributedBy}, co-located with ${table}: each change is recorded on the worker that holds the row`, 'SELECT create_distributed_table($1, $2, colocate_with => $3)', {
        params: [cap, distributedBy, live],
      }),
    );
  }
  steps.push(
    stateStep(capture, options.state, group, table),
    step(
      `trigger function ${capture.name}() that records the keys (SECURITY DEFINER: the application's role needs no grant on the capture table)`,
      `CREATE FUNCTION ${cap}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ${dollarQuote(distributedBy === null ? statementBody(cap, keys) : rowBody(cap, key))}`,
    ),
    ...captureTriggerSteps(capture, live, group, table, distributedBy !== null),
  );
  return steps;
}

const REFUSE_TRUNCATE = `
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'partkit migrate is capturing changes of %; TRUNCATE is not captured: finish or undo the migration first', TG_TABLE_NAME;
  END IF;`;

/** Statement triggers: the keys of the statement's transition tables. */
function statementBody(cap: string, keys: string): string {
  return `
BEGIN${REFUSE_TRUNCATE}
  IF TG_OP = 'UPDATE' THEN
    -- Old and new key: the same key once, a changed key twice (both must be replayed).
    INSERT INTO ${cap} (${keys}) SELECT ${keys} FROM old_rows UNION SELECT ${keys} FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO ${cap} (${keys}) SELECT ${keys} FROM old_rows;
  ELSE
    INSERT INTO ${cap} (${keys}) SELECT ${keys} FROM new_rows;
  END IF;
  RETURN NULL;
END`;
}

/** Row triggers (Citus runs them on the shards, where transition tables are not available): the row's key. */
function rowBody(cap: string, key: readonly Column[]): string {
  const keys = key.map((column) => quoteIdent(column.name)).join(', ');
  const of = (record: 'NEW' | 'OLD') => key.map((column) => `${record}.${quoteIdent(column.name)}`).join(', ');
  return `
BEGIN${REFUSE_TRUNCATE}
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ${cap} (${keys}) VALUES (${of('NEW')});
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO ${cap} (${keys}) VALUES (${of('OLD')});
  ELSE
    -- Old and new key: the same key once, a changed key twice (both must be replayed).
    INSERT INTO ${cap} (${keys}) VALUES (${of('OLD')});
    IF (${of('NEW')}) IS DISTINCT FROM (${of('OLD')}) THEN
      INSERT INTO ${cap} (${keys}) VALUES (${of('NEW')});
    END IF;
  END IF;
  RETURN NULL;
END`;
}

function dollarQuote(body: string): string {
  let tag = '$partkit$';
  while (body.includes(tag)) tag = `$partkit${Math.floor(Math.random() * 1e6)}$`;
  return `${tag}${body}${tag}`;
}

/** The capture triggers on the live table: statement triggers with transition tables, or row triggers on Citus. */
export function captureTriggerSteps(capture: QualifiedName, live: string, group: string, table: string, rowLevel = false): SqlStep[] {
  const fn = `${quoteQualified(capture)}()`;
  const step = (description: string, sql: string) => sqlStep(description, sql, { group, table });
  if (rowLevel) {
    return [
      step(`capture inserts into ${live} (a row trigger on every shard)`, `CREATE TRIGGER ${CAPTURE_TRIGGERS.INSERT} AFTER INSERT ON ${live} FOR EACH ROW EXECUTE FUNCTION ${fn}`),
      step(`capture updates of ${live} (old and new key; a row trigger on every shard)`, `CREATE TRIGGER ${CAPTURE_TRIGGERS.UPDATE} AFTER UPDATE ON ${live} FOR EACH ROW EXECUTE FUNCTION ${fn}`),
      step(`capture deletes from ${live} (a row trigger on every shard)`, `CREATE TRIGGER ${CAPTURE_TRIGGERS.DELETE} AFTER DELETE ON ${live} FOR EACH ROW EXECUTE FUNCTION ${fn}`),
      step(`refuse TRUNCATE of ${live} while capturing`, `CREATE TRIGGER ${CAPTURE_TRIGGERS.TRUNCATE} BEFORE TRUNCATE ON ${live} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`),
    ];
  }
  return [
    step(`capture inserts into ${live}`, `CREATE TRIGGER ${CAPTURE_TRIGGERS.INSERT} AFTER INSERT ON ${live} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`),
    step(`capture updates of ${live} (old and new key)`, `CREATE TRIGGER ${CAPTURE_TRIGGERS.UPDATE} AFTER UPDATE ON ${live} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`),
    step(`capture deletes from ${live}`, `CREATE TRIGGER ${CAPTURE_TRIGGERS.DELETE} AFTER DELETE ON ${live} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`),
    step(`refuse TRUNCATE of ${live} while capturing`, `CREATE TRIGGER ${CAPTURE_TRIGGERS.TRUNCATE} BEFORE TRUNCATE ON ${live} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`),
  ];
}

export function dropCaptureTriggerSteps(live: string, group: string, table: string): SqlStep[] {
  return Object.values(CAPTURE_TRIGGERS).map((name) => sqlStep(`stop capturing on ${live} (${name})`, `DROP TRIGGER IF EXISTS ${name} ON ${live}`, { group, table }));
}

export function dropCaptureSteps(capture: QualifiedName, group: string, table: string): SqlStep[] {
  const cap = quoteQualified(capture);
  return [
    sqlStep(`drop the capture table ${capture.name}`, `DROP TABLE IF EXISTS ${cap}`, { group, table }),
    sqlStep(`drop the capture function ${capture.name}()`, `DROP FUNCTION IF EXISTS ${cap}()`, { group, table }),
  ];
}

/** The capture triggers (CAPTURE_TRIGGERS) that are on the table `oid` now. */
export async function readCaptureTriggers(db: Database, oid: number): Promise<string[]> {
  const rows = await db.query<{ name: string }>('SELECT tgname::text AS name FROM pg_trigger WHERE tgrelid = $1::oid AND tgname = ANY ($2::text[]) ORDER BY 1', [oid, Object.values(CAPTURE_TRIGGERS)]);
  return rows.map((row) => row.name);
}

/** Whether the capture table exists, and its fill state. */
export async function readCapture(db: Database, capture: QualifiedName): Promise<{ exists: boolean; state: FillState }> {
  const [row] = await db.query<{ exists: boolean; comment: string | null }>(
    `SELECT to_regclass($1) IS NOT NULL AS exists, obj_description(to_regclass($1), 'pg_class') AS comment`,
    [quoteQualified(capture)],
  );
  return { exists: row?.exists ?? false, state: readState(row?.comment ?? null) };
}

export async function requireCapture(db: Database, capture: QualifiedName, table: QualifiedName): Promise<FillState> {
  const found = await readCapture(db, capture);
  if (!found.exists) {
    const name = displayName(table);
    throw new MissingCapabilityError(
      `${displayName(capture)} does not exist: changes to ${name} are not being captured (nothing was changed).`,
      `Run \`${partkitCommand(['migrate', 'prep', name])}\` (it creates the capture), then \`${partkitCommand(['migrate', 'fill', name, '--rescan'])}\`.`,
    );
  }
  return found.state;
}

/**
 * The key columns the capture records (its columns but seq), as columns of `columns`: the primary
 * key, plus the distribution column when the migration is to a Citus distributed table.
 */
export async function captureKey(db: Database, capture: QualifiedName, columns: readonly Column[]): Promise<Column[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT attname::text AS name FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attname <> 'seq' ORDER BY attnum`,
    [quoteQualified(capture)],
  );
  return rows.map((row) => {
    const column = columns.find((c) => c.name === row.name);
    if (!column) throw new MissingCapabilityError(`${displayName(capture)} records column ${row.name}, which the table does not have (nothing was changed).`, 'The capture was made for another table: undo the migration and run prep again.');
    return column;
  });
}

/** Keys waiting in the capture table. */
export async function backlog(db: Database, capture: QualifiedName): Promise<number> {
  const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(capture)}`);
  return Number(row?.n ?? 0);
}

/**
 * The statements of one replay: up to `limit` capture rows (all of them when null), oldest first.
 * With `isolated` the group starts with REPEATABLE READ (see the file comment); under the swap's
 * ACCESS EXCLUSIVE lock nothing else writes, and it is not needed. The last step returns `replayed`.
 */
export function replaySteps(options: {
  readonly capture: QualifiedName;
  readonly key: readonly Column[];
  readonly columns: readonly Column[];
  readonly live: Relation;
  readonly copy: Relation;
  readonly limit: number | null;
  readonly isolated: boolean;
  readonly group: string;
  readonly table: string;
}): SqlStep[] {
  const cap = quoteQualified(options.capture);
  const keys = options.key.map((column) => quoteIdent(column.name));
  const keyList = keys.join(', ');
  const upTo = options.limit === null ? 'true' : `seq <= (SELECT max(seq) FROM (SELECT seq FROM ${cap} ORDER BY seq LIMIT ${Math.trunc(options.limit)}) AS oldest)`;
  const columns = insertColumns(options.columns);
  const step = (description: string, sql: string) => sqlStep(description, sql, { group: options.group, table: options.table });
  const steps: SqlStep[] = [];
  if (options.isolated) steps.push(step('replay in one snapshot (REPEATABLE READ)', 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ'));
  if (options.live.distributedBy !== null) {
    // Citus: each worker's snapshot is taken by the first statement that reaches it. With one
    // connection per worker, the capture rows and the live rows of a key (co-located, on one
    // worker) are read in the same snapshot, as on one server.
    steps.push(step('Citus: one connection per worker, so that the replay reads each worker in one snapshot', 'SET LOCAL citus.max_adaptive_executor_pool_size = 1'));
  }
  steps.push(
    step(
      `replay: delete the captured keys from ${options.copy.label}`,
      // The keys are read first (a materialized CTE): Citus can then delete from a local copy by the keys of a distributed capture.
      `WITH k AS MATERIALIZED (SELECT DISTINCT ${keyList} FROM ${cap} WHERE ${upTo}) DELETE FROM ${fromClause(options.copy)} AS c USING k WHERE (${keys.map((k) => `c.${k}`).join(', ')}) = (${keys.map((k) => `k.${k}`).join(', ')})`,
    ),
    step(
      `replay: insert the current rows of ${options.live.label} for those keys`,
      `INSERT INTO ${options.copy.quoted} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM ${fromClause(options.live)} WHERE (${keyList}) IN (SELECT ${keyList} FROM ${cap} WHERE ${upTo})`,
    ),
    sqlStep(`replay: remove the replayed keys from ${options.capture.name}`, `WITH done AS (DELETE FROM ${cap} WHERE ${upTo} RETURNING 1) SELECT count(*)::bigint AS replayed FROM done`, {
      group: options.group,
      table: options.table,
      id: REPLAYED_STEP,
    }),
  );
  return steps;
}

/** The keys a replay took (its REPLAYED_STEP's row), from the rows of the round that ran it. */
export function replayedIn(results: readonly StepRows[]): number {
  return Number((results.find((r) => r.step.id === REPLAYED_STEP)?.rows[0] as { replayed?: string } | undefined)?.replayed ?? 0);
}

export type ReplayOptions = Omit<Parameters<typeof replaySteps>[0], 'limit' | 'isolated'>;

/** A drain (drainPhase): `replayed` counts the keys its rounds took. */
export interface DrainPhase extends Phase<{ readonly backlog: number | null }> {
  readonly replayed: number;
}

/**
 * Replays of `batch` keys, each a transaction of its own, until a round takes fewer and the
 * backlog is at most `until` (0: empty); the first round always runs. The backlog is counted only
 * when it can end the drain (after a round that took fewer than `batch`), and before the first.
 */
export function drainPhase(options: ReplayOptions & { readonly batch: number; readonly until?: number; readonly maxRounds?: number }): DrainPhase {
  const until = options.until ?? 0;
  let replayed = 0;
  let last: number | null = null;
  return {
    description: `replay the keys captured in ${options.capture.name} into ${options.copy.label}`,
    ...(options.maxRounds !== undefined ? { maxRounds: options.maxRounds } : {}),
    get replayed() {
      return replayed;
    },
    async read(db) {
      return { backlog: last !== null && last >= options.batch ? null : await backlog(db, options.capture) };
    },
    plan(state, round) {
      if (round > 0 && last !== null && last < options.batch && state.backlog !== null && state.backlog <= until) return null;
      return { steps: replaySteps({ ...options, limit: options.batch, isolated: true }) };
    },
    later(state) {
      if (options.maxRounds === 1) return null;
      const most = options.maxRounds !== undefined ? `, at most ${options.maxRounds} round(s)` : '';
      return `rounds like the first, of up to ${options.batch} keys each, until one takes fewer and at most ${until} are left (${state.backlog ?? '?'} waiting now${most})`;
    },
    applied(results) {
      last = replayedIn(results);
      replayed += last;
    },
  };
}
