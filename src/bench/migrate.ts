/**
 * `partkit bench`, migrate section: the online migration of a uuid-keyed `messages` measured as a
 * user runs it, in one run on one server.
 *
 * 1. Fill against the single statement it replaces: `migrate fill` and one `INSERT … SELECT` of the
 *    same rows into the same partitioned copy, with the change capture of `migrate prep` on; the
 *    order of the two alternates between repetitions, and the medians give the ratio.
 * 2. The swap under a live writer: a writer at `writerOpsPerS` (70% insert, 20% update, of which
 *    a third move created_at, 10% delete) runs on its own connection; swap drains the backlog, then
 *    takes its lock. It reports the longest lock the swap held (the server's clock) and the longest
 *    any one writer statement took (the client's clock).
 *
 * Figures only: nothing here asserts a speed. The correctness of the same path under a writer is
 * the business of test/migrate-online.test.ts (with an oracle).
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { resolveConfig } from '../core/config.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../core/db.js';
import { displayName, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { silentLogger } from '../core/log.js';
import { readNamedStatements, readSql } from '../core/sql-files.js';
import { captureName } from '../migrate/capture.js';
import { fill } from '../migrate/fill.js';
import { migrationNames } from '../migrate/inspect.js';
import { prep } from '../migrate/prep.js';
import { swap, SWAP_LOCK_TIMEOUT } from '../migrate/swap.js';
import { applyChanges, benchStep, vacuumSteps } from './changes.js';
import { round3, summarise } from './measure.js';
import { connectClient, refuseExistingSchemas, serverVersionText, startBenchServer } from './server.js';

export const MIGRATE_TABLE: QualifiedName = { schema: 'bench_migrate', name: 'messages' };
const LOAD_ROWS = 250_000;

export interface MigrateBenchOptions {
  readonly rows: number;
  readonly reps: number;
  readonly writerOpsPerS: number;
  /** How long the writer runs before the swap starts (the backlog the swap drains). */
  readonly writerLeadSeconds: number;
  readonly databaseUrl: string | undefined;
  readonly progress: (line: string) => void;
}

export interface MigrateBenchReport {
  readonly rows: number;
  readonly reps: number;
  readonly server: string;
  readonly captureTriggers: number;
  readonly single: { readonly medianMs: number; readonly samplesMs: readonly number[]; readonly rowsPerS: number };
  readonly fill: { readonly medianMs: number; readonly samplesMs: readonly number[]; readonly rowsPerS: number; readonly batches: number; readonly longestBatchMs: number };
  /** Single statement's median time / fill's median time: 1 means as fast, above 1 faster. */
  readonly ratio: number;
  readonly swap: {
    readonly lockTimeout: string;
    readonly writerOpsPerS: number;
    readonly writerOps: number;
    readonly writerErrors: number;
    /** Captured keys waiting when the swap started. */
    readonly backlogAtStart: number;
    readonly drained: number;
    readonly caughtUp: number;
    readonly lockHeldMs: number;
    /** The whole swap command, drain included. */
    readonly swapMs: number;
    /** The longest single writer statement while the swap ran, and outside it. */
    readonly longestWriterWaitMs: number;
    readonly longestWriterWaitOutsideSwapMs: number;
  };
  readonly totalSeconds: number;
}

function statements(table: string): Record<'insert' | 'update' | 'delete' | 'sample', string> {
  return readNamedStatements('queries/bench-migrate-writer.sql', ['insert', 'update', 'delete', 'sample'], table);
}

interface WriterFigures {
  ops: number;
  errors: number;
  /** [start, end] of every statement, client clock (performance.now()). */
  spans: [number, number][];
}

