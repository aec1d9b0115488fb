/**
 * `partkit migrate swap <table>` (phase 3) and its undo twin `unswap`. One transaction under a
 * short lock_timeout (the executor retries lock errors): lock both tables, copy the rows written
 * since the fill (catch-up on the control column), rename the original to `<table>_retired` and the
 * partitioned copy to `<table>`, hand serial sequences to the new table and set identity
 * sequences past the highest value (pitfall 10), and keep the user's table comment on the live table.
 * Views and foreign keys follow the renamed original (pitfall 11): they are listed, not changed.
 */
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { MissingCapabilityError } from '../core/errors.js';
import { displayName, quoteIdent, quoteLiteral, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { renderPlan, sqlStep, type SqlStep } from '../core/plan.js';
import { CATCH_UP_MARGIN, catchUpStatement, fromClause, instantAs } from './copy.js';
import { inspectMigration, markerComment, primaryKey, readColumns, readDependents, readIndexes, readMarker, type Column, type Dependent, type MigrationInspection, type Relation } from './inspect.js';

export interface SwapResult {
  readonly table: string;
  /** The table as SQL writes it (quoted where needed): the form partkit's commands take. */
  readonly sqlName: string;
  readonly direction: 'swap' | 'unswap';
  readonly state: 'swapped' | 'unswapped' | 'already swapped' | 'not swapped';
  /** Rows copied by the catch-up under the lock. */
  readonly caughtUp: number;
  readonly catchUpFrom: string | null;
  readonly sequences: readonly string[];
  readonly warnings: readonly string[];
  readonly steps: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly sql?: string;
}

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

function seqText(name: QualifiedName): string {
  return quoteQualified(name);
}

/** A DO block that writes a marker with the transaction's own time (now() is the swap's instant). */
function markerNowStep(relation: string, description: string, group: string, table: string): SqlStep {
  const [before, after] = markerComment('\u0000').split('\u0000') as [string, string];
  return sqlStep(
    description,
    `DO $partkit$ BEGIN EXECUTE format('COMMENT ON TABLE %s IS %L', ${quoteLiteral(relation)}, ${quoteLiteral(before)} || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ${quoteLiteral(after)}); END $partkit$`,
    { group, table },
  );
}

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
      steps.push(sqlStep(`sequence ${serial.name.name} owned by ${options.liveName.name}.${column.name} (dropping ${options.otherName.name} keeps it)`, `ALTER SEQUENCE ${seqText(serial.name)} OWNED BY ${live}.${col}`, { group: options.group, table: options.table }));
      notes.push(`sequence ${serial.name.schema}.${serial.name.name} now owned by ${options.liveName.name}.${column.name}`);
    }
    const sequence = column.sequence?.dependency === 'i' ? column.sequence : serial;
    if (!sequence || !INTEGER_TYPES.has(column.type)) continue;
    const otherSequence = twin?.sequence && twin.sequence.name.name !== sequence.name.name ? twin.sequence : null;
    const candidates = [`(SELECT max(${col})::bigint FROM ${live})`, `(SELECT max(${col})::bigint FROM ${other})`, `(SELECT CASE WHEN is_called THEN last_value END FROM ${seqText(sequence.name)})`];
    if (otherSequence) candidates.push(`(SELECT CASE WHEN is_called THEN last_value END FROM ${seqText(otherSequence.name)})`);
    steps.push(
      sqlStep(
        `sequence ${sequence.name.name} of ${options.liveName.name}.${column.name} set past the highest value in both tables`,
        `SELECT setval(${quoteLiteral(seqText(sequence.name))}::regclass, v) FROM (SELECT greatest(${candidates.join(', ')}) AS v) AS highest WHERE v IS NOT NULL`,
        { group: options.group, table: options.table },
      ),
    );
    notes.push(`sequence ${sequence.name.schema}.${sequence.name.name} (${options.liveName.name}.${column.name}) set past the highest value`);
  }
  return { steps, notes };
}

