/**
 * `partkit archive release <table> --month YYYY-MM`: lets go of a month that `archive restore
 * --attach --keep` holds attached past the retention, so that the next maintenance archives it
 * again, with either strategy. Deleting the hold row by hand is not enough when the month's
 * archived copy is still in the archive schema (the export did not drop it): the month would go
 * back under a name that is taken, and pg_partman's maintenance fails (42P07) on every run. So the
 * release, in one transaction, deletes the hold and drops that archived copy, but only when every
 * row of it is in the attached month (the restore loaded them from its export); a copy holding
 * rows the month does not is refused, nothing changed, with the statements that set it aside
 * (into a schema of its own: a renamed copy keeps its indexes' names, which the month needs).
 */
import { readManagedTable, readPartmanConfig } from '../core/checks/state.js';
import { inspect } from '../core/capabilities.js';
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { ConflictError, UsageError } from '../core/errors.js';
import { displayName, parseQualifiedName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { requireKit } from '../core/kit.js';
import { controlTypeOf, coveredMonth, listPartitions } from '../core/partitions.js';
import { sqlComment, sqlStep, type SqlStep } from '../core/plan.js';
import { run, underRunLock } from '../core/runner.js';
import { tableNotFound } from '../core/table-lookup.js';

export interface ArchiveReleaseOptions {
  readonly table: string;
  /** YYYY-MM, as the table's zone names it (the form archive_hold keeps). */
  readonly month: string;
  readonly dryRun?: boolean | undefined;
}

export interface ArchiveReleaseResult {
  readonly table: string;
  readonly month: string;
  /** 'released' (with --dry-run: would be), or 'not held'. */
  readonly state: 'released' | 'not held';
  /** The attached month maintenance will archive next, when there is one. */
  readonly partition: string | null;
  /** The archived copy dropped because the attached month holds all its rows. */
  readonly droppedCopy: string | null;
  readonly steps: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly sql?: string;
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

export async function archiveRelease(db: Database, config: Config, options: ArchiveReleaseOptions): Promise<ArchiveReleaseResult> {
  if (!MONTH.test(options.month ?? '')) throw new UsageError(`--month "${options.month}" is not a month.`, 'Use YYYY-MM, e.g. --month 2025-11');
  const table = parseQualifiedName(options.table);
  return underRunLock(db, options, () => releaseLocked(db, config, table, options));
}

async function releaseLocked(db: Database, config: Config, table: QualifiedName, options: ArchiveReleaseOptions): Promise<ArchiveReleaseResult> {
  const label = displayName(table);
  const dryRun = options.dryRun ?? false;
  await requireKit(db, config.kitSchema, ['archive_hold']);
  const kit = quoteIdent(config.kitSchema);
  const [relation] = await db.query<{ control_type: string | null }>(
    `SELECT (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_partitioned_table pt JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
              WHERE pt.partrelid = c.oid) AS control_type
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
  if (!relation) throw await tableNotFound(db, table, (found) => `partkit archive release ${found} --month ${options.month}`);
  const [hold] = await db.query<{ month: string }>(`SELECT month FROM ${kit}.archive_hold WHERE parent_schema = $1 AND parent_table = $2 AND month = $3`, [table.schema, table.name, options.month]);
  const base = { table: label, month: options.month, dryRun };
  if (!hold) return { ...base, state: 'not held', partition: null, droppedCopy: null, steps: [], changes: 0 };

  const caps = await inspect(db, { ...config, tables: [] });
  const managed = await readManagedTable(db, caps, table);
  const partConfig = await readPartmanConfig(db, caps, table);
  const timeZone = managed?.timeZone ?? 'UTC';
  const controlType = controlTypeOf(relation.control_type);
  const partition = controlType ? (await listPartitions(db, table, timeZone, controlType)).find((candidate) => coveredMonth(candidate) === options.month) : undefined;
  // Where maintenance will move the month: pg_partman's retention_schema, else the kit's archive schema.
  const archiveSchema = partConfig?.retentionSchema ?? managed?.archiveSchema ?? null;
  const group = `release ${label} ${options.month}`;
  const steps: SqlStep[] = [
    sqlStep(`release ${label} ${options.month}: delete its hold, so that the next maintenance archives it again`, `DELETE FROM ${kit}.archive_hold WHERE parent_schema = $1 AND parent_table = $2 AND month = $3`, {
      params: [table.schema, table.name, options.month],
      group,
      table: label,
    }),
  ];
  let droppedCopy: string | null = null;
  if (partition && archiveSchema && archiveSchema !== partition.schema) {
    const copy = { schema: archiveSchema, name: partition.name };
    const [taken] = await db.query<{ taken: boolean; attached: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS taken, coalesce((SELECT c.relispartition FROM pg_class c WHERE c.oid = to_regclass($1)), false) AS attached',
      [quoteQualified(copy)],
    );
    if (taken?.taken && !taken.attached) {
      const missing = await rowsOnlyIn(db, copy, partition, table);
      if (missing > 0) {
        throw new ConflictError(
          `${displayName(copy)}, the archived copy of ${options.month}, holds ${missing} row(s) that the attached ${displayName(partition)} does not: maintenance would archive the month into that taken name, and dropping the copy would lose them (nothing was changed).`,
          `Keep the copy aside in a schema of its own (its indexes go with it, so their names are free for the month), then release: psql -c 'CREATE SCHEMA IF NOT EXISTS ${quoteIdent(keptSchema(archiveSchema))}; ALTER TABLE ${quoteQualified(copy)} SET SCHEMA ${quoteIdent(keptSchema(archiveSchema))}' and partkit archive release ${label} --month ${options.month}`,
        );
      }
      steps.push(
        sqlStep(`drop ${displayName(copy)}, the archived copy of ${options.month}: every row of it is in the attached ${displayName(partition)}, which takes its place at the next maintenance`, `DROP TABLE ${quoteQualified(copy)}`, { group, table: label }),
      );
      droppedCopy = displayName(copy);
    }
  }
  const outcome = await run(db, { steps }, { dryRun });
  const result: ArchiveReleaseResult = { ...base, state: 'released', partition: partition ? displayName(partition) : null, droppedCopy, steps: steps.map((step) => step.description), changes: steps.length };
  return outcome.dryRun ? { ...result, sql: outcome.sql } : result;
}

/** Where a copy the month does not hold is set aside: out of the archive schema, so that its name and its indexes' names are free. */
function keptSchema(archiveSchema: string): string {
  return `${archiveSchema}_kept`.slice(0, 63);
}

/** Rows of `copy` that are not in `month` (whole rows, by the parent's columns; duplicates counted). */
async function rowsOnlyIn(db: Database, copy: QualifiedName, month: QualifiedName, parent: QualifiedName): Promise<number> {
  const columns = await db.query<{ name: string }>(
    `SELECT quote_ident(a.attname) AS name FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [quoteQualified(parent)],
  );
  const list = columns.map((column) => column.name).join(', ');
  const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT ${list} FROM ${quoteQualified(copy)} EXCEPT ALL SELECT ${list} FROM ${quoteQualified(month)}) AS only_in_copy`);
  return Number(row?.n ?? 0);
}

export function renderArchiveRelease(result: ArchiveReleaseResult): string {
  if (result.sql !== undefined) return `${sqlComment(`archive release (dry run: nothing changed): ${result.table} ${result.month}`)}\n${result.sql}`;
  if (result.state === 'not held') return `archive release: ${result.table} ${result.month} is not held; nothing to do`;
  return [
    `archive release: ${result.table} ${result.month} is no longer held; the next maintenance archives ${result.partition ?? 'it'} again`,
    ...(result.droppedCopy ? [`  dropped ${result.droppedCopy}, the archived copy whose rows the attached month holds`] : []),
  ].join('\n');
}
