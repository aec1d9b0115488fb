/**
 * What an application's ORM schema tool must leave alone, from the config: the tables partkit makes
 * next to each managed table (its months under both strategies, its default partition, the tables
 * of a migration in progress) and the schemas that are partkit's and pg_partman's. Printed by
 * `partkit config show --orm-filter`, so that the filter follows a config change (docs/orm.md).
 */
import type { Config } from './config.js';
import { displayName } from './identifiers.js';

/** What partkit names `<table>_<suffix>`, as globs (drizzle-kit's minimatch) and as a regular expression. */
const CHILD_SUFFIXES = [
  { glob: 'p[0-9][0-9][0-9][0-9]_[0-9][0-9]', regex: 'p\\d{4}_\\d{2}', what: 'a month made by pg_partman 4 (_pYYYY_MM)' },
  { glob: 'p[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]', regex: 'p\\d{8}', what: 'a month made by pg_partman 5 (_pYYYYMMDD)' },
  { glob: 'y[0-9][0-9][0-9][0-9]m[0-9][0-9]', regex: 'y\\d{4}m\\d{2}', what: "a month made by partkit's fallback (_yYYYYmMM)" },
  { glob: 'default', regex: 'default', what: 'the default partition' },
  { glob: 'partitioned', regex: 'partitioned', what: 'partkit migrate: the partitioned copy until the swap' },
  { glob: 'retired', regex: 'retired', what: 'partkit migrate: the original after the swap, until drop' },
  { glob: 'capture', regex: 'capture', what: 'partkit migrate: the changes captured during the migration' },
  { glob: 'foreign_keys', regex: 'foreign_keys', what: 'partkit migrate: foreign keys dropped at the swap, saved to recreate them' },
] as const;

export interface OrmFilter {
  /** drizzle-kit's `tablesFilter`: one negated glob per managed table, matching every name partkit makes beside it. */
  readonly tablesFilter: readonly string[];
  /** The same table names as one regular expression (for tools that take one). */
  readonly tablePattern: string;
  /** Schemas that hold only partkit's (and pg_partman's) objects: keep them out of every schema list an ORM reads. */
  readonly schemas: readonly string[];
  /** The partitioned tables partkit manages: the app queries them, but its ORM must not create or alter them. */
  readonly tables: readonly string[];
  /** What each alternative of the globs stands for. */
  readonly suffixes: readonly { readonly suffix: string; readonly what: string }[];
}

/** minimatch's special characters, escaped with a backslash so that a table name matches itself only. */
function globLiteral(text: string): string {
  return text.replace(/[\\*?[\]{}()!+@,]/g, '\\$&');
}

function regexLiteral(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

export function ormFilterOf(config: Config): OrmFilter {
  const names = [...new Set(config.tables.map((table) => table.name.name))];
  const alternatives = CHILD_SUFFIXES.map((suffix) => suffix.glob).join(',');
  const archiveSchemas = config.tables.map((table) => table.archiveSchema).filter((schema): schema is string => schema !== null);
  return {
    tablesFilter: names.map((name) => `!${globLiteral(name)}_{${alternatives}}`),
    tablePattern: `^(?:${names.map(regexLiteral).join('|')})_(?:${CHILD_SUFFIXES.map((suffix) => suffix.regex).join('|')})$`,
    schemas: [...new Set([config.kitSchema, ...archiveSchemas, config.partmanSchema])],
    tables: config.tables.map((table) => displayName(table.name)),
    suffixes: CHILD_SUFFIXES.map((suffix) => ({ suffix: `_${suffix.glob}`, what: suffix.what })),
  };
}

/** The filter as a drizzle.config.ts snippet, with the schemas and the regular expression as comments. */
export function renderOrmFilter(filter: OrmFilter, source: string): string {
  return [
    `// partkit's objects, from the config ${source}; docs/orm.md says how each ORM leaves them alone.`,
    '// drizzle.config.ts (drizzle-kit pull, push, generate):',
    `tablesFilter: ${JSON.stringify(filter.tablesFilter, null, 2)},`,
    `// schemaFilter: list only your own schemas, never ${filter.schemas.map((schema) => JSON.stringify(schema)).join(', ')}.`,
    `// Declare ${filter.tables.join(', ')} for queries, but not in the files drizzle-kit pushes (partkit creates them).`,
    `// The same table names as a regular expression: ${filter.tablePattern}`,
  ].join('\n');
}
