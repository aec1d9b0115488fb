/**
 * `partkit migrate swap <table>` (phase 3) and its undo twin `unswap`: one exchange, in either
 * direction, of the live table and its copy.
 *
 * Before the lock: replay the captured keys in a loop until only a few are left (capture.ts).
 * Then one transaction under --lock-timeout (the executor retries lock errors; a give-up rolls back,
 * nothing changed): lock both tables, replay the last keys, move the capture triggers to the table
 * that becomes live (so the copy keeps following it until `drop`, and an unswap loses nothing),
 * rename, enable the user's triggers on the new live table and disable them on the other, recreate
 * the views that read the table so that they read the new one (CREATE OR REPLACE keeps their owner,
 * grants and options), hand over sequences (pitfall 10), keep the table comment. It measures how
 * long it held the lock.
 */
import type { Config } from '../core/config.js';
import { DEFAULT_EXECUTOR_OPTIONS, type Database, type StepRows } from '../core/db.js';
import { ConflictError, MissingCapabilityError } from '../core/errors.js';
import { displayName, quoteIdent, quoteLiteral, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { runPhases, underRunLock, type Phase } from '../core/runner.js';
import { captureKey, captureName, captureTriggerSteps, citusTriggerSettingSteps, createCaptureSteps, drainPhase, dropCaptureSteps, dropCaptureTriggerSteps, replayedIn, replaySteps, requireCapture, type FillState } from './capture.js';
import { checkDerivedName, foreignKeyConsequences, inspectMigration, primaryKey, readColumns, readIndexes, readViews, type Column, type MigrationInspection, type Index, type Relation, type View } from './inspect.js';
import { readUserTriggers } from './prep.js';

export interface SwapResult {
  readonly table: string;
  /** The table as SQL writes it (quoted where needed): the form partkit's commands take. */
  readonly sqlName: string;
  readonly direction: 'swap' | 'unswap';
  readonly state: 'swapped' | 'unswapped' | 'already swapped' | 'not swapped';
  /** Captured keys replayed before the lock. */
  readonly drained: number;
  /** Captured keys replayed under the lock. */
  readonly caughtUp: number;
  /** How long the transaction held its ACCESS EXCLUSIVE lock (ms, server clock), null when nothing ran. */
  readonly lockHeldMs: number | null;
  readonly views: readonly string[];
  readonly triggers: readonly string[];
  /** Foreign keys dropped (--foreign-keys drop), with the DDL that recreates them (also saved in <table>_foreign_keys). */
  readonly foreignKeys: readonly { readonly name: string; readonly definition: string; readonly recreate: string }[];
  readonly sequences: readonly string[];
  readonly warnings: readonly string[];
  readonly steps: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly sql?: string;
}

/**
 * How long writers may wait behind the swap's ACCESS EXCLUSIVE lock request in one attempt (the
 * executor retries, then gives up with the transaction rolled back): the same short wait as every
 * other step's (it was 2 s of its own while the general default was 5 s).
 */
export const SWAP_LOCK_TIMEOUT = DEFAULT_EXECUTOR_OPTIONS.lockTimeout;

/** Keys left for the locked replay: the drain before the lock stops at this backlog. */
export const LOCKED_REPLAY_TARGET = 200;

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

/** Id of the step that returns how long the swap held its lock. */
const LOCK_HELD_STEP = 'lock-held';

function commentStep(relation: string, comment: string | null, description: string, group: string, table: string): SqlStep {
  return sqlStep(description, `COMMENT ON TABLE ${relation} IS ${comment === null ? 'NULL' : quoteLiteral(comment)}`, { group, table });
}

/**
 * Sequence steps after the renames: serial sequences move to the table that becomes live (so
 * dropping the other one keeps them), identity sequences of the live table go past every value.
 */
function sequenceSteps(options: {
  readonly liveName: QualifiedName;
  readonly liveColumns: readonly Column[];
  readonly otherName: QualifiedName;
  readonly otherColumns: readonly Column[];
  readonly group: string;
  readonly table: string;
}): { steps: SqlStep[]; notes: string[] } {
  const steps: SqlStep[] = [];
  const notes: string[] = [];
  const live = quoteQualified(options.liveName);
  const other = quoteQualified(options.otherName);
  for (const column of options.liveColumns) {
    const twin = options.otherColumns.find((c) => c.name === column.name);
    const col = quoteIdent(column.name);
    // A serial column's sequence is owned by one of the two tables; the live one must own it.
    const serial = column.sequence?.dependency === 'a' ? column.sequence : twin?.sequence?.dependency === 'a' ? twin.sequence : null;
    if (serial) {
      steps.push(sqlStep(`sequence ${serial.name.name} owned by ${options.liveName.name}.${column.name} (dropping ${options.otherName.name} keeps it)`, `ALTER SEQUENCE ${quoteQualified(serial.name)} OWNED BY ${live}.${col}`, { group: options.group, table: options.table }));
      notes.push(`sequence ${serial.name.schema}.${serial.name.name} now owned by ${options.liveName.name}.${column.name}`);
    }
    const sequence = column.sequence?.dependency === 'i' ? column.sequence : serial;
    if (!sequence || !INTEGER_TYPES.has(column.type)) continue;
    const otherSequence = twin?.sequence && twin.sequence.name.name !== sequence.name.name ? twin.sequence : null;
    const candidates = [`(SELECT max(${col})::bigint FROM ${live})`, `(SELECT max(${col})::bigint FROM ${other})`, `(SELECT CASE WHEN is_called THEN last_value END FROM ${quoteQualified(sequence.name)})`];
    if (otherSequence) candidates.push(`(SELECT CASE WHEN is_called THEN last_value END FROM ${quoteQualified(otherSequence.name)})`);
    steps.push(
      sqlStep(
        `sequence ${sequence.name.name} of ${options.liveName.name}.${column.name} set past the highest value in both tables`,
        `SELECT setval(${quoteLiteral(quoteQualified(sequence.name))}::regclass, v) FROM (SELECT greatest(${candidates.join(', ')}) AS v) AS highest WHERE v IS NOT NULL`,
        { group: options.group, table: options.table },
      ),
    );
    notes.push(`sequence ${sequence.name.schema}.${sequence.name.name} (${options.liveName.name}.${column.name}) set past the highest value`);
  }
  return { steps, notes };
}

interface Exchange {
  readonly direction: 'swap' | 'unswap';
  readonly inspection: MigrationInspection;
  /** The table live now, and its name after the exchange. */
  readonly live: Relation;
  readonly liveAfter: QualifiedName;
  /** The copy that becomes live (renamed to the table's name). */
  readonly copy: Relation;
  readonly foreignKeys: 'refuse' | 'drop';
}

interface IncomingForeignKey {
  readonly name: string;
  readonly referencing: string;
  readonly columns: string[];
  readonly definition: string;
}

async function readIncomingForeignKeys(db: Database, oid: number): Promise<IncomingForeignKey[]> {
  return db.query<IncomingForeignKey>(
    `SELECT con.conname::text AS name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS referencing,
            (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
            pg_get_constraintdef(con.oid) AS definition
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE con.contype = 'f' AND con.confrelid = $1::oid AND con.conrelid <> $1::oid
      ORDER BY 2, 1`,
    [oid],
  );
}

/**
 * The DDL that recreates a dropped foreign key against the new primary key (key + control column):
 * the referencing table needs its own copy of the control column, filled from the parent.
 */
function recreateForeignKey(fk: IncomingForeignKey, parent: string, key: readonly string[], control: string, controlType: string): string {
  const column = `${fk.columns.join('_')}_${control}`;
  // MATCH FULL: under the default MATCH SIMPLE a row whose new column is NULL would not be checked at all.
  const tail = ['MATCH FULL', (/REFERENCES\s.*?\)(.*)$/s.exec(fk.definition)?.[1] ?? '').replace(/\bMATCH (SIMPLE|FULL|PARTIAL)\b/i, '').trim()].filter(Boolean).join(' ');
  const join = fk.columns.map((c, i) => `p.${quoteIdent(key[i] ?? c)} = r.${quoteIdent(c)}`).join(' AND ');
  return [
    `ALTER TABLE ${fk.referencing} ADD COLUMN IF NOT EXISTS ${quoteIdent(column)} ${controlType};`,
    `UPDATE ${fk.referencing} AS r SET ${quoteIdent(column)} = p.${quoteIdent(control)} FROM ${parent} AS p WHERE ${join};`,
    `ALTER TABLE ${fk.referencing} ADD CONSTRAINT ${quoteIdent(fk.name)} FOREIGN KEY (${[...fk.columns, column].map(quoteIdent).join(', ')}) REFERENCES ${parent} (${[...key, control].map(quoteIdent).join(', ')})${tail ? ` ${tail}` : ''};`,
  ].join('\n');
}

