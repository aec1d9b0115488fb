/**
 * The tables partkit creates itself (sql/tables/<name>.sql, Semibot's four): which file, and the
 * columns and partition key its DDL declares, so a config can be checked against it before
 * anything is created.
 */
import { existsSync } from 'node:fs';
import type { TableConfig } from './config.js';
import { readSql, sqlPath } from './sql-files.js';

export interface TableTemplate {
  /** Relative to sql/. */
  readonly file: string;
  readonly columns: readonly string[];
  /** The column of PARTITION BY RANGE (...). */
  readonly partitionKey: string;
}

const TABLE_CONSTRAINT = /^(PRIMARY|UNIQUE|CONSTRAINT|CHECK|FOREIGN|EXCLUDE)$/i;

/** Columns and partition key of a template's CREATE TABLE (one column per line, as the files are written). */
export function parseTemplate(file: string, ddl: string): TableTemplate {
  const body = /CREATE TABLE \{\{table\}\} \(([\s\S]*?)\n\) PARTITION BY RANGE \(([a-z_][a-z0-9_]*)\)/.exec(ddl);
  if (!body) throw new Error(`internal: sql/${file} has no CREATE TABLE {{table}} (...) PARTITION BY RANGE (column)`);
  const columns = body[1]!
    .split('\n')
    .map((line) => /^\s*([a-z_][a-z0-9_]*)\s+\S/i.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && !TABLE_CONSTRAINT.test(name));
  return { file, columns, partitionKey: body[2]! };
}

/** The template partkit would create `table` from when it is missing; undefined for other tables. */
export function tableTemplate(table: TableConfig): TableTemplate | undefined {
  const file = `tables/${table.name.name}.sql`;
  if (!/^[a-z_]+$/.test(table.name.name) || !existsSync(sqlPath(file))) return undefined;
  return parseTemplate(file, readSql(file));
}
