/**
 * Read-only inspection for `partkit migrate`: the table being migrated, its partitioned copy
 * (`<table>_partitioned`), the retired original (`<table>_retired`), and what points at them.
 * The three names are defined here too.
 */
import { distributionColumnOf } from '../core/citus.js';
import type { Config, TableConfig } from '../core/config.js';
import { BUILTIN_DEFAULTS } from '../core/config.js';
import type { Database } from '../core/db.js';
import { MissingCapabilityError } from '../core/errors.js';
import { checkIdentifierLength, displayName, parseQualifiedName, quoteIdent, type QualifiedName } from '../core/identifiers.js';
import { controlTypeOf, type ControlType } from '../core/partitions.js';
import { readSql } from '../core/sql-files.js';
import { tableNotFound } from '../core/table-lookup.js';

/** `<table>_partitioned` and `<table>_retired`: the names pgslice users know, in partkit's layout. */
export interface MigrationNames {
  readonly table: QualifiedName;
  readonly partitioned: QualifiedName;
  readonly retired: QualifiedName;
}

/** A derived name longer than 63 bytes would be truncated by the server: refused before anything changes. */
export function checkDerivedName(name: string, what: string): void {
  checkIdentifierLength(name, what, {
    derived: true,
    hint: 'Rename the table to something shorter first (ALTER TABLE ... RENAME TO ...), then run partkit migrate again; nothing was changed.',
  });
}

export function migrationNames(input: string): MigrationNames {
  const table = parseQualifiedName(input);
  const partitioned = { schema: table.schema, name: `${table.name}_partitioned` };
  const retired = { schema: table.schema, name: `${table.name}_retired` };
  checkDerivedName(partitioned.name, 'The partitioned copy\'s name');
  checkDerivedName(retired.name, 'The retired table\'s name');
  return { table, partitioned, retired };
}