/** What the exchange is planned from, read in one go (readExchange). */
interface ExchangeFacts {
  readonly state: FillState;
  readonly liveColumns: readonly Column[];
  readonly copyColumns: readonly Column[];
  readonly pk: Index | undefined;
  readonly key: readonly Column[];
  readonly incoming: readonly IncomingForeignKey[];
  readonly liveTriggers: readonly { readonly name: string; readonly enabled: string }[];
  readonly copyTriggers: ReadonlySet<string>;
  readonly views: readonly View[];
}

async function readExchange(db: Database, exchange: Exchange): Promise<ExchangeFacts> {
  const { live, copy, direction } = exchange;
  const capture = captureName(exchange.inspection.names);
  const state = await requireCapture(db, capture, exchange.inspection.names.table);
  const liveColumns = await readColumns(db, live.oid);
  return {
    state,
    liveColumns,
    copyColumns: await readColumns(db, copy.oid),
    pk: primaryKey(await readIndexes(db, direction === 'swap' ? live : copy)),
    key: await captureKey(db, capture, liveColumns),
    incoming: await readIncomingForeignKeys(db, live.oid),
    liveTriggers: await readUserTriggers(db, live.oid),
    copyTriggers: new Set((await readUserTriggers(db, copy.oid)).map((t) => t.name)),
    views: await readViews(db, live.oid),
  };
}

