/**
 * `partkit bench`, maintenance section: the stall curve of draining a default partition. For each
 * size (rows waiting in the default: rows of the three months before the current one, which no
 * partition holds, as after an adopted table or a long downtime) and each strategy the server
 * offers (the plpgsql fallback; pg_partman where the server has it), a fresh `messages` is
 * provisioned, loaded and drained while an application writes current rows and reads recent ones
 * (which also reads the default: the range has no upper bound) on connections of their own. The
 * current month exists: pg_partman's partition_data_proc fails when rows of the month it moves
 * keep arriving in the default (test/drain-live.test.ts drains that case with partkit). It runs partkit's maintain, and, on pg_partman, pg_partman's own
 * `partition_data_proc` on the same rows as the anchor. Each statement of the writer and the
 * reader is timed (client clock); the figures are the longest and the 99th percentile of those that
 * overlapped the drain, and how long the drain took.
 *
 * Figures only: nothing here asserts a speed. The correctness of the drain under a writer and
 * readers is the business of test/drain-live.test.ts (with an oracle).
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { resolveConfig, type Config } from '../core/config.js';
import type { ConnectionTarget } from '../core/connection.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../core/db.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { silentLogger } from '../core/log.js';
import { readNamedStatements, readSql } from '../core/sql-files.js';
import { applyChanges, benchStep, vacuumSteps } from './changes.js';
import { round3 } from './measure.js';
import { connectClient, refuseExistingSchemas, serverVersionText, startBenchServer } from './server.js';

export const MAINTENANCE_TABLE: QualifiedName = { schema: 'bench_maintenance', name: 'messages' };
const DEFAULT_PARTITION: QualifiedName = { schema: MAINTENANCE_TABLE.schema, name: `${MAINTENANCE_TABLE.name}_default` };
const LOAD_ROWS = 250_000;
/** The lock timeout partkit's maintain runs with here: each lock wait of the drain's swap stops at it. */
export const MAINTENANCE_LOCK_TIMEOUT = '500ms';

export type DrainStrategy = 'plpgsql' | 'partman';
export type DrainMethod = 'partkit maintain' | 'pg_partman partition_data_proc';

export interface MaintenanceBenchOptions {
  /** Rows waiting in the default partition, one run per size (per strategy and method). */
  readonly sizes: readonly number[];
  readonly writerOpsPerS: number;
  readonly readerOpsPerS: number;
  readonly databaseUrl: string | undefined;
  readonly progress: (line: string) => void;
  /** Provisions the table as users do (`partkit provision`); passed in so that bench/ never imports a command. */
  readonly provisionTable: (db: Database, config: Config) => Promise<void>;
  /** `partkit maintain` of the table: what the drain did. */
  readonly maintain: (db: Database, config: Config, table: string) => Promise<{ readonly failed: number; readonly drainedRows: number | null; readonly lockedMs: number | null }>;
}

export interface StallFigures {
  /** Statements that overlapped the drain. */
  readonly statements: number;
  readonly errors: number;
  readonly longestMs: number;
  readonly p99Ms: number;
  /** The longest statement outside the drain (before and after it): the machine's own noise. */
  readonly longestOutsideMs: number;
}

export interface DrainRun {
  readonly strategy: DrainStrategy;
  readonly method: DrainMethod;
  /** Rows in the default partition when the drain started. */
  readonly rows: number;
  readonly drainSeconds: number;
  /** partkit only: how long the swap held the parent's ACCESS EXCLUSIVE lock (measured inside it). */
  readonly lockedMs: number | null;
  /** Rows with a month still in the default afterwards (0 when the drain placed them all). */
  readonly leftInDefault: number;
  readonly writer: StallFigures;
  readonly reader: StallFigures;
}

export interface MaintenanceBenchReport {
  readonly server: string;
  /** pg_partman's version, or null when the server has none (then only the fallback runs). */
  readonly partman: string | null;
  readonly sizes: readonly number[];
  readonly writerOpsPerS: number;
  readonly readerOpsPerS: number;
  readonly lockTimeout: string;
  readonly runs: readonly DrainRun[];
  readonly totalSeconds: number;
}

type Statements = Record<'load' | 'write' | 'read' | 'anchor', string>;

/** [start, end, failed] of every statement, client clock (performance.now()). */
type Span = readonly [number, number, boolean];

