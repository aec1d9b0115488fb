/**
 * The data set and the queries of `partkit bench`. Rows are deterministic (sql/queries/bench-rows.sql:
 * ids are UUIDv7 of the row's created_at, sessions md5 of the row number), spread evenly over the
 * months before the current one, so that every layout holds the same rows and a query's three
 * forms select the same rows.
 */
import { createHash } from 'node:crypto';
import { readNamedStatements } from '../core/sql-files.js';
import { quoteLiteral } from '../core/identifiers.js';
import type { Month } from '../core/partitions.js';

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

/** Seconds between two rows of the data set: row g is made at start + (g - 0.5) * spacing. */
export function rowSpacing(data: DataSet): number {
  return (data.end.getTime() - data.start.getTime()) / 1000 / data.rows;
}

export const ROW_TABLES = ['messages', 'execution_logs', 'api_key_logs', 'usage_records'] as const;
export type RowTable = (typeof ROW_TABLES)[number];

/**
 * The INSERT of rows $1..$2 of a Semibot table into `table` (quoted): row g made at $3 + (g - 0.5) * $4
 * seconds, its id the UUIDv7 of that moment (sql/queries/bench-rows.sql).
 */
export function insertRowsSql(kind: RowTable | 'messages-without-id', table: string): string {
  return readNamedStatements('queries/bench-rows.sql', [kind], table)[kind];
}

/** The id and created_at of messages rows `rows` of a data set whose rows start at `origin`, `spacing` seconds apart. */
export function messageIdsSql(): string {
  return readNamedStatements('queries/bench-rows.sql', ['message-ids'], '')['message-ids'];
}

export type QueryKind = 'time-range' | 'point' | 'whole';
/**
 * How a query's values reach the server: `literal` in the text, `now` as bounds written from now()
 * (pruned only when the executor starts), `param` as bound parameters of an unnamed statement, the
 * way node-postgres sends `client.query(text, values)` (planned with the values: plan-time pruning).
 */
export const BOUNDS = ['literal', 'now', 'param'] as const;
export type Bounds = (typeof BOUNDS)[number];

export interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
}

export interface QuerySpec {
  readonly name: string;
  readonly kind: QueryKind;
  readonly bounds: Bounds;
  /** The statement for table `t`, repetition `rep` (point queries ask about another key each time). */
  readonly sql: (t: string, rep: number) => Statement;
}

/**
 * Writes one statement in one of the three forms. `at(moment, nowExpression)` is a time bound: a
 * literal, the now() expression, or a parameter; `value(v)` a key (a literal in the first two forms).
 */
export function statementIn(bounds: Bounds, build: (at: (moment: Date, fromNow: string) => string, value: (value: unknown) => string) => string): Statement {
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value instanceof Date ? value.toISOString() : value);
    return `$${values.length}`;
  };
  const text = build(
    (moment, fromNow) => (bounds === 'param' ? param(moment) : bounds === 'now' ? fromNow : `${quoteLiteral(moment.toISOString())}::timestamptz`),
    (value) => (bounds === 'param' ? param(value) : quoteLiteral(value)),
  );
  return { text, values };
}

const DAY_S = 86_400;

/** The moment `secondsBeforeHot` before the end of the data, and the same moment written from now() (the session runs in UTC). */
function beforeEnd(data: DataSet, secondsBeforeHot: number): [Date, string] {
  return [new Date(data.end.getTime() - secondsBeforeHot * 1000), `(date_trunc('month', now()) - interval '${secondsBeforeHot} seconds')`];
}

function monthsBackBound(data: DataSet, months: number, plusDays = 0): [Date, string] {
  return [new Date(monthsBack(data, months).getTime() + plusDays * DAY_S * 1000), `(date_trunc('month', now()) - interval '${months} months'${plusDays ? ` + interval '${plusDays} days'` : ''})`];
}

