/**
 * The one place where identifiers are quoted and names are parsed.
 * Values never go through here: they are passed as $n parameters. Literals are only
 * rendered for DDL (which cannot take parameters) and for --dry-run output.
 */
import { IdentifierTooLongError, UsageError } from './errors.js';

/** PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated by the server. */
export const MAX_IDENTIFIER_BYTES = 63;

export interface QualifiedName {
  readonly schema: string;
  readonly name: string;
}

/** Always quotes, so mixed case, spaces and quotes survive and nothing can be injected. */
export function quoteIdent(identifier: string): string {
  if (identifier.length === 0) throw new UsageError('An identifier cannot be empty.');
  if (identifier.includes('\0')) throw new UsageError('An identifier cannot contain a NUL byte.');
  return `"${identifier.replaceAll('"', '""')}"`;
}

export function quoteQualified(name: QualifiedName): string {
  return `${quoteIdent(name.schema)}.${quoteIdent(name.name)}`;
}

/** Renders a value as a SQL literal; used for DDL bounds and for printing plans. */
export function quoteLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return quoteLiteral(value.toISOString());
  if (Array.isArray(value)) {
    return `ARRAY[${value.map((item) => quoteLiteral(item)).join(', ')}]`;
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text.includes('\0')) throw new UsageError('A value cannot contain a NUL byte.');
  // standard_conforming_strings is on (the default since 9.1): backslashes need no escaping.
  return `'${text.replaceAll("'", "''")}'`;
}

/** Throws IdentifierTooLongError when a name would be truncated by the server. */
export function checkIdentifierLength(identifier: string, what: string, options: { derived?: boolean; hint?: string } = {}): void {
  const bytes = Buffer.byteLength(identifier, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new IdentifierTooLongError(
      `${what} "${identifier}" ${options.derived ? 'would be' : 'is'} ${bytes} bytes long; PostgreSQL keeps only ${MAX_IDENTIFIER_BYTES}.`,
      options.hint ?? 'Use a shorter table name.',
    );
  }
}

/** C0 controls (tab, newline, CR, ...) and DEL: never part of a name or a setting partkit accepts. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** The first control character of `text` as "U+000A", or undefined when there is none. */
export function findControlCharacter(text: string): string | undefined {
  const match = CONTROL_CHARACTER.exec(text);
  return match ? `U+${match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/**
 * Parses a table name written as SQL would: `messages`, `public.messages`, `"Odd ""Name"" Logs"`.
 * Unquoted parts fold to lower case and must be plain identifiers, so `x; DROP TABLE y` is rejected.
 */
export function parseQualifiedName(input: string, defaultSchema = 'public'): QualifiedName {
  const parts: string[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new UsageError(
      `Invalid table name ${JSON.stringify(input)}: ${why}.`,
      'Write it as in SQL: schema.table, with double quotes around parts that need them ("My Table").',
    );
  };
  // Even quoted, a newline in a name would end a comment line of a --dry-run script.
  const control = findControlCharacter(input);
  if (control) fail(`it contains the control character ${control}`);
  while (i <= input.length) {
    if (input[i] === '"') {
      let part = '';
      i += 1;
      for (;;) {
        if (i >= input.length) fail('unterminated quoted identifier');
        if (input[i] === '"') {
          if (input[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        part += input[i];
        i += 1;
      }
      if (part.length === 0) fail('empty quoted identifier');
      parts.push(part);
    } else {
      const match = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(input.slice(i));
      if (!match) fail(i === 0 ? 'expected a name' : `unexpected character at position ${i + 1}`);
      parts.push(match![0].toLowerCase());
      i += match![0].length;
    }
    if (i === input.length) break;
    if (input[i] !== '.') fail(`unexpected character ${JSON.stringify(input[i])} at position ${i + 1}`);
    i += 1;
  }
  if (parts.length > 2) fail('expected at most schema.table');
  const [first, second] = parts;
  const name: QualifiedName = second === undefined ? { schema: defaultSchema, name: first! } : { schema: first!, name: second };
  checkIdentifierLength(name.schema, 'Schema name');
  checkIdentifierLength(name.name, 'Table name');
  return name;
}

/**
 * `schema.table` as text, unquoted: the key pg_partman's part_config records a parent under
 * (its functions split it on the dot). Not for SQL, and not for people: see displayName.
 */
export function dottedName(name: QualifiedName): string {
  return `${name.schema}.${name.name}`;
}

/**
 * The form users read and the server's `regclass` input accepts: every message, step
 * description and JSON `table` key names a table this way.
 */
export function displayName(name: QualifiedName): string {
  const show = (part: string) => (/^[a-z_][a-z0-9_$]*$/.test(part) ? part : quoteIdent(part));
  return `${show(name.schema)}.${show(name.name)}`;
}
