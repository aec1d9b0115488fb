/**
 * `partkit migrate drop <table> --yes` (phase 4): drops `<table>_retired`, the original kept by
 * the swap, and ends the change capture. First it replays the captured keys into the original
 * until none are left, then compares a random sample of keys from both sides (rows whose key is
 * captured meanwhile are skipped): every sampled row must be identical on both sides. It does not
 * ask that every retired row be in the new table: a row deleted after the swap is, correctly,
 * deleted from both. Never CASCADE: views or foreign keys still on the original stop it.
 *
 * Three phases of the runner (runPhases): the drain, round by round; the comparison, one
 * transaction whose temp tables go at its end; the drop. Without --yes (exit 2) it is a preview: it
 * reads the catalog and the size of the capture, in a read-only session, and says what it would
 * replay, compare and drop. --dry-run prints the first replay round, the comparison and the drop.
 */
import type { Config } from '../core/config.js';
import type { Database, StepRows } from '../core/db.js';
import { ExitCode, ConflictError, MissingCapabilityError } from '../core/errors.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { coveredMonth, listPartitions, type ControlType, type Partition } from '../core/partitions.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { runPhases, underRunLock, type Phase } from '../core/runner.js';
import { backlog, captureKey, captureName, citusTriggerSettingSteps, drainPhase, dropCaptureSteps, dropCaptureTriggerSteps, requireCapture } from './capture.js';
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
  const inspection = await inspectMigration(db, config, input, 'drop');
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
  const drain = drainPhase({ capture, key, columns: retiredColumns, live, copy: retired, group: `migrate replay ${label}`, table: label, batch: 5000, maxRounds: 100 });
  const captured = await backlog(db, capture);
  const group = `migrate drop ${label}`;
  if (!options.dryRun && !options.yes) return { ...base, state: 'would drop', captured, rows: null, changes: 0, exitCode: ExitCode.usage };

  // Three phases: the drain of the capture into the original, the comparison of a sample, the drop.
  let counts: Sample | undefined;
  let backlogAfter = 0;
  const compare: Phase<SampleScope> = {
    description: `compare a sample of up to ${DROP_SAMPLE} keys of ${label} and ${retiredLabel}`,
    maxRounds: 1,
    async read(reader) {
      backlogAfter = await backlog(reader, capture);
      return sampleScope(await listPartitions(reader, names.table, settings.timeZone, retired.control.type!), settings.controlColumn, retired.control.type!, settings.timeZone);
    },
    plan: (scope) => ({ steps: compareSteps({ live, retired, capture, key: key.map((column) => quoteIdent(column.name)), columns: insertColumns(retiredColumns).split(', '), scope, group: `${group} (compare)`, table: label }) }),
    applied(results) {
      counts = sampleCounts(results);
      if (counts.differing > 0) {
        throw new ConflictError(
          `${counts.differing} of ${counts.sampled} sampled key(s) differ between ${label} and ${retiredLabel}; it is not dropped (nothing was changed).`,
          `The capture should have kept them equal: compare them (SELECT ... FROM ${live.quoted} EXCEPT SELECT ... FROM ${retired.quoted}) before dropping anything.`,
        );
      }
    },
  };
  const dropSteps = (compared: string): SqlStep[] => [
    ...(live.distributedBy !== null ? citusTriggerSettingSteps(group, label) : []),
    ...dropCaptureTriggerSteps(live.quoted, group, label),
    sqlStep(`drop ${retiredLabel}, the original table (${compared})`, `DROP TABLE ${retired.quoted}`, { table: label, group }),
    ...dropCaptureSteps(capture, group, label),
  ];
  let dropped = 0;
  const dropPhase: Phase<null> = {
    description: `drop ${retiredLabel} and the capture`,
    maxRounds: 1,
    read: async () => null,
    plan() {
      const steps = dropSteps(counts ? `${counts.sampled} sampled key(s) identical in ${label}` : `once a sample of up to ${DROP_SAMPLE} keys compares identical in ${label}`);
      dropped = steps.length;
      return { steps };
    },
  };
  const outcome = await runPhases(db, [drain, compare, dropPhase], { dryRun: options.dryRun ?? false });
  if (outcome.dryRun) return { ...base, state: 'would drop', captured, rows: null, changes: dropped, sql: outcome.sql };
  return { ...base, state: 'dropped', captured, rows: { ...counts!, replayed: drain.replayed, backlog: backlogAfter }, changes: dropped };
}

const SAMPLE = 'pg_temp.partkit_drop_sample';
const LIVE_ROWS = 'pg_temp.partkit_drop_live';
const CAPTURED = 'pg_temp.partkit_drop_captured';

/** Which retired rows the sample compares: rows older than the new table's oldest month (archived by retention since the swap) are not. */
interface SampleScope {
  /** A condition on the retired row `r`, with its parameters. */
  readonly inLive: string;
  readonly params: readonly unknown[];
}