/** The exchange's transaction, planned from the facts read (no reads): what the result reports comes with it. */
interface ExchangePlan {
  readonly steps: SqlStep[];
  readonly views: string[];
  readonly triggers: string[];
  readonly foreignKeys: { name: string; definition: string; recreate: string }[];
  readonly sequences: string[];
  readonly warnings: string[];
}

/** Plans the exchange, or refuses it (before anything changed: swap plans it once before its drain). */
function planExchange(config: Config, exchange: Exchange, facts: ExchangeFacts): ExchangePlan {
  const { inspection, live, copy, liveAfter, direction } = exchange;
  const { names } = inspection;
  const { state, liveColumns, copyColumns, pk, key, incoming } = facts;
  const label = displayName(names.table);
  const capture = captureName(names);
  if (direction === 'swap' && !state.done) {
    throw new MissingCapabilityError(`The fill of ${label} has not copied the whole table yet (nothing was changed).`, `Run \`${partkitCommand(['migrate', 'fill', displayName(names.table)])}\` (it resumes), then swap.`);
  }
  const pkSource = direction === 'swap' ? live : copy;
  if (!pk) throw new MissingCapabilityError(`${pkSource.label} has no primary key (nothing was changed).`);
  if (incoming.length > 0 && (exchange.foreignKeys !== 'drop' || direction === 'unswap')) {
    throw new ConflictError(
      `Foreign keys point at ${live.label}; they would keep pointing at it after the ${direction} (nothing was changed):\n${incoming.map((fk) => `  ${fk.referencing}.${fk.name}: ${fk.definition}`).join('\n')}`,
      direction === 'swap'
        ? `Run \`${partkitCommand(['migrate', 'swap', displayName(names.table), '--foreign-keys', 'drop'])}\`: it drops them in the swap and prints and saves the DDL to recreate them against the new primary key.`
        : 'Drop them first (ALTER TABLE <referencing table> DROP CONSTRAINT <name>).',
    );
  }
  const group = `migrate ${direction} ${label}`;
  const replay = { capture, key, columns: copyColumns, live, copy, table: label };
  const step = (description: string, sql: string) => sqlStep(description, sql, { group, table: label });
  const newLive = quoteQualified(names.table);
  const oldLive = quoteQualified(liveAfter);
  // Citus: the capture follows the live table. A distributed live table gets a co-located capture
  // table and row triggers, a local one a local capture and statement triggers; when the exchange
  // changes which kind is live, the capture (empty after the locked replay) is made again in the
  // new kind, with the fill state it had.
  const citus = live.distributedBy !== null || copy.distributedBy !== null;
  const recapture = live.distributedBy !== copy.distributedBy;
  const steps: SqlStep[] = [
    ...(citus ? citusTriggerSettingSteps(group, label) : []),
    step(`lock ${live.label} and ${copy.label} (ACCESS EXCLUSIVE: writes wait until the ${direction} commits)`, `LOCK TABLE ${live.quoted}, ${copy.quoted} IN ACCESS EXCLUSIVE MODE`),
    step('note when the lock was taken', `SELECT set_config('partkit.locked_at', clock_timestamp()::text, true)`),
    ...replaySteps({ ...replay, limit: null, isolated: false, group }),
    ...dropCaptureTriggerSteps(live.quoted, group, label),
    step(`rename ${live.label} to ${liveAfter.name}`, `ALTER TABLE ${live.quoted} RENAME TO ${quoteIdent(liveAfter.name)}`),
    step(`rename ${copy.label} to ${names.table.name}`, `ALTER TABLE ${copy.quoted} RENAME TO ${quoteIdent(names.table.name)}`),
    ...(recapture
      ? [...dropCaptureSteps(capture, group, label), ...createCaptureSteps({ capture, key, live: newLive, distributedBy: copy.distributedBy, state, group, table: label })]
      : captureTriggerSteps(capture, newLive, group, label, copy.distributedBy !== null)),
  ];
  const foreignKeys: { name: string; definition: string; recreate: string }[] = [];
  const warnings: string[] = [];
  if (incoming.length > 0) {
    checkDerivedName(`${names.table.name}_foreign_keys`, 'The saved foreign keys table\'s name');
    const saved = quoteQualified({ schema: names.table.schema, name: `${names.table.name}_foreign_keys` });
    const control = inspection.settings.controlColumn;
    const controlType = liveColumns.find((c) => c.name === control)!.type;
    steps.push(
      step(
        `table ${names.table.name}_foreign_keys: the foreign keys the swap drops, with the DDL to recreate them`,
        `CREATE TABLE IF NOT EXISTS ${saved} (referencing text NOT NULL, name text NOT NULL, definition text NOT NULL, recreate text NOT NULL, dropped_at timestamptz NOT NULL DEFAULT now())`,
      ),
    );
    for (const fk of incoming) {
      const recreate = recreateForeignKey(fk, quoteQualified(names.table), pk.keyNames, control, controlType);
      steps.push(
        sqlStep(`save foreign key ${fk.referencing}.${fk.name} in ${names.table.name}_foreign_keys`, `INSERT INTO ${saved} (referencing, name, definition, recreate) VALUES ($1, $2, $3, $4)`, {
          group,
          table: label,
          params: [fk.referencing, fk.name, fk.definition, recreate],
        }),
        step(`drop foreign key ${fk.referencing}.${fk.name} (--foreign-keys drop)`, `ALTER TABLE ${fk.referencing} DROP CONSTRAINT ${quoteIdent(fk.name)}`),
      );
      foreignKeys.push({ name: `${fk.referencing}.${fk.name}`, definition: fk.definition, recreate });
    }
    warnings.push(foreignKeyConsequences(label, [...pk.keyNames, control], control, inspection.settings.retention));
  }
  const triggers: string[] = [];
  for (const trigger of facts.liveTriggers) {
    if (!facts.copyTriggers.has(trigger.name)) {
      warnings.push(`trigger ${trigger.name} of ${live.label} has no twin on ${copy.label}; create it there.`);
      continue;
    }
    if (trigger.enabled === 'D') continue;
    steps.push(step(`enable trigger ${trigger.name} on the new ${names.table.name}`, `ALTER TABLE ${newLive} ENABLE TRIGGER ${quoteIdent(trigger.name)}`));
    steps.push(step(`disable trigger ${trigger.name} on ${liveAfter.name} (replayed rows are copied as they are)`, `ALTER TABLE ${oldLive} DISABLE TRIGGER ${quoteIdent(trigger.name)}`));
    triggers.push(trigger.name);
  }
  const views: string[] = [];
  for (const view of facts.views) {
    if (view.relkind !== 'v') {
      warnings.push(`materialized view ${view.name} still reads ${liveAfter.schema}.${liveAfter.name}: recreate it on ${label}.`);
      continue;
    }
    const options = view.options && view.options.length > 0 ? ` WITH (${view.options.join(', ')})` : '';
    steps.push(step(`view ${view.name} recreated to read the new ${names.table.name} (owner, grants and options kept)`, `CREATE OR REPLACE VIEW ${view.name}${options} AS ${view.definition.trim().replace(/;$/, '')}`));
    views.push(view.name);
  }
  const sequences = sequenceSteps({ liveName: names.table, liveColumns: copyColumns, otherName: liveAfter, otherColumns: liveColumns, group, table: label });
  steps.push(...sequences.steps);
  steps.push(
    commentStep(newLive, live.comment, `keep the table comment of ${names.table.name} on the new live table`, group, label),
    sqlStep('measure how long the lock was held', `SELECT round(extract(epoch FROM clock_timestamp() - current_setting('partkit.locked_at')::timestamptz) * 1000)::bigint AS held_ms`, { group, table: label, id: LOCK_HELD_STEP }),
  );
  if (live.publications.length > 0) warnings.push(`${live.label} is in publication(s) ${live.publications.join(', ')}; add the new ${label} to them.`);
  if (direction === 'swap' && !inspection.configured) warnings.push(`${label} is not in the config (${config.source}); add it before \`partkit provision\`.`);
  return { steps, views, triggers, foreignKeys, sequences: sequences.notes, warnings };
}

