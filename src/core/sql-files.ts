/** SQL kept in .sql files under the package's sql/ folder, read once. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package's sql/ folder (the same relative place from src/core and dist/core). */
export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

const cache = new Map<string, string>();

export function readSql(relativePath: string): string {
  let text = cache.get(relativePath);
  if (text === undefined) {
    text = readFileSync(`${SQL_DIR}${relativePath}`, 'utf8');
    cache.set(relativePath, text);
  }
  return text;
}

export function sqlPath(relativePath: string): string {
  return `${SQL_DIR}${relativePath}`;
}

/**
 * The statements of a file that holds several, each after a line "-- name: <name>", with
 * {{table}} replaced by `table` (already quoted) and comment lines and the final ';' left out.
 * Throws when one of `names` is missing, so that a renamed statement fails at once.
 */
export function readNamedStatements<Name extends string>(relativePath: string, names: readonly Name[], table: string): Record<Name, string> {
  const found: Record<string, string> = {};
  for (const part of readSql(relativePath).split(/^-- name: /m).slice(1)) {
    const [name, ...body] = part.split('\n');
    found[name!.trim()] = body.filter((line) => !line.startsWith('--')).join('\n').trim().replace(/;$/, '').replaceAll('{{table}}', table);
  }
  for (const name of names) if (!found[name]) throw new Error(`sql/${relativePath} has no "-- name: ${name}" statement`);
  return found as Record<Name, string>;
}