/** A paced writer on its own connection: one statement at a time, each on schedule or as soon as the previous one ends. */
function startWriter(client: pg.Client, table: string, opsPerS: number): { stop(): Promise<WriterFigures> } {
  const sql = statements(table);
  const figures: WriterFigures = { ops: 0, errors: 0, spans: [] };
  const ids: string[] = [];
  let running = true;
  const done = (async () => {
    ids.push(...(await client.query<{ id: string }>(sql.sample)).rows.map((row) => row.id));
    const started = performance.now();
    for (let op = 0; running; op += 1) {
      const due = started + (op * 1000) / opsPerS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const roll = Math.random();
      const at = performance.now();
      try {
        if (roll < 0.7 || ids.length === 0) {
          ids.push((await client.query<{ id: string }>(sql.insert)).rows[0]!.id);
        } else if (roll < 0.9) {
          await client.query(sql.update, [ids[Math.floor(Math.random() * ids.length)], Math.random() < 1 / 3]);
        } else {
          const index = Math.floor(Math.random() * ids.length);
          await client.query(sql.delete, [ids[index]]);
          ids.splice(index, 1);
        }
        figures.ops += 1;
      } catch {
        figures.errors += 1;
      }
      figures.spans.push([at, performance.now()]);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return figures;
    },
  };
}

export async function runMigrateBench(options: MigrateBenchOptions): Promise<MigrateBenchReport> {
  const began = performance.now();
  const server = await startBenchServer(options.databaseUrl);
  const target = server.target();
  const client = await connectClient(target);
  const writerClient = await connectClient(target);
  let db: Database | undefined;
  let created = false;
  try {
    const table = quoteQualified(MIGRATE_TABLE);
    await refuseExistingSchemas(client, [MIGRATE_TABLE.schema]);
    const version = await serverVersionText(client);
    db = await Database.connect(target, { ...DEFAULT_EXECUTOR_OPTIONS, lockTimeout: SWAP_LOCK_TIMEOUT, log: silentLogger });
    await applyChanges(db, [benchStep(`schema ${MIGRATE_TABLE.schema}`, `CREATE SCHEMA ${MIGRATE_TABLE.schema}`)]);
    created = true;
    await applyChanges(db, [benchStep(`table ${table}`, readSql('queries/bench-migrate-table.sql').replaceAll('{{table}}', table))]);
    options.progress(`bench migrate: loading ${options.rows.toLocaleString('en-US')} rows over 30 months into ${displayName(MIGRATE_TABLE)} (uuid primary key)...`);
    const load = readSql('queries/bench-migrate-load.sql').replaceAll('{{table}}', table);
    for (let from = 1; from <= options.rows; from += LOAD_ROWS) {
      const last = Math.min(from + LOAD_ROWS - 1, options.rows);
      await applyChanges(db, [benchStep(`load rows ${from} to ${last} into ${table}`, load, [from, last])]);
    }
    await applyChanges(db, [benchStep(`index on ${table} (session_id, created_at)`, `CREATE INDEX ON ${table} (session_id, created_at)`), ...vacuumSteps([table], true)]);

    const config = resolveConfig({ tables: [{ name: displayName(MIGRATE_TABLE), timeZone: 'UTC' }] }, '(benchmark)');
    const name = displayName(MIGRATE_TABLE);
    await prep(db, config, name, { strategy: 'plpgsql' });
    const names = migrationNames(name);
    const copy = quoteQualified(names.partitioned);
    const { rows: triggers } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE 'partkit_capture_%'`, [table]);
    const captureTriggers = triggers[0]!.n;
    if (captureTriggers === 0) throw new Error(`migrate prep left no capture trigger on ${name}: the figures would not be with capture on`);
    options.progress(`bench migrate: capture on (${captureTriggers} capture triggers)`);

    const single: number[] = [];
    const filled: number[] = [];
    let batches = 0;
    let longestBatchMs = 0;
    // Each measured run starts from an empty copy and a clean checkpoint.
    const emptyCopy = () =>
      applyChanges(db!, [benchStep(`empty ${copy} for the next measured run`, `TRUNCATE ${copy}`), benchStep('a clean checkpoint before the next measured run', 'CHECKPOINT', undefined, { transaction: false })]);
    const runSingle = async () => {
      await emptyCopy();
      const started = performance.now();
      await client.query(`INSERT INTO ${copy} SELECT * FROM ${table}`);
      single.push(performance.now() - started);
    };
    const runFill = async () => {
      await emptyCopy();
      const started = performance.now();
      const result = await fill(db!, config, name, { batchSize: 10_000, sleepMs: 0, rescan: true });
      filled.push(performance.now() - started);
      if (result.rowsCopied !== options.rows) throw new Error(`fill copied ${result.rowsCopied} rows, expected ${options.rows}`);
      batches = result.batches;
      longestBatchMs = Math.max(longestBatchMs, result.longestBatchMs);
    };
    for (let rep = 0; rep < options.reps; rep += 1) {
      // Alternate the order, the last repetition ending on the fill, so that the swap finds the copy filled by partkit.
      const fillFirst = (options.reps - rep) % 2 === 0;
      if (fillFirst) {
        await runFill();
        await runSingle();
      } else {
        await runSingle();
        await runFill();
      }
      options.progress(`bench migrate: rep ${rep + 1} of ${options.reps}: INSERT … SELECT ${Math.round(single.at(-1)!)} ms, fill ${Math.round(filled.at(-1)!)} ms`);
    }

    options.progress(`bench migrate: swap under a writer at ${options.writerOpsPerS} ops/s (lock timeout ${SWAP_LOCK_TIMEOUT})...`);
    const writer = startWriter(writerClient, table, options.writerOpsPerS);
    await new Promise((resolve) => setTimeout(resolve, options.writerLeadSeconds * 1000));
    const captureTable = quoteQualified(captureName(names));
    const backlogAtStart = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${captureTable}`)).rows[0]!.n);
    const swapStart = performance.now();
    const swapped = await swap(db, config, name, {});
    const swapEnd = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const writes = await writer.stop();
    if (swapped.state !== 'swapped' || swapped.lockHeldMs === null) throw new Error(`swap ended ${swapped.state}, not swapped`);
    const during = writes.spans.filter(([start, end]) => end >= swapStart && start <= swapEnd).map(([start, end]) => end - start);
    const outside = writes.spans.filter(([start, end]) => end < swapStart || start > swapEnd).map(([start, end]) => end - start);

    const s = summarise(single);
    const f = summarise(filled);
    return {
      rows: options.rows,
      reps: options.reps,
      server: version,
      captureTriggers,
      single: { medianMs: s.median, samplesMs: s.samples, rowsPerS: Math.round(options.rows / (s.median / 1000)) },
      fill: { medianMs: f.median, samplesMs: f.samples, rowsPerS: Math.round(options.rows / (f.median / 1000)), batches, longestBatchMs },
      ratio: round3(s.median / f.median),
      swap: {
        lockTimeout: SWAP_LOCK_TIMEOUT,
        writerOpsPerS: options.writerOpsPerS,
        writerOps: writes.ops,
        writerErrors: writes.errors,
        backlogAtStart,
        drained: swapped.drained,
        caughtUp: swapped.caughtUp,
        lockHeldMs: round3(swapped.lockHeldMs),
        swapMs: round3(swapEnd - swapStart),
        longestWriterWaitMs: round3(Math.max(0, ...during)),
        longestWriterWaitOutsideSwapMs: round3(Math.max(0, ...outside)),
      },
      totalSeconds: Math.round((performance.now() - began) / 1000),
    };
  } finally {
    await writerClient.end().catch(() => undefined);
    if (created && db) await applyChanges(db, [benchStep(`drop schema ${MIGRATE_TABLE.schema}`, `DROP SCHEMA IF EXISTS ${MIGRATE_TABLE.schema} CASCADE`)]).catch(() => undefined);
    await db?.close();
    await client.end().catch(() => undefined);
    await server.stop();
  }
}

