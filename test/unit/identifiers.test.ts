/**
 * Names as users write them (src/core/identifiers.ts), in process: parsing folds and unquotes as
 * SQL does, quoting always round-trips, and what the server would truncate or what could end a
 * comment line is refused before anything runs.
 */
import { describe, expect, it } from 'vitest';
import {
  checkIdentifierLength,
  displayName,
  findControlCharacter,
  MAX_IDENTIFIER_BYTES,
  parseQualifiedName,
  quoteIdent,
  quoteLiteral,
  quoteQualified,
} from '../../src/core/identifiers.js';
import { migrationNames } from '../../src/migrate/inspect.js';

/** Reads a quoted identifier back the way the server's scanner does: strip the quotes, halve "". */
function unquote(quoted: string): string {
  expect(quoted.startsWith('"') && quoted.endsWith('"')).toBe(true);
  const inner = quoted.slice(1, -1);
  expect(inner.replaceAll('""', '')).not.toContain('"');
  return inner.replaceAll('""', '"');
}

describe('parseQualifiedName', () => {
  it.each([
    ['messages', { schema: 'public', name: 'messages' }],
    ['Messages', { schema: 'public', name: 'messages' }],
    ['App.Messages', { schema: 'app', name: 'messages' }],
    ['"Messages"', { schema: 'public', name: 'Messages' }],
    ['"My Schema"."Odd ""Name"" Tbl"', { schema: 'My Schema', name: 'Odd "Name" Tbl' }],
    ['"a.b"."c.d"', { schema: 'a.b', name: 'c.d' }],
    ['"""".""""', { schema: '"', name: '"' }],
    ['"Ünïcödé Tëst"', { schema: 'public', name: 'Ünïcödé Tëst' }],
    ['_t$1', { schema: 'public', name: '_t$1' }],
    ["\"My 'Odd' Schema\".x", { schema: "My 'Odd' Schema", name: 'x' }],
    ['" leading and trailing "', { schema: 'public', name: ' leading and trailing ' }],
  ])('%s', (input, expected) => {
    expect(parseQualifiedName(input)).toEqual(expected);
  });

  it('uses the default schema it is given', () => {
    expect(parseQualifiedName('"Log"', 'Audit Trail')).toEqual({ schema: 'Audit Trail', name: 'Log' });
  });

  it.each([
    ['', /expected a name/],
    ['messages; DROP TABLE users', /unexpected character/],
    ['a b', /unexpected character/],
    ['a.b.c', /at most schema.table/],
    ['"unterminated', /unterminated quoted identifier/],
    ['""', /empty quoted identifier/],
    ['a.', /expected a name|unexpected character/],
    ['.a', /expected a name/],
    ['1abc', /expected a name/],
    ['"x"y', /unexpected character "y"/],
    ['a-b', /unexpected character "-"/],
  ])('refuses %j', (input, message) => {
    expect(() => parseQualifiedName(input)).toThrow(message);
  });

  it.each([
    ['new\nline', 'U+000A'],
    ['"tab\there"', 'U+0009'],
    ['"cr\rhere"', 'U+000D'],
    ['"del\u007fhere"', 'U+007F'],
    ['"nul\u0000here"', 'U+0000'],
  ])('refuses the control character in %j, naming it', (input, code) => {
    expect(() => parseQualifiedName(input)).toThrow(new RegExp(`control character ${code.replace('+', '\\+')}`));
  });

  it('accepts a name of exactly 63 bytes and refuses 64, counting bytes, not characters', () => {
    const fits = 'a'.repeat(MAX_IDENTIFIER_BYTES);
    expect(parseQualifiedName(fits).name).toBe(fits);
    expect(() => parseQualifiedName('a'.repeat(MAX_IDENTIFIER_BYTES + 1))).toThrow(/64 bytes long; PostgreSQL keeps only 63/);
    // 32 two-byte characters: 32 characters, 64 bytes.
    const wide = `"${'é'.repeat(32)}"`;
    expect(() => parseQualifiedName(wide)).toThrow(/64 bytes long/);
    expect(parseQualifiedName(`"${'é'.repeat(31)}x"`).name).toBe(`${'é'.repeat(31)}x`);
    expect(() => parseQualifiedName(`"${'s'.repeat(64)}".t`)).toThrow(/Schema name/);
  });

  it('round-trips through quoteQualified and displayName', () => {
    for (const input of ['messages', '"My Schema"."Odd ""Name"" Tbl"', '"UPPER".lower', '"Ünïcödé"."a b"', '"""".x']) {
      const parsed = parseQualifiedName(input);
      expect(parseQualifiedName(quoteQualified(parsed))).toEqual(parsed);
      expect(parseQualifiedName(displayName(parsed))).toEqual(parsed);
    }
  });
});