/** The rows point queries ask about: an id and its created_at per repetition. */
export interface LookupRow {
  readonly id: string;
  readonly createdAt: Date;
}

export interface SpecOptions {
  /** One looked-up row per repetition (cycled). */
  readonly lookups: readonly LookupRow[];
  /** Leave out the whole-table count (the production shape holds fewer rows than the plain tables). */
  readonly withoutWhole?: boolean;
}

/** Row numbers for point lookups: spread over rows [from, to] (1-based, of `rows`), away from the ends. */
export function lookupRowNumbers(count: number, from: number, to: number): number[] {
  const span = Math.max(1, to - from + 1);
  return Array.from({ length: count }, (_, rep) => from + ((rep * 104_729 + Math.floor(span / 3)) % span));
}

export function querySpecs(data: DataSet, options: SpecOptions): QuerySpec[] {
  const session = (rep: number) => md5Uuid(`bench-session-${(rep * 37 + 11) % SESSIONS}`);
  const row = (rep: number) => options.lookups[rep % options.lookups.length]!;
  const specs: QuerySpec[] = [];
  for (const bounds of BOUNDS) {
    const spec = (name: string, kind: QueryKind, build: (t: string, rep: number) => Parameters<typeof statementIn>[1]) => specs.push({ name, kind, bounds, sql: (t, rep) => statementIn(bounds, build(t, rep)) });
    const week = (t: string, at: (m: Date, f: string) => string) => `${t} WHERE created_at >= ${at(...monthsBackBound(data, 6, 7))} AND created_at < ${at(...monthsBackBound(data, 6, 14))}`;
    spec('one-week count', 'time-range', (t) => (at) => `SELECT count(*) FROM ${week(t, at)}`);
    spec('one-week newest 50', 'time-range', (t) => (at) => `SELECT id, session_id, role, created_at FROM ${week(t, at)} ORDER BY created_at DESC LIMIT 50`);
    spec('one-month aggregate by role', 'time-range', (t) => (at) => `SELECT role, count(*), avg(length(content)) FROM ${t} WHERE created_at >= ${at(...monthsBackBound(data, 3))} AND created_at < ${at(...monthsBackBound(data, 2))} GROUP BY role`);
    spec('three-month count', 'time-range', (t) => (at) => `SELECT count(*) FROM ${t} WHERE created_at >= ${at(...monthsBackBound(data, 5))} AND created_at < ${at(...monthsBackBound(data, 2))}`);
    spec("a session's last 30 days", 'point', (t, rep) => (at, value) => `SELECT id, role, content, created_at FROM ${t} WHERE session_id = ${value(session(rep))} AND created_at >= ${at(...beforeEnd(data, 30 * DAY_S))} AND created_at < ${at(...beforeEnd(data, 0))} ORDER BY created_at DESC`);
    spec('by id + time window (±1 h)', 'point', (t, rep) => (at, value) => {
      const age = Math.round((data.end.getTime() - row(rep).createdAt.getTime()) / 1000);
      return `SELECT * FROM ${t} WHERE id = ${value(row(rep).id)} AND created_at >= ${at(...beforeEnd(data, age + 3600))} AND created_at < ${at(...beforeEnd(data, age - 3600))}`;
    });
    // No time bound of its own: the now() form adds created_at <= now(), which prunes only at execution.
    spec('by id alone', 'point', (t, rep) => (_at, value) => `SELECT * FROM ${t} WHERE id = ${value(row(rep).id)}${bounds === 'now' ? ' AND created_at <= now()' : ''}`);
    if (!options.withoutWhole) spec('whole-table count', 'whole', (t) => () => `SELECT count(*) FROM ${t}${bounds === 'now' ? ' WHERE created_at <= now()' : ''}`);
  }
  return specs;
}

/** A key as the rows statement makes it: md5(text)::uuid, e.g. a session's md5('bench-session-' || n). */
export function md5Uuid(text: string): string {
  const hex = createHash('md5').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