function sampleScope(partitions: readonly Partition[], controlColumn: string, type: ControlType, zone: string): SampleScope {
  const oldest = partitions.map(coveredMonth).filter((month): month is string => month !== undefined).sort()[0];
  const hasDefault = partitions.some((partition) => partition.isDefault);
  if (!oldest || hasDefault) return { inLive: 'true', params: [] };
  return {
    inLive: `r.${quoteIdent(controlColumn)} >= ${monthStartAs(type, '$1', type === 'timestamptz' ? '$2' : '')}`,
    params: type === 'timestamptz' ? [`${oldest}-01 00:00:00`, zone] : [`${oldest}-01 00:00:00`],
  };
}

interface Sample {
  readonly sampled: number;
  readonly differing: number;
  readonly olderThanLive: number;
}

/** Id of the step that returns the comparison's counts. */
const SAMPLE_STEP = 'drop-sample';

function sampleCounts(results: readonly StepRows[]): Sample {
  const counts = results.find((r) => r.step.id === SAMPLE_STEP)?.rows[0] as { sampled: string; differing: string; older: string } | undefined;
  return { sampled: Number(counts?.sampled ?? 0), differing: Number(counts?.differing ?? 0), olderThanLive: Number(counts?.older ?? 0) };
}

/**
 * Compares a random sample of keys from both sides, in one transaction whose temp tables go at its
 * end (ON COMMIT DROP; a failure rolls them back). The live rows of the sampled keys are read first,
 * then the keys captured meanwhile (skipped: the next replay carries them); each statement reads
 * its own snapshot (READ COMMITTED), and the original changes only through replays, which this run
 * does not make now. So a change that commits after the live rows were read is in the capture when
 * it is read, and is not taken for a difference. The temp tables hold the sample and the live rows,
 * so that the comparison itself reads no distributed table (Citus cannot run its correlated
 * subqueries on one). The last step returns the counts.
 */
function compareSteps(options: {
  readonly live: Relation;
  readonly retired: Relation;
  readonly capture: QualifiedName;
  readonly key: readonly string[];
  readonly columns: readonly string[];
  readonly scope: SampleScope;
  readonly group: string;
  readonly table: string;
}): SqlStep[] {
  const { live, retired, key, columns, group, table } = options;
  const { inLive, params } = options.scope;
  const keys = key.join(', ');
  const keyMatch = (a: string, b: string) => key.map((k) => `${a}.${k} = ${b}.${k}`).join(' AND ');
  const same = (a: string, b: string) => `(${columns.map((c) => `${a}.${c}`).join(', ')}) IS NOT DISTINCT FROM (${columns.map((c) => `${b}.${c}`).join(', ')})`;
  const step = (description: string, sql: string, extra: Partial<SqlStep> = {}) => sqlStep(description, sql, { group, table, ...extra });
  return [
    step(`sample up to ${DROP_SAMPLE} keys of ${live.label}`, `CREATE TEMP TABLE partkit_drop_sample ON COMMIT DROP AS SELECT ${keys} FROM ${live.quoted} ORDER BY random() LIMIT ${DROP_SAMPLE}`),
    step(`sample up to ${DROP_SAMPLE} keys of ${retired.label}`, `INSERT INTO ${SAMPLE} SELECT ${key.map((k) => `r.${k}`).join(', ')} FROM ${fromClause(retired)} r WHERE ${inLive} ORDER BY random() LIMIT ${DROP_SAMPLE}`, { params }),
    step(`read the live rows of the sampled keys`, `CREATE TEMP TABLE partkit_drop_live ON COMMIT DROP AS SELECT ${columns.join(', ')} FROM ${live.quoted} WHERE (${keys}) IN (SELECT ${keys} FROM ${SAMPLE})`),
    step(`read the keys captured since (not compared: the next replay carries them)`, `CREATE TEMP TABLE partkit_drop_captured ON COMMIT DROP AS SELECT DISTINCT ${keys} FROM ${quoteQualified(options.capture)}`),
    step(
      `count the sampled keys whose rows differ between ${live.label} and ${retired.label}`,
      `WITH checked AS (
         SELECT DISTINCT ${keys} FROM ${SAMPLE} s WHERE NOT EXISTS (SELECT 1 FROM ${CAPTURED} c WHERE ${keyMatch('c', 's')})
       )
       SELECT (SELECT count(*) FROM checked) AS sampled,
              (SELECT count(*) FROM checked k
                WHERE (SELECT count(*) FROM ${LIVE_ROWS} l WHERE ${keyMatch('l', 'k')}) <> (SELECT count(*) FROM ${fromClause(retired)} r WHERE ${keyMatch('r', 'k')})
                   OR EXISTS (SELECT 1 FROM ${LIVE_ROWS} l JOIN ${fromClause(retired)} r ON ${keyMatch('l', 'r')} WHERE ${keyMatch('l', 'k')} AND NOT ${same('l', 'r')})) AS differing,
              (SELECT count(*) FROM ${fromClause(retired)} r WHERE NOT (${inLive})) AS older`,
      { params, id: SAMPLE_STEP },
    ),
  ];
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
