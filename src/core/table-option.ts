/**
 * `--table T` of provision, verify and status: the config narrowed to one of its tables, so that a
 * command works on that table alone (the others may still be plain tables waiting for migrate).
 */
import type { Config } from './config.js';
import { UsageError } from './errors.js';
import { displayName, parseQualifiedName } from './identifiers.js';
import { editDistance } from './table-lookup.js';

export function withOnlyTable(config: Config, table: string | undefined, command: string): Config {
  if (table === undefined) return config;
  const name = parseQualifiedName(table);
  const found = config.tables.filter((entry) => entry.name.schema === name.schema && entry.name.name === name.name);
  if (found.length > 0) return { ...config, tables: found };
  const label = displayName(name);
  const closest = [...config.tables].sort((a, b) => editDistance(label, displayName(a.name)) - editDistance(label, displayName(b.name)))[0];
  throw new UsageError(
    `--table ${label} is not a table of the config ${config.source} (its tables: ${config.tables.map((entry) => displayName(entry.name)).join(', ')}).`,
    closest ? `partkit ${command} --table ${displayName(closest.name)}` : 'Add the table to the config first.',
  );
}
