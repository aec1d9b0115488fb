/**
 * Reading a partition set: attached children with their month bounds in the table's zone,
 * and the month arithmetic every strategy shares.
 */
import type { Database } from './db.js';
import type { QualifiedName } from './identifiers.js';
import { readSql } from './sql-files.js';

export type ControlType = 'timestamptz' | 'timestamp' | 'date';

export interface Partition {
  readonly schema: string;
  readonly name: string;
  readonly isDefault: boolean;
  /** Wall-clock lower bound in the table's zone, 'YYYY-MM-DD HH24:MI:SS'; null for the default. */
  readonly lower: string | null;
  readonly upper: string | null;
  readonly bound: string;
  readonly estimatedRows: number;
  readonly bytes: number;
}

/** 'timestamp with time zone' and friends, as format_type prints them. */
export function controlTypeOf(formatted: string | null): ControlType | undefined {
  switch (formatted) {
    case 'timestamp with time zone':
      return 'timestamptz';
    case 'timestamp without time zone':
      return 'timestamp';
    case 'date':
      return 'date';
    default:
      return undefined;
  }
}

export async function listPartitions(db: Database, table: QualifiedName, timeZone: string, controlType: ControlType): Promise<Partition[]> {
  const rows = await db.query<{ schema: string; name: string; is_default: boolean; lower_local: string | null; upper_local: string | null; bound: string; estimated_rows: string; bytes: string }>(
    readSql('queries/partitions.sql'),
    [table.schema, table.name, timeZone, controlType],
  );
  return rows.map((row) => ({
    schema: row.schema,
    name: row.name,
    isDefault: row.is_default,
    lower: row.lower_local,
    upper: row.upper_local,
    bound: row.bound,
    estimatedRows: Number(row.estimated_rows),
    bytes: Number(row.bytes),
  }));
}

export interface Month {
  readonly year: number;
  readonly month: number;
}

export function addMonths(month: Month, count: number): Month {
  const index = month.year * 12 + (month.month - 1) + count;
  return { year: Math.floor(index / 12), month: (index % 12) + 1 };
}

export function monthKey(month: Month): string {
  return `${month.year}-${String(month.month).padStart(2, '0')}`;
}

/** The server's clock: the one clock partkit counts months from, as maintenance and pg_cron do. */
export async function serverNow(db: Database): Promise<Date> {
  const [row] = await db.query<{ now: Date }>('SELECT now() AS now');
  return row!.now;
}

/** The month that contains `now` (the server's clock: `caps.server.now`) in the given zone. */
export function currentMonth(timeZone: string, now: Date): Month {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric' }).formatToParts(now);
  const year = Number(parts.find((p) => p.type === 'year')!.value);
  const month = Number(parts.find((p) => p.type === 'month')!.value);
  return { year, month };
}

/** Month keys ('YYYY-MM') that an attached child covers exactly, from its local bounds. */
export function coveredMonth(partition: Partition): string | undefined {
  if (!partition.lower || !partition.upper) return undefined;
  const lower = /^(\d{4})-(\d{2})-01 00:00:00$/.exec(partition.lower);
  const upper = /^(\d{4})-(\d{2})-01 00:00:00$/.exec(partition.upper);
  if (!lower || !upper) return undefined;
  const from = { year: Number(lower[1]), month: Number(lower[2]) };
  return monthKey(addMonths(from, 1)) === `${upper[1]}-${upper[2]}` ? monthKey(from) : undefined;
}

/** Month start as a literal the server reads in the given zone ('2026-11-01 00:00:00'). */
export function monthStartLiteral(month: Month): string {
  return `${monthKey(month)}-01 00:00:00`;
}
