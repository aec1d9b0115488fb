/**
 * `partkit migrate drop <table> --yes` (phase 4): drops `<table>_retired`, the original kept by
 * the swap, and ends the change capture. First it replays the captured keys into the original
 * until none are left, then compares a random sample of keys from both sides (rows whose key is
 * captured meanwhile are skipped): every sampled row must be identical on both sides. It does not
 * ask that every retired row be in the new table: a row deleted after the swap is, correctly,
 * deleted from both. Never CASCADE: views or foreign keys still on the original stop it.
 *
 * Without --yes (exit 2) and with --dry-run it is a preview: it reads the catalog and the size of
 * the capture, in a read-only session, and says what it would replay, compare and drop. It
 * neither drains the capture (replaying writes) nor compares the sample (which needs temp tables).
 */
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { ExitCode, ConflictError, MissingCapabilityError } from '../core/errors.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { coveredMonth, listPartitions } from '../core/partitions.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { run, underRunLock } from '../core/runner.js';
import { backlog, captureKey, captureName, citusTriggerSettingSteps, drain, drainSteps, dropCaptureSteps, dropCaptureTriggerSteps, requireCapture } from './capture.js';
import { fromClause, insertColumns, monthStartAs } from './copy.js';
import { inspectMigration, primaryKey, readColumns, readDependents, readIndexes, type Relation } from './inspect.js';

/** Keys compared from each side before the drop. */
export const DROP_SAMPLE = 2000;

export interface DropResult {
  readonly table: string;
  /** The table as SQL writes it (quoted where needed): the form partkit's commands take. */
  readonly sqlName: string;
  readonly retired: string;
  readonly state: 'dropped' | 'would drop' | 'nothing to drop';
  /** Keys waiting in the capture when drop started: it replays them into the original first. */
  readonly captured: number;
  /** What the drop found (null for a preview, which neither replays nor compares). */
  readonly rows: { readonly sampled: number; readonly differing: number; readonly replayed: number; readonly backlog: number; readonly olderThanLive: number } | null;
  readonly changes: number;
  readonly dryRun: boolean;
  readonly exitCode?: number;
  readonly sql?: string;
}

export async function drop(db: Database, config: Config, input: string, options: { yes?: boolean | undefined; dryRun?: boolean | undefined }): Promise<DropResult> {
  // Without --yes it only reports: read-only and no lock, as a dry run.
  return underRunLock(db, { dryRun: options.dryRun || !options.yes }, () => dropLocked(db, config, input, options));
}

