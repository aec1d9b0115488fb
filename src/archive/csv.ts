/**
 * CSV as `COPY ... TO STDOUT WITH (FORMAT csv, HEADER)` writes it, and the read-back check of a
 * .csv.gz: its sha256 as stored, and the CSV records inside it.
 */
import { createHash } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ArchiveColumn } from './manifest.js';

/**
 * One field as `COPY ... (FORMAT csv)` writes it: NULL is empty and unquoted, and a value is quoted
 * when it is empty or holds a delimiter, quote or line break (or is `\.`), quotes doubled. So a
 * file reads back with `COPY ... FROM ... WITH (FORMAT csv, HEADER)` into the same values.
 */
export function csvField(value: string | null): string {
  if (value === null) return '';
  if (value === '' || value === '\\.' || /[",\r\n]/.test(value)) return `"${value.replaceAll('"', '""')}"`;
  return value;
}

export function csvHeader(columns: readonly ArchiveColumn[]): string {
  return `${columns.map((column) => csvField(column.name)).join(',')}\n`;
}

/** Counts CSV records (line breaks outside quotes) and keeps the first one, the header. */
export class CsvRecordCounter extends Writable {
  records = 0;
  private inQuotes = false;
  private trailing = false;
  private readonly headerParts: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let headerStart = this.records === 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i];
      if (byte === 0x22) {
        this.inQuotes = !this.inQuotes;
      } else if (byte === 0x0a && !this.inQuotes) {
        if (this.records === 0) {
          this.headerParts.push(chunk.subarray(headerStart, i + 1));
          headerStart = -1;
        }
        this.records += 1;
        this.trailing = false;
        continue;
      }
      this.trailing = true;
    }
    if (headerStart >= 0) this.headerParts.push(chunk.subarray(headerStart));
    callback();
  }

  /** Records after the header; a last record without a line break counts too. */
  get rows(): number {
    return Math.max(0, this.records + (this.trailing ? 1 : 0) - 1);
  }

  get header(): string {
    return Buffer.concat(this.headerParts).toString('utf8');
  }
}

/** sha256 and size of the bytes going through. */
export function hashTap(): { stream: Transform; digest: () => { sha256: string; bytes: number } } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, digest: () => ({ sha256: hash.digest('hex'), bytes }) };
}

/** What reading a .csv.gz back gives. */
export interface FileCheck {
  readonly sha256: string;
  readonly bytes: number;
  readonly rows: number;
  readonly header: string;
}

/** Reads a .csv.gz back (from a file or an object): checksum as stored, and the CSV records inside it. */
export async function checkExportStream(source: Readable): Promise<FileCheck> {
  const tap = hashTap();
  const counter = new CsvRecordCounter();
  await pipeline(source, tap.stream, createGunzip(), counter);
  const { sha256, bytes } = tap.digest();
  return { sha256, bytes, rows: counter.rows, header: counter.header };
}
