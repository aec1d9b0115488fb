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
