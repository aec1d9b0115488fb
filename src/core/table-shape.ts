/**
 * The one check of a configured table's shape: a table partitioned by RANGE on one timestamptz,
 * timestamp or date control column that is NOT NULL, with a primary key that includes it.
 * provision refuses on these problems, doctor lists them and verify fails on them: all three
 * read the same messages from here, each ending in what to do about it.
 */
import type { TableState } from './capabilities.js';
import type { TableConfig } from './config.js';
import { quoteIdent, quoteQualified } from './identifiers.js';
import { controlTypeOf } from './partitions.js';
import { partkitCommand } from './shell.js';

/** What a table that does not exist needs; provision creates only the tables it has a template for. */
export function missingTableProblem(state: TableState, table: TableConfig): string {
  return `${state.name} does not exist: run \`partkit provision\` (it creates the Semibot tables; create any other table PARTITION BY RANGE (${table.controlColumn}) first).`;
}

export interface ShapeOptions {
  /**
   * provision refuses and verify fails a table without a primary key (rows cannot be told apart
   * when months move); doctor lists the tables as they are.
   */
  readonly requirePrimaryKey?: boolean;
}

/**
 * Every problem of an existing table's shape, each with its fix; empty when the table is fine or
 * does not exist (see missingTableProblem). A table that is not partitioned yields that one problem.
 */
export function tableShapeProblems(state: TableState, table: TableConfig, options: ShapeOptions = {}): string[] {
  if (!state.exists) return [];
  const label = state.name;
  const column = table.controlColumn;
  if (state.relkind === 'r') {
    return [`${label} is a plain table, not partitioned: run \`partkit migrate\` to move it to a table partitioned by RANGE (${column}) (\`${partkitCommand(['migrate', 'prep', label])}\`, then fill and swap).`];
  }
  if (state.relkind !== 'p') return [`${label} is not a table (relkind ${state.relkind}): point the config at the real table.`];
  const problems: string[] = [];
  if (!state.controlColumn.exists) problems.push(`${label} has no column ${column}: fix "controlColumn" in the config`);
  else if (!controlTypeOf(state.controlColumn.type)) problems.push(`${label}.${column} is ${state.controlColumn.type}: partkit needs timestamptz, timestamp or date`);
  else if (!state.controlColumn.notNull) {
    problems.push(`${label}.${column} is nullable: run ALTER TABLE ${quoteQualified(table.name)} ALTER COLUMN ${quoteIdent(column)} SET NOT NULL after fixing NULL rows`);
  }
  if (state.partitionStrategy !== 'range' || state.partitionKey.join(',') !== column) {
    problems.push(`${label} is partitioned by ${state.partitionStrategy?.toUpperCase()} (${state.partitionKey.join(', ')}), not by RANGE (${column}): recreate it partitioned by RANGE (${column}) and move the rows over`);
  }
  if (!state.primaryKey) {
    if (options.requirePrimaryKey) problems.push(`${label} has no primary key: add one that includes ${column}, e.g. ALTER TABLE ${quoteQualified(table.name)} ADD PRIMARY KEY (id, ${quoteIdent(column)})`);
  } else if (!state.primaryKeyIncludesControl) {
    problems.push(`${label}'s primary key (${state.primaryKey.join(', ')}) does not include ${column}: recreate it as PRIMARY KEY (${[...state.primaryKey, column].join(', ')})`);
  }
  return problems;
}
