/**
 * What `partkit migrate prep` reads, in one read-only snapshot (core/snapshot.ts), before it
 * plans: the three migration names and what they are, and, when the table is one prep can plan
 * for, its indexes, columns, dependents, foreign keys, grants, triggers, policies, the months its
 * rows span, the capabilities (with the server's clock), the partitioned copy made by an earlier
 * run, and the relation names a new partition could collide with. The planner (prep-plan.ts) is a
 * pure function of this value; nothing is read while planning.
 */
import { inspect, type Capabilities } from '../core/capabilities.js';
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { quoteIdent } from '../core/identifiers.js';
import { listPartitions, type Partition } from '../core/partitions.js';
import { readOnce } from '../core/snapshot.js';
import { captureName, CAPTURE_TRIGGERS, readCapture } from './capture.js';
import { fromClause } from './copy.js';
import { inspectMigration, readColumns, readDependents, readGrants, readIndexes, readOutgoingForeignKeys, readViews, type Column, type Dependent, type Index, type MigrationInspection, type Relation, type View } from './inspect.js';
import { monthsToArchive, type MonthToArchive } from './retention.js';

export interface ForeignKey {
  readonly name: string;
  readonly definition: string;
}

export interface Grant {
  readonly grantee: string;
  readonly privilege: string;
  readonly grantable: boolean;
}

export interface UserTrigger {
  readonly name: string;
  readonly definition: string;
  readonly enabled: string;
}

export interface Policy {
  readonly name: string;
  readonly permissive: string;
  readonly roles: string[];
  readonly cmd: string;
  readonly qual: string | null;
  readonly with_check: string | null;
}

/** The months the rows span, as 'YYYY-MM' in the table's zone (finite values only). */
export interface DataSpan {
  readonly first: string;
  readonly last: string;
}

/** What prep copies from the table to its partitioned copy, as either has it. */
interface CopiedObjects {
  readonly indexes: readonly Index[];
  readonly foreignKeys: readonly ForeignKey[];
  readonly grants: readonly Grant[];
}

/** The partitioned copy an earlier prep made (RANGE on the control column): what it has already (triggers and policies by name). */
export interface CopyState extends CopiedObjects {
  readonly triggers: readonly string[];
  readonly policies: readonly string[];
  readonly partitions: readonly Partition[];
}

/** The table to migrate, read only when prep can plan for it (see sourceReadable). */
export interface SourceState extends CopiedObjects {
  /** With `server.now`: the server's clock at the snapshot's start, which months are counted from. */
  readonly caps: Capabilities;
  readonly columns: readonly Column[];
  readonly dependents: readonly Dependent[];
  readonly triggers: readonly UserTrigger[];
  readonly policies: readonly Policy[];
  readonly views: readonly View[];
  /** pg_class.relreplident: 'd' default, 'f' full, 'n' nothing, 'i' index. */
  readonly replicaIdentity: string;
  readonly rowSecurity: { readonly enabled: boolean; readonly forced: boolean };
  /** undefined when the table has no finite value of the control column. */
  readonly span: DataSpan | undefined;
  readonly archive: readonly MonthToArchive[];
  readonly captureExists: boolean;
  /**
   * Names of the relations in the table's schema that start with the table's name: every name prep
   * gives a partition (the strategies' `<table>_...` and `<table>_default`) is taken when it is here.
   */
  readonly namesTaken: ReadonlySet<string>;
  /** quote_ident as the server writes it, of the control column and the distribution column (for index definitions that compare equal to pg_get_indexdef). */
  readonly quotedOnServer: ReadonlyMap<string, string>;
  /** The partitioned copy, when it exists and is partitioned by RANGE on the control column. */
  readonly copy: CopyState | undefined;
}

export interface PrepState {
  readonly inspection: MigrationInspection;
  /** undefined when the planner refuses the table before it needs more (missing, not a plain table, a bad control column, a retired name taken). */
  readonly source: SourceState | undefined;
}

/** Whether prep plans for the table at all (the planner's checkSource refuses the others): only then are its rows and catalog read. */
function sourceReadable(inspection: MigrationInspection): boolean {
  const { table, retired } = inspection;
  return table !== undefined && table.relkind === 'r' && retired === undefined && table.control.exists && table.control.type !== undefined && table.control.notNull;
}

/** The partitioned copy prep goes on from; another relation under its name the planner refuses. */
export function isRangeCopy(relation: Relation, column: string): boolean {
  return relation.relkind === 'p' && relation.partitionStrategy === 'r' && relation.partitionKey.join(',') === column;
}