/** A paced loop on its own connection: one statement at a time, each on schedule or as soon as the previous one ends. */
function startPaced(client: pg.Client, sql: string, opsPerS: number): { stop(): Promise<Span[]> } {
  const spans: Span[] = [];
  let running = true;
  const done = (async () => {
    const started = performance.now();
    for (let op = 0; running; op += 1) {
      const wait = started + (op * 1000) / opsPerS - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const at = performance.now();
      let failed = false;
      try {
        await client.query(sql);
      } catch {
        failed = true;
      }
      spans.push([at, performance.now(), failed]);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return spans;
    },
  };
}

function stalls(spans: readonly Span[], from: number, to: number): StallFigures {
  const during = spans.filter(([start, end]) => end >= from && start <= to);
  const times = during.map(([start, end]) => end - start).sort((a, b) => a - b);
  const outside = spans.filter(([start, end]) => end < from || start > to).map(([start, end]) => end - start);
  return {
    statements: during.length,
    errors: during.filter(([, , failed]) => failed).length,
    longestMs: round3(times.at(-1) ?? 0),
    p99Ms: round3(times[Math.max(0, Math.ceil(0.99 * times.length) - 1)] ?? 0),
    longestOutsideMs: round3(Math.max(0, ...outside)),
  };
}

export async function runMaintenanceBench(options: MaintenanceBenchOptions): Promise<MaintenanceBenchReport> {
  const began = performance.now();
  const server = await startBenchServer(options.databaseUrl);
  const target = server.target();
  const client = await connectClient(target);
  try {
    await refuseExistingSchemas(client, [MAINTENANCE_TABLE.schema]);
    const version = await serverVersionText(client);
    const [partman] = (await client.query<{ version: string | null }>(`SELECT coalesce(e.extversion, a.default_version) AS version FROM pg_available_extensions a LEFT JOIN pg_extension e ON e.extname = a.name WHERE a.name = 'pg_partman'`)).rows;
    const strategies: DrainStrategy[] = partman ? ['plpgsql', 'partman'] : ['plpgsql'];
    const runs: DrainRun[] = [];
    for (const strategy of strategies) {
      const methods: DrainMethod[] = strategy === 'partman' ? ['partkit maintain', 'pg_partman partition_data_proc'] : ['partkit maintain'];
      for (const rows of options.sizes) {
        for (const method of methods) runs.push(await drainOnce(options, target, client, strategy, method, rows));
      }
    }
    return {
      server: version,
      partman: partman?.version ?? null,
      sizes: options.sizes,
      writerOpsPerS: options.writerOpsPerS,
      readerOpsPerS: options.readerOpsPerS,
      lockTimeout: MAINTENANCE_LOCK_TIMEOUT,
      runs,
      totalSeconds: Math.round((performance.now() - began) / 1000),
    };
  } finally {
    await client.end().catch(() => undefined);
    await server.stop();
  }
}

/** One drain: a fresh table with `rows` rows waiting in its default, drained by `method` under the writer and the reader. */
async function drainOnce(options: MaintenanceBenchOptions, target: ConnectionTarget, client: pg.Client, strategy: DrainStrategy, method: DrainMethod, rows: number): Promise<DrainRun> {
  const table = quoteQualified(MAINTENANCE_TABLE);
  const sql: Statements = readNamedStatements('queries/bench-maintenance.sql', ['load', 'write', 'read', 'anchor'], table);
  const waiting = readNamedStatements('queries/bench-maintenance.sql', ['waiting'], quoteQualified(DEFAULT_PARTITION)).waiting;
  const label = `${strategy}, ${method}, ${rows.toLocaleString('en-US')} rows`;
  const config = resolveConfig({ strategy, tables: [{ name: displayName(MAINTENANCE_TABLE), timeZone: 'UTC' }], defaults: { premake: 4, retention: '24 months' } }, '(benchmark)');
  const db = await Database.connect(target, { ...DEFAULT_EXECUTOR_OPTIONS, lockTimeout: MAINTENANCE_LOCK_TIMEOUT, log: silentLogger });
  let writer: pg.Client | undefined;
  let reader: pg.Client | undefined;
  const loops: { stop(): Promise<Span[]> }[] = [];
  try {
    await applyChanges(db, [
      benchStep(`schema ${MAINTENANCE_TABLE.schema}`, `CREATE SCHEMA ${quoteIdent(MAINTENANCE_TABLE.schema)}`),
      benchStep(`table ${table}`, readSql('tables/messages.sql').replaceAll('{{table}}', table)),
    ]);
    await options.provisionTable(db, config);
    options.progress(`bench maintenance: ${label}: loading...`);
    for (let from = 1; from <= rows; from += LOAD_ROWS) {
      const last = Math.min(from + LOAD_ROWS - 1, rows);
      await applyChanges(db, [benchStep(`load rows ${from} to ${last} into ${table} (the months to come wait in the default)`, sql.load, [from, last, rows])]);
    }
    await applyChanges(db, vacuumSteps([table], true));
    const before = Number((await client.query<{ n: string }>(waiting)).rows[0]!.n);

    writer = await connectClient(target);
    reader = await connectClient(target);
    const writes = startPaced(writer, sql.write, options.writerOpsPerS);
    const reads = startPaced(reader, sql.read, options.readerOpsPerS);
    loops.push(writes, reads);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    options.progress(`bench maintenance: ${label}: draining under a writer (${options.writerOpsPerS}/s) and a reader (${options.readerOpsPerS}/s)...`);
    const start = performance.now();
    let lockedMs: number | null = null;
    if (method === 'partkit maintain') {
      const outcome = await options.maintain(db, config, displayName(MAINTENANCE_TABLE));
      if (outcome.failed > 0) throw new Error(`partkit maintain failed for ${displayName(MAINTENANCE_TABLE)} (${label})`);
      lockedMs = outcome.lockedMs;
    } else {
      await client.query(sql.anchor.replaceAll('{{partman}}', quoteIdent(await partmanSchema(client))), [`${MAINTENANCE_TABLE.schema}.${MAINTENANCE_TABLE.name}`]);
    }
    const end = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const writeSpans = await writes.stop();
    const readSpans = await reads.stop();
    const left = Number((await client.query<{ n: string }>(waiting)).rows[0]!.n);
    const run: DrainRun = {
      strategy,
      method,
      rows: before,
      drainSeconds: round3((end - start) / 1000),
      lockedMs,
      leftInDefault: left,
      writer: stalls(writeSpans, start, end),
      reader: stalls(readSpans, start, end),
    };
    options.progress(`bench maintenance: ${label}: drained in ${run.drainSeconds} s; writer longest ${Math.round(run.writer.longestMs)} ms, reader longest ${Math.round(run.reader.longestMs)} ms`);
    return run;
  } finally {
    for (const loop of loops) await loop.stop();
    await writer?.end().catch(() => undefined);
    await reader?.end().catch(() => undefined);
    // The next run provisions the same name again: the registrations go with the table.
    const cleanup = [
      benchStep(`drop schema ${MAINTENANCE_TABLE.schema}`, `DROP SCHEMA IF EXISTS ${quoteIdent(MAINTENANCE_TABLE.schema)} CASCADE`),
      benchStep(`forget ${MAINTENANCE_TABLE.schema}'s registration`, `DELETE FROM ${quoteIdent(config.kitSchema)}.managed_table WHERE parent_schema = $1`, [MAINTENANCE_TABLE.schema]),
      ...(strategy === 'partman'
        ? [benchStep(`forget ${MAINTENANCE_TABLE.schema}'s pg_partman configuration`, `DELETE FROM ${quoteIdent(await partmanSchema(client))}.part_config WHERE parent_table = $1`, [`${MAINTENANCE_TABLE.schema}.${MAINTENANCE_TABLE.name}`])]
        : []),
    ];
    for (const step of cleanup) await applyChanges(db, [step]).catch(() => undefined);
    await db.close();
  }
}

async function partmanSchema(client: pg.Client): Promise<string> {
  const [row] = (await client.query<{ schema: string }>(`SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'`)).rows;
  if (!row) throw new Error('pg_partman is not installed in this database');
  return row.schema;
}

const STRATEGY_NAMES: Record<DrainStrategy, string> = { plpgsql: 'plpgsql fallback', partman: 'pg_partman' };

export function renderMaintenanceBench(report: MaintenanceBenchReport): string {
  const lines = [
    `Maintenance: draining the default partition under a writer of current rows (${report.writerOpsPerS}/s) and a reader of recent rows (${report.readerOpsPerS}/s); ${report.server}${report.partman ? `, pg_partman ${report.partman}` : ', no pg_partman (fallback only)'}; lock timeout ${report.lockTimeout}`,
    `  ${'strategy'.padEnd(17)}${'method'.padEnd(32)}${'rows'.padStart(11)}${'drain'.padStart(10)}${'lock held'.padStart(11)}   ${'writer longest / p99'.padEnd(22)}${'reader longest / p99'.padEnd(22)}left`,
  ];
  for (const run of report.runs) {
    const ms = (value: number) => `${Math.round(value).toLocaleString('en-US')} ms`;
    lines.push(
      `  ${STRATEGY_NAMES[run.strategy].padEnd(17)}${run.method.padEnd(32)}${run.rows.toLocaleString('en-US').padStart(11)}${`${run.drainSeconds.toFixed(1)} s`.padStart(10)}${(run.lockedMs === null ? '-' : ms(run.lockedMs)).padStart(11)}   ` +
        `${`${ms(run.writer.longestMs)} / ${ms(run.writer.p99Ms)}`.padEnd(22)}${`${ms(run.reader.longestMs)} / ${ms(run.reader.p99Ms)}`.padEnd(22)}${run.leftInDefault}` +
        (run.writer.errors + run.reader.errors > 0 ? `  (${run.writer.errors} writer, ${run.reader.errors} reader errors)` : ''),
    );
  }
  lines.push('  (longest / p99: of the statements that overlapped the drain, client clock; left: rows with a month still in the default)');
  return lines.join('\n');
}
