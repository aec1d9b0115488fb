/**
 * The archive's CSV (src/archive/csv.ts), in process: fields written by csvField read back as the
 * same values under the rules `COPY ... FROM ... WITH (FORMAT csv)` reads by (NULL is an unquoted
 * empty field, '' a quoted one), and the read-back check counts records right however the bytes
 * are split into chunks. test/archive.test.ts checks the same files against real servers.
 */
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkExportStream, csvField, csvHeader, CsvRecordCounter, hashTap } from '../../src/archive/csv.js';
import { createHash } from 'node:crypto';
import { readCopyCsv, type Field } from '../helpers/csv.js';


const ADVERSARIAL: Field[] = [
  null,
  '',
  ' ',
  'plain',
  'a,b',
  '"',
  '""',
  'say "hi"',
  '"quoted"',
  'line\nbreak',
  'cr\rlf\r\n',
  '\n',
  ',',
  '\\',
  'back\\slash\\',
  '\\N',
  'NULL',
  '\\.',
  '.',
  'Ünïcödé 🚀 中文',
  '\t tab',
  "it's",
  ' leading and trailing ',
  '"\n,"',
];

function toCsv(rows: readonly Field[][]): string {
  return rows.map((row) => `${row.map(csvField).join(',')}\n`).join('');
}

describe('csvField', () => {
  it('writes NULL as an unquoted empty field and the empty string quoted', () => {
    expect(csvField(null)).toBe('');
    expect(csvField('')).toBe('""');
  });

  it('quotes a field holding a delimiter, quote, line break or the end-of-data marker, and nothing else', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('\\')).toBe('\\');
    expect(csvField('\\N')).toBe('\\N');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('a\nb')).toBe('"a\nb"');
    expect(csvField('a\rb')).toBe('"a\rb"');
    expect(csvField('\\.')).toBe('"\\."');
  });

  it.each(ADVERSARIAL.map((value) => [value]))('round-trips %j alone and between others', (value) => {
    const rows: Field[][] = [[value], [value, value], ['x', value, null], [null, value, '']];
    expect(readCopyCsv(toCsv(rows))).toEqual(rows);
  });

  it('round-trips every pair of adversarial values in one file', () => {
    const rows: Field[][] = ADVERSARIAL.flatMap((a) => ADVERSARIAL.map((b) => [a, b]));
    expect(readCopyCsv(toCsv(rows))).toEqual(rows);
  });

  it('writes a header of column names that need quoting', () => {
    const header = csvHeader([
      { name: 'id', type: 'bigint' },
      { name: 'Odd "Name", Col', type: 'text' },
    ]);
    expect(readCopyCsv(header)).toEqual([['id', 'Odd "Name", Col']]);
  });
});

describe('CsvRecordCounter', () => {
  const header = `${['id', 'Odd "Name", Col', 'note'].map(csvField).join(',')}\n`;
  const rows: Field[][] = ADVERSARIAL.map((value, i) => [String(i), value, 'line\nin "quotes"']);
  const text = header + toCsv(rows);

  async function countIn(chunks: readonly Buffer[]): Promise<CsvRecordCounter> {
    const counter = new CsvRecordCounter();
    for (const chunk of chunks) await new Promise<void>((resolve, reject) => counter.write(chunk, (error) => (error ? reject(error) : resolve())));
    await new Promise<void>((resolve) => counter.end(resolve));
    return counter;
  }

  it('counts records, not lines, and keeps the header', async () => {
    const counter = await countIn([Buffer.from(text)]);
    expect(counter.rows).toBe(rows.length);
    expect(counter.header).toBe(header);
  });

  it('gives the same count and header however the bytes are split, even inside a quoted field or a UTF-8 character', async () => {
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const counter = await countIn([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect([cut, counter.rows, counter.header]).toEqual([cut, rows.length, header]);
    }
    const oneByteAtATime = await countIn([...bytes].map((byte) => Buffer.from([byte])));
    expect([oneByteAtATime.rows, oneByteAtATime.header]).toEqual([rows.length, header]);
  });

  it('counts a last record without a line break, and a header-only file as no rows', async () => {
    expect((await countIn([Buffer.from(`${header}1,x,y`)])).rows).toBe(1);
    expect((await countIn([Buffer.from(header)])).rows).toBe(0);
    expect((await countIn([])).rows).toBe(0);
  });
});

describe('checkExportStream', () => {
  it('reads a .csv.gz back: sha256 and size of the stored bytes, rows and header of the CSV inside', async () => {
    const header = 'id,value\n';
    const rows: Field[][] = ADVERSARIAL.map((value, i) => [String(i), value]);
    const gz = gzipSync(Buffer.from(header + toCsv(rows)));
    const check = await checkExportStream(Readable.from([gz.subarray(0, 7), gz.subarray(7)]));
    expect(check).toEqual({ sha256: createHash('sha256').update(gz).digest('hex'), bytes: gz.length, rows: rows.length, header });
  });

  it('fails on bytes that are not gzip', async () => {
    await expect(checkExportStream(Readable.from([Buffer.from('id,value\n1,2\n')]))).rejects.toThrow();
  });

  it('hashTap passes the bytes through unchanged', async () => {
    const tap = hashTap();
    const out: Buffer[] = [];
    tap.stream.on('data', (chunk: Buffer) => out.push(chunk));
    const done = new Promise((resolve) => tap.stream.on('end', resolve));
    tap.stream.end(Buffer.from('Ünïcödé'));
    await done;
    expect(Buffer.concat(out).toString('utf8')).toBe('Ünïcödé');
    expect(tap.digest()).toEqual({ sha256: createHash('sha256').update('Ünïcödé').digest('hex'), bytes: Buffer.byteLength('Ünïcödé') });
  });
});