/** Triggers the user made on a table (not partkit's capture triggers, not constraint triggers). */
export async function readUserTriggers(db: Database, oid: number): Promise<UserTrigger[]> {
  return db.query<UserTrigger>(
    `SELECT tgname::text AS name, pg_get_triggerdef(oid) AS definition, tgenabled::text AS enabled FROM pg_trigger
      WHERE tgrelid = $1::oid AND NOT tgisinternal AND tgparentid = 0 AND tgname <> ALL ($2::text[]) ORDER BY tgname`,
    [oid, Object.values(CAPTURE_TRIGGERS)],
  );
}

/** The months the existing rows span, in the table's zone (finite values only; others go to the default). */
async function readDataSpan(db: Database, inspection: MigrationInspection): Promise<DataSpan | undefined> {
  const table = inspection.table!;
  const column = quoteIdent(inspection.settings.controlColumn);
  const local = (expr: string) => (table.control.type === 'timestamptz' ? `(${expr} AT TIME ZONE $1)` : `${expr}::timestamp`);
  const [row] = await db.query<{ first: string | null; last: string | null }>(
    `SELECT to_char(${local(`min(${column})`)}, 'YYYY-MM') AS first, to_char(${local(`max(${column})`)}, 'YYYY-MM') AS last
       FROM ONLY ${table.quoted} WHERE isfinite(${column}) AND $1::text IS NOT NULL`,
    [inspection.settings.timeZone],
  );
  if (!row?.first || !row.last) return undefined;
  return { first: row.first, last: row.last };
}

async function readPolicies(db: Database, schema: string, name: string): Promise<Policy[]> {
  return db.query<Policy>(
    `SELECT policyname::text AS name, permissive, roles::text[] AS roles, cmd, qual, with_check FROM pg_policies WHERE schemaname = $1 AND tablename = $2 ORDER BY policyname`,
    [schema, name],
  );
}

async function readCopy(db: Database, inspection: MigrationInspection, copy: Relation): Promise<CopyState> {
  const { names, settings } = inspection;
  return {
    indexes: await readIndexes(db, copy),
    foreignKeys: await readOutgoingForeignKeys(db, copy.oid),
    grants: await readGrants(db, copy.oid),
    triggers: (await readUserTriggers(db, copy.oid)).map((t) => t.name),
    policies: (await readPolicies(db, names.partitioned.schema, names.partitioned.name)).map((p) => p.name),
    partitions: await listPartitions(db, names.partitioned, settings.timeZone, inspection.table!.control.type!),
  };
}

async function readSource(db: Database, config: Config, inspection: MigrationInspection): Promise<SourceState> {
  const table = inspection.table!;
  const { names, settings } = inspection;
  const quotable = [settings.controlColumn, ...(settings.distribution ? [settings.distribution.column] : [])];
  const quoted = await db.query<{ name: string; quoted: string }>('SELECT n AS name, quote_ident(n) AS quoted FROM unnest($1::text[]) AS n', [quotable]);
  const taken = await db.query<{ name: string }>(
    `SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND left(c.relname::text, char_length($2)) = $2`,
    [names.table.schema, names.table.name],
  );
  const [flags] = await db.query<{ replident: string; enabled: boolean; forced: boolean }>(
    'SELECT relreplident::text AS replident, relrowsecurity AS enabled, relforcerowsecurity AS forced FROM pg_class WHERE oid = $1::oid',
    [table.oid],
  );
  const existing = inspection.partitioned;
  const copy = existing && isRangeCopy(existing, settings.controlColumn) ? await readCopy(db, inspection, existing) : undefined;
  const facts = {
    caps: await inspect(db, config),
    indexes: await readIndexes(db, table),
    columns: await readColumns(db, table.oid),
    dependents: await readDependents(db, table.oid),
    foreignKeys: await readOutgoingForeignKeys(db, table.oid),
    grants: await readGrants(db, table.oid),
    triggers: await readUserTriggers(db, table.oid),
    policies: await readPolicies(db, names.table.schema, names.table.name),
    views: await readViews(db, table.oid),
    replicaIdentity: flags?.replident ?? 'd',
    rowSecurity: { enabled: flags?.enabled ?? false, forced: flags?.forced ?? false },
    captureExists: (await readCapture(db, captureName(names))).exists,
    namesTaken: new Set(taken.map((row) => row.name)),
    quotedOnServer: new Map(quoted.map((row) => [row.name, row.quoted])),
    copy,
  };
  // The table's rows last: from here the snapshot holds ACCESS SHARE on the table (writers go on).
  return { ...facts, span: await readDataSpan(db, inspection), archive: await monthsToArchive(db, fromClause(table), settings, table.control.type!) };
}

/** Every read prep plans from, in one read-only snapshot. */
export async function readPrepState(db: Database, config: Config, input: string): Promise<PrepState> {
  return readOnce(db, async () => {
    const inspection = await inspectMigration(db, config, input, 'prep');
    return { inspection, source: sourceReadable(inspection) ? await readSource(db, config, inspection) : undefined };
  });
}