/**
 * Two phases: the drain of the backlog down to LOCKED_REPLAY_TARGET keys, round by round, then the
 * exchange, planned from a fresh read after the drain. The exchange is planned once before the
 * drain too, so that a refusal comes before the first change.
 */
async function exchange(db: Database, config: Config, exchange: Exchange, dryRun: boolean): Promise<SwapResult> {
  const { inspection, live, copy, direction } = exchange;
  const label = displayName(inspection.names.table);
  const capture = captureName(inspection.names);
  const facts = await readExchange(db, exchange);
  let planned = planExchange(config, exchange, facts);
  const drain = drainPhase({
    capture,
    key: facts.key,
    columns: facts.copyColumns,
    live,
    copy,
    table: label,
    group: `migrate replay ${label}`,
    batch: 5000,
    until: LOCKED_REPLAY_TARGET,
    maxRounds: 200,
  });
  let rows: readonly StepRows[] = [];
  const swapPhase: Phase<ExchangeFacts> = {
    description: `the ${direction} of ${label}`,
    maxRounds: 1,
    read: (reader) => readExchange(reader, exchange),
    plan(facts) {
      planned = planExchange(config, exchange, facts);
      return { steps: planned.steps };
    },
    applied(results) {
      rows = results;
    },
  };
  const outcome = await runPhases(db, [drain, swapPhase], { dryRun });
  const state = direction === 'swap' ? 'swapped' : 'unswapped';
  const base = { table: label, sqlName: label, direction, drained: drain.replayed, views: planned.views, triggers: planned.triggers, foreignKeys: planned.foreignKeys, sequences: planned.sequences, warnings: planned.warnings, steps: planned.steps.map((s) => s.description), changes: planned.steps.length, dryRun };
  if (outcome.dryRun) return { ...base, state, caughtUp: 0, lockHeldMs: null, sql: outcome.sql };
  const rowsOf = (id: string) => rows.find((r) => r.step.id === id)?.rows[0];
  const lockHeldMs = Number((rowsOf(LOCK_HELD_STEP) as { held_ms?: string } | undefined)?.held_ms ?? 0);
  return { ...base, state, caughtUp: replayedIn(rows), lockHeldMs };
}

