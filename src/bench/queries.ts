/**
 * The data set and the queries of `partkit bench`. Rows are deterministic (ids and sessions are
 * md5 of the row number), spread evenly over the months before the current one, so that every
 * layout holds the same rows and a query's literal and now()-relative forms select the same rows.
 */
import { createHash } from 'node:crypto';
import { quoteQualified, type QualifiedName } from '../core/identifiers.js';
import type { Month } from '../core/partitions.js';
import { quoteLiteral } from '../core/identifiers.js';

/** Distinct chat sessions; each has messages spread over the whole history. */
export const SESSIONS = 5000;

export interface DataSet {
  readonly rows: number;
  readonly firstMonth: Month;
  /** The current month (the server's, in UTC): new rows go here; the data ends where it starts. */
  readonly hotMonth: Month;
  readonly start: Date;
  readonly end: Date;
}

export function monthStart(month: Month): Date {
  return new Date(Date.UTC(month.year, month.month - 1, 1));
}

/** The start of the month `months` before the current one, as PostgreSQL computes it in UTC. */
function monthsBack(data: DataSet, months: number): Date {
  return new Date(Date.UTC(data.hotMonth.year, data.hotMonth.month - 1 - months, 1));
}

export function md5Uuid(text: string): string {
  const hex = createHash('md5').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Rows $1..$2 of the data set; created_at spreads them evenly over [$3, $5), in insertion order as a log grows. */
export function insertRowsSql(table: QualifiedName): string {
  return `INSERT INTO ${quoteQualified(table)} (id, session_id, role, content, created_at)
SELECT md5('bench-id-' || g)::uuid,
       md5('bench-session-' || (g % ${SESSIONS}))::uuid,
       (ARRAY['user', 'assistant', 'system'])[1 + g % 3],
       left(repeat(md5(g::text), 6), (20 + (g * 7919) % 160)::int),
       $3::timestamptz + ((g - 0.5) / $4::float8) * ($5::timestamptz - $3::timestamptz)
  FROM generate_series($1::bigint, $2::bigint) AS g`;
}

/** New rows for the insert test: `$1..$2`, one second apart from $3 (the current month's start). */
export function insertNewRowsSql(table: string): string {
  return `INSERT INTO ${table} (id, session_id, role, content, created_at)
SELECT md5('bench-new-' || g)::uuid, md5('bench-session-' || (g % ${SESSIONS}))::uuid, 'user', left(repeat(md5(g::text), 6), (20 + (g * 7919) % 160)::int),
       $3::timestamptz + (g - $1) * interval '1 second'
  FROM generate_series($1::bigint, $2::bigint) AS g`;
}

export type QueryKind = 'time-range' | 'point' | 'whole';
export type Bounds = 'literal' | 'now';

export interface QuerySpec {
  readonly name: string;
  readonly kind: QueryKind;
  readonly bounds: Bounds;
  /** The statement for table `t`, repetition `rep` (point queries ask about another key each time). */
  readonly sql: (t: string, rep: number) => string;
}

const DAY_S = 86_400;

/**
 * A time bound in both forms: a timestamptz literal, or the same moment written from
 * date_trunc('month', now()) (the session runs in UTC), which plan-time pruning cannot use.
 */
function bound(data: DataSet, bounds: Bounds, secondsBeforeHot: number): string {
  if (bounds === 'literal') return `${quoteLiteral(new Date(data.end.getTime() - secondsBeforeHot * 1000).toISOString())}::timestamptz`;
  return `(date_trunc('month', now()) - interval '${secondsBeforeHot} seconds')`;
}

function monthBound(data: DataSet, bounds: Bounds, months: number, plusDays = 0): string {
  if (bounds === 'literal') return `${quoteLiteral(new Date(monthsBack(data, months).getTime() + plusDays * DAY_S * 1000).toISOString())}::timestamptz`;
  return `(date_trunc('month', now()) - interval '${months} months'${plusDays ? ` + interval '${plusDays} days'` : ''})`;
}

export function querySpecs(data: DataSet): QuerySpec[] {
  const session = (rep: number) => quoteLiteral(md5Uuid(`bench-session-${(rep * 37 + 11) % SESSIONS}`));
  // Starting a third of the way in, so that the row is not next to a month boundary.
  const row = (rep: number) => 1 + ((rep * 104_729 + Math.floor(data.rows / 3)) % data.rows);
  const id = (rep: number) => quoteLiteral(md5Uuid(`bench-id-${row(rep)}`));
  /** Whole seconds from the row's created_at to the end of the data (the current month's start). */
  const ageOf = (rep: number) => Math.round(((data.rows - row(rep) + 0.5) / data.rows) * ((data.end.getTime() - data.start.getTime()) / 1000));
  const specs: QuerySpec[] = [];
  for (const bounds of ['literal', 'now'] as const) {
    const week = (t: string) => `${t} WHERE created_at >= ${monthBound(data, bounds, 6, 7)} AND created_at < ${monthBound(data, bounds, 6, 14)}`;
    specs.push(
      { name: 'one-week count', kind: 'time-range', bounds, sql: (t) => `SELECT count(*) FROM ${week(t)}` },
      { name: 'one-week newest 50', kind: 'time-range', bounds, sql: (t) => `SELECT id, session_id, role, created_at FROM ${week(t)} ORDER BY created_at DESC LIMIT 50` },
      {
        name: 'one-month aggregate by role',
        kind: 'time-range',
        bounds,
        sql: (t) => `SELECT role, count(*), avg(length(content)) FROM ${t} WHERE created_at >= ${monthBound(data, bounds, 3)} AND created_at < ${monthBound(data, bounds, 2)} GROUP BY role`,
      },
      { name: 'three-month count', kind: 'time-range', bounds, sql: (t) => `SELECT count(*) FROM ${t} WHERE created_at >= ${monthBound(data, bounds, 5)} AND created_at < ${monthBound(data, bounds, 2)}` },
      {
        name: "a session's last 30 days",
        kind: 'point',
        bounds,
        sql: (t, rep) => `SELECT id, role, content, created_at FROM ${t} WHERE session_id = ${session(rep)} AND created_at >= ${bound(data, bounds, 30 * DAY_S)} AND created_at < ${bound(data, bounds, 0)} ORDER BY created_at DESC`,
      },
      {
        name: 'by id + time window (±1 h)',
        kind: 'point',
        bounds,
        sql: (t, rep) => `SELECT * FROM ${t} WHERE id = ${id(rep)} AND created_at >= ${bound(data, bounds, ageOf(rep) + 3600)} AND created_at < ${bound(data, bounds, ageOf(rep) - 3600)}`,
      },
      // No time bound of their own: the now() form adds created_at <= now(), which prunes only at execution.
      { name: 'by id alone', kind: 'point', bounds, sql: (t, rep) => `SELECT * FROM ${t} WHERE id = ${id(rep)}${bounds === 'now' ? ' AND created_at <= now()' : ''}` },
      { name: 'whole-table count', kind: 'whole', bounds, sql: (t) => `SELECT count(*) FROM ${t}${bounds === 'now' ? ' WHERE created_at <= now()' : ''}` },
    );
  }
  return specs;
}