async function dropLocked(db: Database, config: Config, input: string, options: { yes?: boolean | undefined; dryRun?: boolean | undefined }): Promise<DropResult> {
  const inspection = await inspectMigration(db, config, input);
  const { names, settings } = inspection;
  const label = displayName(names.table);
  const retiredLabel = displayName(names.retired);
  const base = { table: label, sqlName: displayName(names.table), retired: retiredLabel, dryRun: options.dryRun ?? false };
  if (inspection.state === 'unswapped' || (inspection.table?.relkind === 'p' && !inspection.retired)) {
    if (inspection.state === 'unswapped') {
      throw new MissingCapabilityError(`${label} is not swapped yet; there is no ${names.retired.name} to drop (nothing was changed).`, `Run \`${partkitCommand(['migrate', 'swap', displayName(names.table)])}\` first.`);
    }
    return { ...base, state: 'nothing to drop', captured: 0, rows: null, changes: 0 };
  }
  const live = inspection.table;
  const retired = inspection.retired;
  if (inspection.state !== 'swapped' || !live || !retired) {
    throw new MissingCapabilityError(`${label} is not in the swapped state (a partitioned ${names.table.name} and a plain ${names.retired.name}); nothing was changed.`);
  }
  const dependents = await readDependents(db, retired.oid);
  if (dependents.length > 0) {
    throw new ConflictError(
      `Objects still depend on ${retiredLabel}, so it is not dropped (nothing was changed):\n${dependents.map((d) => `  ${d.kind} ${d.name}`).join('\n')}`,
      'Recreate the views on the new table and drop or re-point the foreign keys, then run drop again.',
    );
  }

  // The capture must be drained: every change made to the new table since the swap is in the original.
  const capture = captureName(names);
  await requireCapture(db, capture, names.table);
  const pk = primaryKey(await readIndexes(db, retired));
  if (!pk) throw new MissingCapabilityError(`${retiredLabel} has no primary key (nothing was changed).`);
  const liveColumns = await readColumns(db, live.oid);
  const retiredColumns = await readColumns(db, retired.oid);
  const key = await captureKey(db, capture, liveColumns);
  const drainOptions = { capture, key, columns: retiredColumns, live, copy: retired, group: `migrate replay ${label}`, table: label, batch: 5000, maxRounds: 100 };
  const captured = await backlog(db, capture);
  const group = `migrate drop ${label}`;
  const dropSteps = (compared: string): SqlStep[] => [
    ...(live.distributedBy !== null ? citusTriggerSettingSteps(group, label) : []),
    ...dropCaptureTriggerSteps(live.quoted, group, label),
    sqlStep(`drop ${retiredLabel}, the original table (${compared})`, `DROP TABLE ${retired.quoted}`, { table: label, group }),
    ...dropCaptureSteps(capture, group, label),
  ];

  if (options.dryRun || !options.yes) {
    // A preview: a dry run prints the replay rounds as the capture stands now, and the drop.
    const steps = dropSteps(`once a sample of up to ${DROP_SAMPLE} keys compares identical in ${label}`);
    if (!options.dryRun) return { ...base, state: 'would drop', captured, rows: null, changes: 0, exitCode: ExitCode.usage };
    const { sql } = (await run(db, { steps: [...(await drainSteps(db, drainOptions)), ...steps] }, { dryRun: true })) as { sql: string };
    return { ...base, state: 'would drop', captured, rows: null, changes: steps.length, sql };
  }

  const replayed = await drain(db, drainOptions);

  // A sample of keys from each side; rows older than the new table's oldest month (archived by
  // retention since the swap) are not compared, nor keys captured again since the drain.
  const control = quoteIdent(settings.controlColumn);
  const type = retired.control.type!;
  const partitions = await listPartitions(db, names.table, settings.timeZone, type);
  const oldest = partitions.map(coveredMonth).filter((month): month is string => month !== undefined).sort()[0];
  const hasDefault = partitions.some((partition) => partition.isDefault);
  const params: unknown[] = [];
  let inLive = 'true';
  if (oldest && !hasDefault) {
    params.push(`${oldest}-01 00:00:00`);
    if (type === 'timestamptz') params.push(settings.timeZone);
    inLive = `r.${control} >= ${monthStartAs(type, '$1', type === 'timestamptz' ? '$2' : '')}`;
  }
  const counts = await compareSample(db, { live, retired, capture, key: key.map((column) => quoteIdent(column.name)), columns: insertColumns(retiredColumns).split(', '), inLive, params });
  const rows = { ...counts, replayed, backlog: await backlog(db, capture) };
  if (rows.differing > 0) {
    throw new ConflictError(
      `${rows.differing} of ${rows.sampled} sampled key(s) differ between ${label} and ${retiredLabel}; it is not dropped (nothing was changed).`,
      `The capture should have kept them equal: compare them (SELECT ... FROM ${live.quoted} EXCEPT SELECT ... FROM ${retired.quoted}) before dropping anything.`,
    );
  }
  const steps = dropSteps(`${rows.sampled} sampled key(s) identical in ${label}`);
  await run(db, { steps }, { dryRun: false });
  return { ...base, state: 'dropped', captured, rows, changes: steps.length };
}

const SAMPLE = 'pg_temp.partkit_drop_sample';
const LIVE_ROWS = 'pg_temp.partkit_drop_live';
const CAPTURED = 'pg_temp.partkit_drop_captured';

/**
 * Compares a random sample of keys from both sides. The live rows of the sampled keys are read
 * first, then the keys captured meanwhile (skipped: the next replay carries them); the original
 * changes only through replays, which this run does not make now. So a change that commits after
 * the live rows were read is in the capture when it is read, and is not taken for a difference.
 * Session temp tables hold the sample and the live rows, so that the comparison itself reads no
 * distributed table (Citus cannot run its correlated subqueries on one).
 */