export async function swap(db: Database, config: Config, input: string, options: { dryRun?: boolean | undefined; foreignKeys?: 'refuse' | 'drop' | undefined } = {}): Promise<SwapResult> {
  return underRunLock(db, options, () => swapLocked(db, config, input, options));
}

async function swapLocked(db: Database, config: Config, input: string, options: { dryRun?: boolean | undefined; foreignKeys?: 'refuse' | 'drop' | undefined }): Promise<SwapResult> {
  const inspection = await inspectMigration(db, config, input, 'swap');
  const { names } = inspection;
  const label = displayName(names.table);
  if (inspection.state === 'swapped') {
    return { table: label, sqlName: displayName(names.table), direction: 'swap', state: 'already swapped', drained: 0, caughtUp: 0, lockHeldMs: null, views: [], triggers: [], foreignKeys: [], sequences: [], warnings: [], steps: [], changes: 0, dryRun: options.dryRun ?? false };
  }
  const source = inspection.table;
  const target = inspection.partitioned;
  if (inspection.state !== 'unswapped' || !source || !target || target.relkind !== 'p') {
    throw new MissingCapabilityError(`${label} has no partitioned copy ${names.partitioned.name} to swap in (nothing was changed).`, `Run \`${partkitCommand(['migrate', 'prep', displayName(names.table)])}\` and \`${partkitCommand(['migrate', 'fill', displayName(names.table)])}\` first.`);
  }
  return exchange(db, config, { direction: 'swap', inspection, live: source, liveAfter: names.retired, copy: target, foreignKeys: options.foreignKeys ?? 'refuse' }, options.dryRun ?? false);
}