describe('quoteIdent and quoteQualified', () => {
  it.each(['messages', 'Messages', 'Odd "Name" Tbl', '"', '""', 'a.b', "it's", 'x; DROP TABLE y; --', 'Ünïcödé', ' '])('always quotes %j and reads back the same', (name) => {
    expect(unquote(quoteIdent(name))).toBe(name);
  });

  it('quotes each part of a qualified name on its own', () => {
    expect(quoteQualified({ schema: 'My Schema', name: 'Odd "Name" Tbl' })).toBe('"My Schema"."Odd ""Name"" Tbl"');
  });

  it('refuses an empty name and a NUL byte', () => {
    expect(() => quoteIdent('')).toThrow(/empty/);
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });
});

describe('displayName', () => {
  it('quotes only the parts that need it', () => {
    expect(displayName({ schema: 'public', name: 'messages' })).toBe('public.messages');
    expect(displayName({ schema: 'public', name: 'Messages' })).toBe('public."Messages"');
    expect(displayName({ schema: 'My Schema', name: 'a"b' })).toBe('"My Schema"."a""b"');
  });
});

describe('quoteLiteral', () => {
  it.each([
    [null, 'NULL'],
    [undefined, 'NULL'],
    [42, '42'],
    [10n, '10'],
    [true, 'true'],
    ["it's", "'it''s'"],
    ['back\\slash', "'back\\slash'"],
    ['', "''"],
    [['a', "b'c", null], "ARRAY['a', 'b''c', NULL]"],
    [{ k: "v'" }, `'{"k":"v''"}'`],
  ])('%s -> %s', (value, literal) => {
    expect(quoteLiteral(value)).toBe(literal);
  });

  it('renders a Date as its ISO text and refuses a NUL byte', () => {
    expect(quoteLiteral(new Date(Date.UTC(2026, 11, 31, 23, 59, 59)))).toBe("'2026-12-31T23:59:59.000Z'");
    expect(() => quoteLiteral('a\0b')).toThrow(/NUL/);
  });
});

describe('checkIdentifierLength and findControlCharacter', () => {
  it('names what is too long', () => {
    expect(() => checkIdentifierLength('x'.repeat(64), 'Table name')).toThrow(/^Table name "x{64}" is 64 bytes long/);
    expect(() => checkIdentifierLength('x'.repeat(63), 'Table name')).not.toThrow();
  });

  it('finds the first C0 control or DEL and nothing else', () => {
    expect(findControlCharacter('plain name')).toBeUndefined();
    expect(findControlCharacter('Ünïcödé "x"')).toBeUndefined();
    expect(findControlCharacter('a\u001bb\nc')).toBe('U+001B');
  });
});

describe('migrationNames: the names migrate derives from a table', () => {
  it('keeps the schema and suffixes the quoted name', () => {
    const names = migrationNames('"My Schema"."Odd ""Name"" Tbl"');
    expect(names.partitioned).toEqual({ schema: 'My Schema', name: 'Odd "Name" Tbl_partitioned' });
    expect(names.retired).toEqual({ schema: 'My Schema', name: 'Odd "Name" Tbl_retired' });
  });

  it('refuses a table whose derived names would be truncated, before anything runs', () => {
    // 52 bytes + "_partitioned" (12) = 64.
    expect(() => migrationNames('a'.repeat(52))).toThrow(/would be 64 bytes long/);
    expect(migrationNames('a'.repeat(51)).partitioned.name).toHaveLength(63);
  });
});