export function renderMigrateBench(report: MigrateBenchReport): string {
  const w = report.swap;
  return [
    `Migrate: fill vs one INSERT … SELECT (${report.rows.toLocaleString('en-US')} rows, uuid primary key, capture on: ${report.captureTriggers} triggers; ${report.reps} reps, order alternating; ${report.server})`,
    `  INSERT … SELECT  median ${Math.round(report.single.medianMs)} ms  (${report.single.rowsPerS.toLocaleString('en-US')} rows/s)`,
    `  migrate fill     median ${Math.round(report.fill.medianMs)} ms  (${report.fill.rowsPerS.toLocaleString('en-US')} rows/s; ${report.fill.batches} batches, longest batch transaction ${report.fill.longestBatchMs} ms)`,
    `  ratio (single statement time / fill time; 1 = as fast): ${report.ratio}x`,
    `Migrate: swap under a writer at ${w.writerOpsPerS} ops/s (70% insert, 20% update, 10% delete; --lock-timeout ${w.lockTimeout})`,
    `  backlog at start ${w.backlogAtStart} keys; drained before the lock ${w.drained}, replayed under it ${w.caughtUp}`,
    `  lock held ${Math.round(w.lockHeldMs)} ms; swap ${Math.round(w.swapMs)} ms in all`,
    `  longest writer statement: ${Math.round(w.longestWriterWaitMs)} ms during the swap, ${Math.round(w.longestWriterWaitOutsideSwapMs)} ms outside it (${w.writerOps} writes, ${w.writerErrors} errors)`,
  ].join('\n');
}