export async function unswap(db: Database, config: Config, input: string, options: { dryRun?: boolean | undefined } = {}): Promise<SwapResult> {
  return underRunLock(db, options, () => unswapLocked(db, config, input, options));
}

async function unswapLocked(db: Database, config: Config, input: string, options: { dryRun?: boolean | undefined }): Promise<SwapResult> {
  const inspection = await inspectMigration(db, config, input, 'unswap');
  const { names } = inspection;
  const label = displayName(names.table);
  if (inspection.state === 'unswapped') {
    return { table: label, sqlName: displayName(names.table), direction: 'unswap', state: 'not swapped', drained: 0, caughtUp: 0, lockHeldMs: null, views: [], triggers: [], foreignKeys: [], sequences: [], warnings: [], steps: [], changes: 0, dryRun: options.dryRun ?? false };
  }
  const live = inspection.table;
  const retired = inspection.retired;
  if (inspection.state !== 'swapped' || !live || !retired) {
    throw new MissingCapabilityError(`${label} is not swapped: there is no ${names.retired.name} next to a partitioned ${names.table.name} (nothing was changed).`);
  }
  return exchange(db, config, { direction: 'unswap', inspection, live, liveAfter: names.partitioned, copy: retired, foreignKeys: 'refuse' }, options.dryRun ?? false);
}

export function renderSwap(result: SwapResult): string {
  if (result.sql !== undefined) return result.sql;
  const lines: string[] = [];
  if (result.state === 'already swapped') lines.push(`${result.table} is already swapped: nothing to change.`);
  else if (result.state === 'not swapped') lines.push(`${result.table} is not swapped: nothing to change.`);
  else if (result.direction === 'swap') {
    lines.push(`${result.table} swapped: the partitioned table is now ${result.table}, the original is ${result.table}_retired (changes keep being captured into it until drop)`);
  } else {
    lines.push(`${result.table} unswapped: the original is ${result.table} again, the partitioned table is ${result.table}_partitioned (changes keep being captured into it)`);
  }
  if (result.lockHeldMs !== null) {
    lines.push(`  replayed ${result.drained} captured key(s) before the lock and ${result.caughtUp} under it; lock held ${result.lockHeldMs} ms`);
  }
  for (const view of result.views) lines.push(`  view ${view} now reads the new ${result.table}`);
  for (const fk of result.foreignKeys) lines.push(`  foreign key ${fk.name} dropped (${fk.definition}); to recreate it against the new primary key (saved in ${result.table}_foreign_keys):`, ...fk.recreate.split('\n').map((line) => `    ${line}`));
  for (const trigger of result.triggers) lines.push(`  trigger ${trigger} enabled on the new ${result.table}`);
  for (const note of result.sequences) lines.push(`  ${note}`);
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  if (result.direction === 'swap' && (result.state === 'swapped' || result.state === 'already swapped')) {
    lines.push(`next: partkit provision (registers ${result.table} and schedules its maintenance); later: ${partkitCommand(['migrate', 'drop', result.sqlName, '--yes'])}`);
  }
  return lines.join('\n');
}