function dependentWarnings(dependents: readonly Dependent[], retiredLabel: string): string[] {
  return dependents.map((d) =>
    d.kind === 'view'
      ? `view ${d.name} still reads ${retiredLabel} (views follow a renamed table): recreate it (CREATE OR REPLACE VIEW ...) to read the new table, before \`partkit migrate drop\`.`
      : `foreign key ${d.name} still points at ${retiredLabel}: drop it, or re-point it at the new table (it must name the whole primary key).`,
  );
}

async function keyBeyondTarget(db: Database, source: Relation, target: Relation, key: readonly Column[], control: { column: string; type: NonNullable<Relation['control']['type']>; zone: string }, since: string): Promise<boolean> {
  const keyList = key.map((column) => quoteIdent(column.name));
  const [last] = await db.query<{ key: string[] }>(`SELECT ARRAY[${keyList.map((k) => `${k}::text`).join(', ')}] AS key FROM ${target.quoted} ORDER BY ${keyList.map((k) => `${k} DESC`).join(', ')} LIMIT 1`);
  const params: unknown[] = [since];
  if (control.type !== 'timestamptz') params.push(control.zone);
  const older = `${quoteIdent(control.column)} < ${instantAs(control.type, `($1::timestamptz - interval '${CATCH_UP_MARGIN}')`, '$2')}`;
  let beyond = '';
  if (last) {
    beyond = ` AND (${keyList.join(', ')}) > (${key.map((column, i) => `$${params.length + i + 1}::${column.type}`).join(', ')})`;
    params.push(...last.key);
  }
  const [row] = await db.query<{ found: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${fromClause(source)} WHERE ${older}${beyond}) AS found`, params);
  return row?.found ?? false;
}

async function finish(db: Database, inspection: MigrationInspection, direction: 'swap' | 'unswap', steps: SqlStep[], extra: { catchUpFrom: string | null; sequences: string[]; warnings: string[] }, dryRun: boolean): Promise<SwapResult> {
  const label = `${inspection.names.table.schema}.${inspection.names.table.name}`;
  const base = { table: label, sqlName: displayName(inspection.names.table), direction, catchUpFrom: extra.catchUpFrom, sequences: extra.sequences, warnings: extra.warnings, steps: steps.map((s) => s.description), changes: steps.length, dryRun };
  if (dryRun) {
    return { ...base, state: direction === 'swap' ? 'swapped' : 'unswapped', caughtUp: 0, sql: renderPlan({ steps }, { appDatabase: db.name, lockTimeout: db.lockTimeout }) };
  }
  const results = await db.applyPlan({ steps });
  const catchUp = results.find((r) => r.step.kind === 'sql' && r.step.description.startsWith('catch-up'));
  const caughtUp = Number((catchUp?.rows[0] as { copied?: string } | undefined)?.copied ?? 0);
  return { ...base, state: direction === 'swap' ? 'swapped' : 'unswapped', caughtUp };
}

export async function swap(db: Database, config: Config, input: string, options: { dryRun?: boolean | undefined } = {}): Promise<SwapResult> {
  if (!options.dryRun) await db.acquireRunLock();
  const inspection = await inspectMigration(db, config, input);
  const { names, settings } = inspection;
  const label = `${names.table.schema}.${names.table.name}`;
  if (inspection.state === 'swapped') {
    const warnings = dependentWarnings(await readDependents(db, inspection.retired!.oid), `${names.retired.schema}.${names.retired.name}`);
    return { table: label, sqlName: displayName(names.table), direction: 'swap', state: 'already swapped', caughtUp: 0, catchUpFrom: null, sequences: [], warnings, steps: [], changes: 0, dryRun: options.dryRun ?? false };
  }
  const source = inspection.table;
  const target = inspection.partitioned;
  if (inspection.state !== 'unswapped' || !source || !target || target.relkind !== 'p') {
    throw new MissingCapabilityError(`${label} has no partitioned copy ${names.partitioned.name} to swap in (nothing was changed).`, `Run \`${partkitCommand(['migrate', 'prep', displayName(names.table)])}\` and \`${partkitCommand(['migrate', 'fill', displayName(names.table)])}\` first.`);
  }
  const since = readMarker(target.comment);
  if (since === undefined) {
    throw new MissingCapabilityError(`No fill of the whole table is recorded on ${names.partitioned.name} (nothing was changed).`, `Run \`${partkitCommand(['migrate', 'fill', displayName(names.table)])}\` (without --from/--to) first; the swap copies only rows written since it started.`);
  }
  const sourceColumns = await readColumns(db, source.oid);
  const targetColumns = await readColumns(db, target.oid);
  const pk = primaryKey(await readIndexes(db, source));
  const control = { column: settings.controlColumn, type: source.control.type!, zone: settings.timeZone };
  if (pk) {
    const key = pk.keyNames.map((name) => sourceColumns.find((c) => c.name === name)!);
    if (await keyBeyondTarget(db, source, target, key, control, since)) {
      throw new MissingCapabilityError(
        `The fill of ${label} has not finished: rows older than the catch-up window (${since} minus ${CATCH_UP_MARGIN}) lie beyond the last key copied (nothing was changed).`,
        `Run \`${partkitCommand(['migrate', 'fill', displayName(names.table)])}\` again (it resumes), then swap.`,
      );
    }
  }
  const group = `migrate swap ${label}`;
  const step = (description: string, sql: string, params?: unknown[]) => sqlStep(description, sql, { group, table: label, ...(params ? { params } : {}) });
  const catchUp = catchUpStatement({ source, target, columns: sourceColumns, control, since });
  const steps: SqlStep[] = [
    step(`lock ${names.table.name} and ${names.partitioned.name} (ACCESS EXCLUSIVE: writes wait until the swap commits)`, `LOCK TABLE ${source.quoted}, ${target.quoted} IN ACCESS EXCLUSIVE MODE`),
    step(`catch-up: copy rows of ${names.table.name} with ${settings.controlColumn} at or after ${since} minus ${CATCH_UP_MARGIN} into ${names.partitioned.name}`, catchUp.sql, catchUp.params),
    step(`rename ${names.table.name} to ${names.retired.name}`, `ALTER TABLE ${source.quoted} RENAME TO ${quoteIdent(names.retired.name)}`),
    step(`rename ${names.partitioned.name} to ${names.table.name}`, `ALTER TABLE ${target.quoted} RENAME TO ${quoteIdent(names.table.name)}`),
  ];
  const sequences = sequenceSteps({ liveName: names.table, liveColumns: targetColumns, otherName: names.retired, otherColumns: sourceColumns, group, table: label });
  steps.push(...sequences.steps);
  steps.push(
    commentStep(quoteQualified(names.table), source.comment, `keep the table comment of ${names.table.name} on the new table`, group, label),
    markerNowStep(quoteQualified(names.retired), `record on ${names.retired.name} that rows written from now on are only in the new ${names.table.name}`, group, label),
  );
  const warnings = dependentWarnings(await readDependents(db, source.oid), `${names.retired.schema}.${names.retired.name}`);
  if (source.triggers.length > 0) warnings.push(`triggers of the original are not on the new table: ${source.triggers.join(', ')}.`);
  if (source.publications.length > 0) warnings.push(`the original is in publication(s) ${source.publications.join(', ')}; add the new table to them.`);
  if (!inspection.configured) warnings.push(`${label} is not in the config (${config.source}); add it before \`partkit provision\`.`);
  return finish(db, inspection, 'swap', steps, { catchUpFrom: since, sequences: sequences.notes, warnings }, options.dryRun ?? false);
}