/** The table's settings from the config, or the defaults for a table the config does not list. */
export function tableSettings(config: Config, table: QualifiedName): { settings: TableConfig; configured: boolean } {
  const found = config.tables.find((entry) => entry.name.schema === table.schema && entry.name.name === table.name);
  if (found) return { settings: found, configured: true };
  return {
    configured: false,
    settings: {
      name: table,
      controlColumn: BUILTIN_DEFAULTS.controlColumn,
      interval: '1 month',
      premake: BUILTIN_DEFAULTS.premake,
      retention: BUILTIN_DEFAULTS.retention,
      archiveSchema: 'partkit_archive',
      purgeAfter: null,
      timeZone: BUILTIN_DEFAULTS.timeZone,
      // A migrated table keeps its ids.
      ids: 'random',
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Relations

export interface Relation {
  readonly name: QualifiedName;
  readonly label: string;
  readonly oid: number;
  /** 'r' table, 'p' partitioned table, ... */
  readonly relkind: string;
  readonly owner: string;
  readonly comment: string | null;
  readonly estimatedRows: number;
  /** Schema-qualified, quoted as quote_ident does (how pg_get_indexdef prints it). */
  readonly quoted: string;
  readonly quotedName: string;
  readonly control: { readonly exists: boolean; readonly type: ControlType | undefined; readonly typeText: string | null; readonly notNull: boolean; readonly indexed: boolean };
  readonly partitionStrategy: string | null;
  readonly partitionKey: readonly string[];
  readonly rowSecurity: boolean;
  readonly triggers: readonly string[];
  readonly publications: readonly string[];
  /** The Citus distribution column when the table is a distributed (hash) table; null otherwise. */
  readonly distributedBy: string | null;
}

export async function readRelation(db: Database, name: QualifiedName, controlColumn: string): Promise<Relation | undefined> {
  const [row] = await db.query<{
    oid: string;
    relkind: string;
    owner: string;
    comment: string | null;
    estimated_rows: string;
    quoted: string;
    quoted_name: string;
    control_exists: boolean;
    control_type: string | null;
    control_not_null: boolean;
    partition_strategy: string | null;
    partition_key: string[] | null;
    control_indexed: boolean;
    row_security: boolean;
    triggers: string[] | null;
    publications: string[] | null;
  }>(readSql('queries/migrate-relation.sql'), [name.schema, name.name, controlColumn]);
  if (!row) return undefined;
  return {
    distributedBy: await distributionColumnOf(db, Number(row.oid)),
    name,
    label: displayName(name),
    oid: Number(row.oid),
    relkind: row.relkind,
    owner: row.owner,
    comment: row.comment,
    estimatedRows: Number(row.estimated_rows),
    quoted: row.quoted,
    quotedName: row.quoted_name,
    control: { exists: row.control_exists, type: controlTypeOf(row.control_type), typeText: row.control_type, notNull: row.control_not_null, indexed: row.control_indexed },
    partitionStrategy: row.partition_strategy,
    partitionKey: row.partition_key ?? [],
    rowSecurity: row.row_security,
    triggers: row.triggers ?? [],
    publications: row.publications ?? [],
  };
}

export interface Column {
  readonly name: string;
  /** quote_ident form. */
  readonly quoted: string;
  readonly type: string;
  readonly generated: boolean;
  /** '' none, 'a' GENERATED ALWAYS, 'd' BY DEFAULT. */
  readonly identity: string;
  /** The sequence the column owns: serial ('a', OWNED BY) or identity ('i', internal). */
  readonly sequence: { readonly name: QualifiedName; readonly dependency: 'a' | 'i' } | null;
}

export async function readColumns(db: Database, oid: number): Promise<Column[]> {
  const rows = await db.query<{ name: string; quoted: string; type: string; generated: boolean; identity: string; seq_schema: string | null; seq_name: string | null; deptype: string | null }>(
    readSql('queries/migrate-columns.sql'),
    [oid],
  );
  return rows.map((row) => ({
    name: row.name,
    quoted: row.quoted,
    type: row.type,
    generated: row.generated,
    identity: row.identity,
    sequence: row.seq_schema && row.seq_name ? { name: { schema: row.seq_schema, name: row.seq_name }, dependency: row.deptype === 'i' ? 'i' : 'a' } : null,
  }));
}

export interface Index {
  readonly name: string;
  readonly isPrimary: boolean;
  readonly isUnique: boolean;
  /** 'p', 'u' or 'x' when a constraint owns the index. */
  readonly constraintType: string | null;
  readonly definition: string;
  /** What follows "USING " in the definition ("btree (session_id, created_at)"); undefined when it could not be split. */
  readonly method: string | undefined;
  /** Key columns, quote_ident form; null entries are expressions. */
  readonly keyColumns: readonly (string | null)[];
  readonly keyNames: readonly string[];
  readonly hasExpressions: boolean;
  readonly isPartial: boolean;
}

/** The part of pg_get_indexdef after "ON <table> USING ", which does not name the table or the index. */
function methodPart(definition: string, prefix: string, relation: Relation): string | undefined {
  if (!definition.startsWith(prefix)) return undefined;
  let rest = definition.slice(prefix.length);
  if (rest.startsWith('ONLY ')) rest = rest.slice('ONLY '.length);
  for (const tableText of [relation.quoted, relation.quotedName]) {
    if (rest.startsWith(`${tableText} USING `)) return rest.slice(`${tableText} USING `.length);
  }
  return undefined;
}

export async function readIndexes(db: Database, relation: Relation): Promise<Index[]> {
  const rows = await db.query<{
    name: string;
    is_primary: boolean;
    is_unique: boolean;
    constraint_type: string | null;
    definition: string;
    prefix: string;
    key_columns: (string | null)[] | null;
    key_names: string[] | null;
    has_expressions: boolean;
    is_partial: boolean;
  }>(readSql('queries/migrate-indexes.sql'), [relation.oid]);
  return rows.map((row) => ({
    name: row.name,
    isPrimary: row.is_primary,
    isUnique: row.is_unique,
    constraintType: row.constraint_type,
    definition: row.definition,
    method: methodPart(row.definition, row.prefix, relation),
    keyColumns: row.key_columns ?? [],
    keyNames: row.key_names ?? [],
    hasExpressions: row.has_expressions,
    isPartial: row.is_partial,
  }));
}

export interface Dependent {
  readonly kind: 'view' | 'foreign key';
  readonly name: string;
  readonly definition: string | null;
}

/** Views and foreign keys that point at the table (they follow it through a rename). */
export async function readDependents(db: Database, oid: number): Promise<Dependent[]> {
  return db.query<Dependent>(readSql('queries/migrate-dependents.sql'), [oid]);
}

export interface View {
  readonly name: string;
  readonly relkind: string;
  readonly definition: string;
  readonly options: string[] | null;
}

/** Views (and materialized views) that read the table directly. */
export async function readViews(db: Database, oid: number): Promise<View[]> {
  return db.query<View>(readSql('queries/migrate-views.sql'), [oid]);
}

/**
 * What happens to foreign keys of other tables that point at the migrated table, said by prep and
 * swap before anything is dropped: the two documented choices (docs/migration.md) and what each costs.
 */
export function foreignKeyConsequences(label: string, keyAfter: readonly string[], control: string, retention: string | null): string {
  return [
    `A foreign key to the partitioned ${label} must name its whole primary key (${keyAfter.join(', ')}), so each referencing table needs its own copy of ${control}.`,
    `Choices: keep --foreign-keys refuse (the default: nothing happens until you drop them yourself), or --foreign-keys drop: the swap drops them and prints (and saves in the _foreign_keys table) the DDL that recreates each one with MATCH FULL.`,
    `MATCH FULL, because with the default MATCH SIMPLE a row whose ${control} copy is NULL is not checked at all, and a dangling reference goes unnoticed.`,
    retention === null
      ? `Retention is off for ${label}, so no month is archived under a recreated key.`
      : `Once recreated, a month still referenced cannot be archived (PostgreSQL refuses to detach it): maintenance reports that table as failed until the referencing rows are gone; leave the keys dropped, or set "retention": null for ${label}, if old rows must stay referenced.`,
  ].join(' ');
}

/** Foreign keys the table itself declares (LIKE does not copy them). */
export async function readOutgoingForeignKeys(db: Database, oid: number): Promise<{ name: string; definition: string }[]> {
  return db.query<{ name: string; definition: string }>(
    `SELECT conname::text AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
      WHERE conrelid = $1::oid AND contype = 'f' AND confrelid <> $1::oid ORDER BY conname`,
    [oid],
  );
}

/** Privileges granted on the table to roles other than its owner, as `grantee|privilege` ('PUBLIC' for everyone). */
export async function readGrants(db: Database, oid: number): Promise<{ grantee: string; privilege: string; grantable: boolean }[]> {
  return db.query<{ grantee: string; privilege: string; grantable: boolean }>(
    `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee,
            a.privilege_type AS privilege, a.is_grantable AS grantable
       FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
      WHERE c.oid = $1::oid AND a.grantee <> c.relowner
      ORDER BY 1, 2`,
    [oid],
  );
}

/** Columns partkit reads as the migrated table's primary key, for batching and catch-up. */
export function primaryKey(indexes: readonly Index[]): Index | undefined {
  return indexes.find((index) => index.isPrimary);
}

/** The swap state of the three names. */
export type MigrationState =
  /** `<table>` is a plain table; `<table>_partitioned` may or may not exist yet. */
  | 'unswapped'
  /** `<table>` is the partitioned table and `<table>_retired` the original. */
  | 'swapped'
  /** Anything else: the message says what. */
  | 'other';

export interface MigrationInspection {
  readonly names: MigrationNames;
  readonly settings: TableConfig;
  readonly configured: boolean;
  readonly table: Relation | undefined;
  readonly partitioned: Relation | undefined;
  readonly retired: Relation | undefined;
  readonly state: MigrationState;
}

/**
 * The three names and what they are now. `phase` is the migrate command asking (prep, fill, ...):
 * when none of the three exists, the name is a typo, and the error names the closest table with
 * that command for it.
 */
export async function inspectMigration(db: Database, config: Config, input: string, phase: string): Promise<MigrationInspection> {
  const names = migrationNames(input);
  const { settings, configured } = tableSettings(config, names.table);
  const column = settings.controlColumn;
  const table = await readRelation(db, names.table, column);
  const partitioned = await readRelation(db, names.partitioned, column);
  const retired = await readRelation(db, names.retired, column);
  if (!table && !partitioned && !retired) throw await tableNotFound(db, names.table, (found) => `partkit migrate ${phase} ${found}`);
  let state: MigrationState = 'other';
  if (table?.relkind === 'r' && retired === undefined) state = 'unswapped';
  else if (table?.relkind === 'p' && retired?.relkind === 'r' && partitioned === undefined) state = 'swapped';
  return { names, settings, configured, table, partitioned, retired, state };
}

/** Refuses a control column partkit cannot partition by, saying how to fix it. */
export function checkControlColumn(relation: Relation, column: string): void {
  const label = relation.label;
  if (!relation.control.exists) {
    throw new MissingCapabilityError(
      `${label} has no column ${column} (nothing was changed).`,
      `Set "controlColumn" for ${label} in the config (--config) to its timestamptz, timestamp or date column.`,
    );
  }
  if (relation.control.type === undefined) {
    throw new MissingCapabilityError(`${label}.${column} is ${relation.control.typeText}; partkit partitions by month on timestamptz, timestamp or date (nothing was changed).`);
  }
  if (!relation.control.notNull) {
    throw new MissingCapabilityError(
      `${label}.${column} is nullable; a partition key must be NOT NULL (nothing was changed).`,
      `Give the NULL rows a value (UPDATE ${relation.quoted} SET ${quoteIdent(column)} = ... WHERE ${quoteIdent(column)} IS NULL), then ALTER TABLE ${relation.quoted} ALTER COLUMN ${quoteIdent(column)} SET NOT NULL; and run partkit migrate prep again.`,
    );
  }
}
