/**
 * `partkit migrate drop <table> --yes` (phase 4): drops `<table>_retired`, the original kept by
 * the swap, once its rows are all in the partitioned table. Without --yes it only says what it
 * would drop, as a usage error (exit 2). Never CASCADE: views or foreign keys still on the original stop it.
 */
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { LockError, MissingCapabilityError, UsageError } from '../core/errors.js';
import { partkitCommand } from '../core/shell.js';
import { displayName, quoteIdent } from '../core/identifiers.js';
import { coveredMonth, listPartitions } from '../core/partitions.js';
import { renderPlan, sqlStep, type SqlStep } from '../core/plan.js';
import { fromClause, monthStartAs } from './copy.js';
import { inspectMigration, primaryKey, readDependents, readIndexes } from './inspect.js';

export interface DropResult {
  readonly table: string;
  readonly retired: string;
  readonly state: 'dropped' | 'would drop' | 'nothing to drop';
  readonly rows: { readonly retired: number; readonly live: number; readonly missing: number; readonly olderThanLive: number } | null;
  readonly changes: number;
  readonly dryRun: boolean;
  readonly exitCode?: number;
  readonly sql?: string;
}

export async function drop(db: Database, config: Config, input: string, options: { yes?: boolean | undefined; dryRun?: boolean | undefined }): Promise<DropResult> {
  if (!options.dryRun && options.yes) await db.acquireRunLock();
  const inspection = await inspectMigration(db, config, input);
  const { names, settings } = inspection;
  const label = `${names.table.schema}.${names.table.name}`;
  const retiredLabel = `${names.retired.schema}.${names.retired.name}`;
  const base = { table: label, retired: retiredLabel, dryRun: options.dryRun ?? false };
  if (inspection.state === 'unswapped' || (inspection.table?.relkind === 'p' && !inspection.retired)) {
    if (inspection.state === 'unswapped') {
      throw new MissingCapabilityError(`${label} is not swapped yet; there is no ${names.retired.name} to drop (nothing was changed).`, `Run \`${partkitCommand(['migrate', 'swap', displayName(names.table)])}\` first.`);
    }
    return { ...base, state: 'nothing to drop', rows: null, changes: 0 };
  }
  const live = inspection.table;
  const retired = inspection.retired;
  if (inspection.state !== 'swapped' || !live || !retired) {
    throw new MissingCapabilityError(`${label} is not in the swapped state (a partitioned ${names.table.name} and a plain ${names.retired.name}); nothing was changed.`);
  }
  const dependents = await readDependents(db, retired.oid);
  if (dependents.length > 0) {
    refuse(
      options,
      `Objects still depend on ${retiredLabel}, so it is not dropped (nothing was changed):\n${dependents.map((d) => `  ${d.kind} ${d.name}`).join('\n')}`,
      'Recreate the views on the new table and drop or re-point the foreign keys, then run drop again.',
    );
  }

  // Every row of the original must be in the new table, except months retention has archived since
  // (rows older than the new table's oldest month are counted apart).
  const pk = primaryKey(await readIndexes(db, retired));
  const control = quoteIdent(settings.controlColumn);
  const type = retired.control.type!;
  const partitions = await listPartitions(db, names.table, settings.timeZone, type);
  const oldest = partitions.map(coveredMonth).filter((key): key is string => key !== undefined).sort()[0];
  const hasDefault = partitions.some((partition) => partition.isDefault);
  const params: unknown[] = [];
  let inLive = 'true';
  if (oldest && !hasDefault) {
    params.push(`${oldest}-01 00:00:00`);
    if (type === 'timestamptz') params.push(settings.timeZone);
    inLive = `r.${control} >= ${monthStartAs(type, '$1', type === 'timestamptz' ? '$2' : '')}`;
  }
  const keys = [...(pk?.keyNames ?? []), ...(pk?.keyNames.includes(settings.controlColumn) ? [] : [settings.controlColumn])].map(quoteIdent);
  const match = keys.map((k) => `l.${k} = r.${k}`).join(' AND ');
  const [counts] = await db.query<{ retired: string; live: string; missing: string; older: string }>(
    `SELECT (SELECT count(*) FROM ${fromClause(retired)} r WHERE ${inLive}) AS retired,
            (SELECT count(*) FROM ${live.quoted}) AS live,
            (SELECT count(*) FROM ${fromClause(retired)} r WHERE ${inLive} AND NOT EXISTS (SELECT 1 FROM ${live.quoted} l WHERE ${match})) AS missing,
            (SELECT count(*) FROM ${fromClause(retired)} r WHERE NOT (${inLive})) AS older`,
    params,
  );
  const rows = { retired: Number(counts!.retired), live: Number(counts!.live), missing: Number(counts!.missing), olderThanLive: Number(counts!.older) };
  if (rows.missing > 0 || rows.retired > rows.live) {
    refuse(
      options,
      `${rows.missing} row(s) of ${retiredLabel} are not in ${label} (${rows.retired} in the original, ${rows.live} in the new table); it is not dropped (nothing was changed).`,
      `Rows changed or deleted after the fill are the usual cause. Compare them (SELECT ... FROM ${retired.quoted} EXCEPT ...), copy what you need, then drop the table yourself.`,
    );
  }
  const steps: SqlStep[] = [sqlStep(`drop ${retiredLabel}, the original table (${rows.retired} row(s), all present in ${label})`, `DROP TABLE ${retired.quoted}`, { table: label })];
  if (options.dryRun) {
    return { ...base, state: 'would drop', rows, changes: steps.length, sql: renderPlan({ steps }, { appDatabase: db.name, lockTimeout: db.lockTimeout }) };
  }
  if (!options.yes) {
    throw new UsageError(
      `migrate drop drops ${retiredLabel} for good and needs --yes; nothing was dropped. It would drop ${retiredLabel} (${countsText({ ...base, rows })}).`,
      `Run again with --yes to drop it: ${partkitCommand(['migrate', 'drop', displayName(names.table), '--yes'])}`,
    );
  }
  await db.applyPlan({ steps });
  return { ...base, state: 'dropped', rows, changes: steps.length };
}

/**
 * A drop that would be refused: with --yes (or --dry-run) a conflict with the database's state
 * (exit 5); without --yes the run was only a question, so it is a usage error (exit 2) that says
 * what stands in the way.
 */
function refuse(options: { yes?: boolean | undefined; dryRun?: boolean | undefined }, message: string, hint: string): never {
  if (!options.yes && !options.dryRun) throw new UsageError(`${message}\nmigrate drop also needs --yes to drop anything.`, hint);
  throw new LockError(message, hint);
}

function countsText(result: Pick<DropResult, 'rows' | 'retired' | 'table'>): string {
  return result.rows ? `${result.rows.retired} row(s) in ${result.retired}, ${result.rows.live} in ${result.table}, none missing${result.rows.olderThanLive > 0 ? `; ${result.rows.olderThanLive} older than ${result.table}'s oldest month (archived by retention) not compared` : ''}` : '';
}

export function renderDrop(result: DropResult): string {
  if (result.sql !== undefined) return result.sql;
  if (result.state === 'nothing to drop') return `${result.retired} does not exist: nothing to drop.`;
  if (result.state === 'would drop') return `would drop ${result.retired} (${countsText(result)}).`;
  return `dropped ${result.retired} (${countsText(result)}).`;
}