export async function unswap(db: Database, config: Config, input: string, options: { dryRun?: boolean | undefined } = {}): Promise<SwapResult> {
  if (!options.dryRun) await db.acquireRunLock();
  const inspection = await inspectMigration(db, config, input);
  const { names, settings } = inspection;
  const label = `${names.table.schema}.${names.table.name}`;
  if (inspection.state === 'unswapped') {
    return { table: label, sqlName: displayName(names.table), direction: 'unswap', state: 'not swapped', caughtUp: 0, catchUpFrom: null, sequences: [], warnings: [], steps: [], changes: 0, dryRun: options.dryRun ?? false };
  }
  const live = inspection.table;
  const retired = inspection.retired;
  if (inspection.state !== 'swapped' || !live || !retired) {
    throw new MissingCapabilityError(`${label} is not swapped: there is no ${names.retired.name} next to a partitioned ${names.table.name} (nothing was changed).`);
  }
  const liveColumns = await readColumns(db, live.oid);
  const retiredColumns = await readColumns(db, retired.oid);
  const since = readMarker(retired.comment);
  const control = { column: settings.controlColumn, type: retired.control.type!, zone: settings.timeZone };
  const group = `migrate unswap ${label}`;
  const step = (description: string, sql: string, params?: unknown[]) => sqlStep(description, sql, { group, table: label, ...(params ? { params } : {}) });
  const warnings: string[] = [];
  const steps: SqlStep[] = [step(`lock ${names.table.name} and ${names.retired.name} (ACCESS EXCLUSIVE)`, `LOCK TABLE ${live.quoted}, ${retired.quoted} IN ACCESS EXCLUSIVE MODE`)];
  if (since !== undefined) {
    const catchUp = catchUpStatement({ source: live, target: retired, columns: retiredColumns, control, since });
    steps.push(step(`catch-up: copy rows of ${names.table.name} with ${settings.controlColumn} at or after ${since} minus ${CATCH_UP_MARGIN} back into ${names.retired.name}`, catchUp.sql, catchUp.params));
  } else {
    warnings.push(`${names.retired.name} carries no swap marker: rows written to the partitioned table since the swap are not copied back.`);
  }
  steps.push(
    step(`rename ${names.table.name} to ${names.partitioned.name}`, `ALTER TABLE ${live.quoted} RENAME TO ${quoteIdent(names.partitioned.name)}`),
    step(`rename ${names.retired.name} to ${names.table.name}`, `ALTER TABLE ${retired.quoted} RENAME TO ${quoteIdent(names.table.name)}`),
  );
  const sequences = sequenceSteps({ liveName: names.table, liveColumns: retiredColumns, otherName: names.partitioned, otherColumns: liveColumns, group, table: label });
  steps.push(...sequences.steps);
  steps.push(
    commentStep(quoteQualified(names.table), live.comment, `keep the table comment of ${names.table.name} on the original`, group, label),
    markerNowStep(quoteQualified(names.partitioned), `record on ${names.partitioned.name} that rows written from now on are only in the original ${names.table.name}`, group, label),
  );
  warnings.push(...dependentWarnings(await readDependents(db, live.oid), `${names.partitioned.schema}.${names.partitioned.name}`));
  return finish(db, inspection, 'unswap', steps, { catchUpFrom: since ?? null, sequences: sequences.notes, warnings }, options.dryRun ?? false);
}

export function renderSwap(result: SwapResult): string {
  if (result.sql !== undefined) return result.sql;
  const lines: string[] = [];
  if (result.state === 'already swapped') lines.push(`${result.table} is already swapped: nothing to change.`);
  else if (result.state === 'not swapped') lines.push(`${result.table} is not swapped: nothing to change.`);
  else if (result.direction === 'swap') {
    lines.push(`${result.table} swapped: the partitioned table is now ${result.table}, the original is ${result.table}_retired`, `  catch-up copied ${result.caughtUp} row(s) written since ${result.catchUpFrom} (minus ${CATCH_UP_MARGIN})`);
  } else {
    lines.push(`${result.table} unswapped: the original is ${result.table} again, the partitioned table is ${result.table}_partitioned`, `  catch-up copied ${result.caughtUp} row(s) written to the partitioned table since the swap back into the original`);
  }
  for (const note of result.sequences) lines.push(`  ${note}`);
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  if (result.direction === 'swap' && (result.state === 'swapped' || result.state === 'already swapped')) {
    lines.push(`next: partkit provision (registers ${result.table} and schedules its maintenance); later: ${partkitCommand(['migrate', 'drop', result.sqlName, '--yes'])}`);
  }
  return lines.join('\n');
}
