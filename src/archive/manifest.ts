/**
 * The manifest written next to each exported month, and where a month's files go under a target:
 * `<schema>.<table>/<YYYY-MM>.csv.gz` and `<YYYY-MM>.json`, the same for folders and object stores.
 */
import type { QualifiedName } from '../core/identifiers.js';

export const MANIFEST_FORMAT = 'partkit archive export 1: CSV with a header line, as COPY ... TO STDOUT WITH (FORMAT csv, HEADER), gzip';

export interface ArchiveColumn {
  readonly name: string;
  /** As format_type prints it: `uuid`, `character varying(20)`, `timestamp with time zone`. */
  readonly type: string;
}

/** What `<YYYY-MM>.json` next to each export holds. */
export interface ArchiveManifest {
  readonly format: string;
  /** The parent, as SQL writes it. */
  readonly table: string;
  readonly archived_table: string;
  readonly month: string;
  readonly rows: number;
  /** The .csv.gz, relative to the manifest. */
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly columns: readonly ArchiveColumn[];
  readonly exported_at: string;
  readonly database: string;
}

/** A name part as a file-name (or key) part: letters, digits, `_` and `-` stay, anything else is %XX (UTF-8). */
export function fileSafe(part: string): string {
  return part.replace(/[^A-Za-z0-9_-]/gu, (char) => [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/** The folder (or key prefix) of one parent table's months, relative to the target's root. */
export function tableKey(parent: QualifiedName): string {
  return `${fileSafe(parent.schema)}.${fileSafe(parent.name)}`;
}

/** Keys of the data file and manifest of one month; `base` is the month, or month.<archived name> when two share a month. */
export function monthKeys(parent: QualifiedName, base: string): { file: string; manifest: string } {
  return { file: `${tableKey(parent)}/${base}.csv.gz`, manifest: `${tableKey(parent)}/${base}.json` };
}

export function parseManifest(text: string | null): ArchiveManifest | null {
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as ArchiveManifest;
    return typeof parsed === 'object' && parsed !== null && typeof parsed.sha256 === 'string' ? parsed : null;
  } catch {
    // A manifest that does not parse is as good as none: the month is exported again.
    return null;
  }
}

export function sameColumns(a: readonly ArchiveColumn[] | undefined, b: readonly ArchiveColumn[]): boolean {
  return a !== undefined && a.length === b.length && a.every((column, i) => column.name === b[i]!.name && column.type === b[i]!.type);
}