async function compareSample(
  db: Database,
  options: {
    readonly live: Relation;
    readonly retired: Relation;
    readonly capture: QualifiedName;
    readonly key: readonly string[];
    readonly columns: readonly string[];
    readonly inLive: string;
    readonly params: readonly unknown[];
  },
): Promise<{ sampled: number; differing: number; olderThanLive: number }> {
  const { live, retired, key, columns, inLive, params } = options;
  const keys = key.join(', ');
  const keyMatch = (a: string, b: string) => key.map((k) => `${a}.${k} = ${b}.${k}`).join(' AND ');
  const same = (a: string, b: string) => `(${columns.map((c) => `${a}.${c}`).join(', ')}) IS NOT DISTINCT FROM (${columns.map((c) => `${b}.${c}`).join(', ')})`;
  const dropTemp = () => db.query(`DROP TABLE IF EXISTS ${SAMPLE}, ${LIVE_ROWS}, ${CAPTURED}`);
  await dropTemp();
  try {
    await db.query(`CREATE TEMP TABLE partkit_drop_sample AS SELECT ${keys} FROM ${live.quoted} ORDER BY random() LIMIT ${DROP_SAMPLE}`);
    await db.query(`INSERT INTO ${SAMPLE} SELECT ${key.map((k) => `r.${k}`).join(', ')} FROM ${fromClause(retired)} r WHERE ${inLive} ORDER BY random() LIMIT ${DROP_SAMPLE}`, params);
    await db.query(`CREATE TEMP TABLE partkit_drop_live AS SELECT ${columns.join(', ')} FROM ${live.quoted} WHERE (${keys}) IN (SELECT ${keys} FROM ${SAMPLE})`);
    await db.query(`CREATE TEMP TABLE partkit_drop_captured AS SELECT DISTINCT ${keys} FROM ${quoteQualified(options.capture)}`);
    const [counts] = await db.query<{ sampled: string; differing: string; older: string }>(
      `WITH checked AS (
         SELECT DISTINCT ${keys} FROM ${SAMPLE} s WHERE NOT EXISTS (SELECT 1 FROM ${CAPTURED} c WHERE ${keyMatch('c', 's')})
       )
       SELECT (SELECT count(*) FROM checked) AS sampled,
              (SELECT count(*) FROM checked k
                WHERE (SELECT count(*) FROM ${LIVE_ROWS} l WHERE ${keyMatch('l', 'k')}) <> (SELECT count(*) FROM ${fromClause(retired)} r WHERE ${keyMatch('r', 'k')})
                   OR EXISTS (SELECT 1 FROM ${LIVE_ROWS} l JOIN ${fromClause(retired)} r ON ${keyMatch('l', 'r')} WHERE ${keyMatch('l', 'k')} AND NOT ${same('l', 'r')})) AS differing,
              (SELECT count(*) FROM ${fromClause(retired)} r WHERE NOT (${inLive})) AS older`,
      params,
    );
    return { sampled: Number(counts!.sampled), differing: Number(counts!.differing), olderThanLive: Number(counts!.older) };
  } finally {
    await dropTemp();
  }
}

export function renderDrop(result: DropResult): string {
  if (result.sql !== undefined) return result.sql;
  if (result.state === 'nothing to drop') return `${result.retired} does not exist: nothing to drop.`;
  if (result.state === 'would drop' || result.rows === null) {
    return [
      `would drop ${result.retired} and the capture: first replay the ${result.captured} captured key(s) waiting into ${result.retired}, then compare a sample of up to ${DROP_SAMPLE} keys of both sides (nothing was changed).`,
      `Run again with --yes to drop it: ${partkitCommand(['migrate', 'drop', result.sqlName, '--yes'])}`,
    ].join('\n');
  }
  const rows = result.rows;
  const older = rows.olderThanLive > 0 ? `; ${rows.olderThanLive} row(s) older than ${result.table}'s oldest month (archived by retention) not compared` : '';
  return `dropped ${result.retired} (capture drained (${rows.replayed} key(s) replayed), ${rows.sampled} sampled key(s) identical on both sides${older}).`;
}
