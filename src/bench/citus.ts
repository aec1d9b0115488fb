/**
 * `partkit bench`, citus section: the same `messages` rows in a local partitioned table
 * (`one_node`) and in one distributed by session_id (`distributed`) on a Citus coordinator,
 * measured side by side: one month's aggregate and one session's history. Next to the times it
 * reports the plans: how many tasks Citus sends to the workers, and how many months the worker
 * plan of one task scans.
 *
 * On one machine (coordinator and workers sharing its cores and disk) the figures show the plan,
 * not the speed-up of scaling out; the report says so. Figures only: nothing here asserts a speed.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { inspectCitusServer } from '../core/citus.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../core/db.js';
import { MissingCapabilityError } from '../core/errors.js';
import { quoteIdent, quoteLiteral, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { silentLogger } from '../core/log.js';
import { addMonths, currentMonth, monthKey, monthStartLiteral, serverNow, type Month } from '../core/partitions.js';
import { readNamedStatements, readSql } from '../core/sql-files.js';
import { widenUniqueKeys } from '../citus/provision.js';
import { round3, summarise, timeQuery } from './measure.js';
import { connectClient, refuseExistingSchemas, serverVersionText, startBenchServer } from './server.js';

export const CITUS_SCHEMA = 'bench_citus';
export const CITUS_LAYOUTS = ['oneNode', 'distributed'] as const;
export type CitusLayout = (typeof CITUS_LAYOUTS)[number];
export const CITUS_TABLES: Record<CitusLayout, QualifiedName> = {
  oneNode: { schema: CITUS_SCHEMA, name: 'one_node' },
  distributed: { schema: CITUS_SCHEMA, name: 'distributed' },
};
/** Months of rows before the current month; the partitions also cover the current and the next month. */
export const CITUS_HISTORY_MONTHS = 12;
const DISTRIBUTION_COLUMN = 'session_id';
/** About as many messages per session as the scratch measurement had (1,200,000 rows, 20,000 sessions). */
const ROWS_PER_SESSION = 60;
const LOAD_ROWS = 250_000;
const WARM_UP_RUNS = 2;

export const CITUS_QUERIES = ['monthAggregate', 'sessionHistory'] as const;
export type CitusQuery = (typeof CITUS_QUERIES)[number];

export const CITUS_NOTE =
  'The coordinator and its workers share one machine here, so these figures show the plan (tasks pushed to the workers, months pruned on each, a router query for one session), not the speed-up of scaling out: that needs workers with their own cores, memory and disk.';

export interface CitusBenchOptions {
  readonly rows: number;
  readonly reps: number;
  readonly databaseUrl: string | undefined;
  readonly progress: (line: string) => void;
}

/** What one EXPLAIN ANALYZE says about where a query ran. */
export interface CitusPlanFacts {
  /** Citus's task count; null for the local table (no distributed plan). */
  readonly tasks: number | null;
  /** Months (partitions, or their shards on a worker) in the plan of the local query or of the one task Citus shows. */
  readonly monthsInPlan: number;
  /** Of those, the ones the executor opened (actual loops > 0). */
  readonly monthsScanned: number;
}

export interface CitusQueryFigures {
  readonly name: CitusQuery;
  readonly sql: string;
  readonly params: readonly string[];
  readonly oneNodeMs: number;
  readonly distributedMs: number;
  readonly oneNodeSamplesMs: readonly number[];
  readonly distributedSamplesMs: readonly number[];
  /** one_node's median / distributed's median: above 1 the distributed table answered faster. */
  readonly ratio: number;
  readonly oneNode: CitusPlanFacts;
  readonly distributed: CitusPlanFacts;
}

export interface CitusBenchReport {
  readonly rows: number;
  readonly reps: number;
  readonly server: string;
  readonly citusVersion: string;
  readonly activeWorkers: number;
  /** Shards of the distributed table (pg_dist_shard), that is citus.shard_count when it was made. */
  readonly shards: number;
  readonly sessions: number;
  /** Monthly partitions of each table. */
  readonly partitions: number;
  /** Rows counted in each table after loading. */
  readonly rowCounts: Readonly<Record<CitusLayout, number>>;
  /** The month of the aggregate (YYYY-MM) and the session of the history. */
  readonly month: string;
  readonly session: string;
  readonly queries: readonly CitusQueryFigures[];
  readonly note: string;
  readonly totalSeconds: number;
}

function queryStatements(table: string): Record<CitusQuery, string> {
  return readNamedStatements('queries/bench-citus-queries.sql', CITUS_QUERIES, table);
}

/** Refuses (nothing changed) unless the server is a Citus coordinator with at least one active worker. */
async function requireCoordinator(db: Database): Promise<{ version: string; activeWorkers: number }> {
  const citus = await inspectCitusServer(db);
  const where = `database ${db.name}`;
  if (!citus.installed) {
    throw new MissingCapabilityError(
      `partkit bench --section citus compares a local table with a distributed one, but ${where} has no citus extension (nothing was changed).`,
      'Point --database-url at a scratch database on a Citus coordinator, or run partkit bench --section queries --section migrate here.',
    );
  }
  if (!citus.coordinator) {
    throw new MissingCapabilityError(
      `partkit bench --section citus distributes a table, but this node of ${where} is a Citus worker, not the coordinator (nothing was changed).`,
      'Point --database-url at the same database on the Citus coordinator.',
    );
  }
  if (citus.activeWorkers < 1) {
    throw new MissingCapabilityError(
      `partkit bench --section citus needs at least one active Citus worker, but the coordinator of ${where} has none (nothing was changed).`,
      `Add a worker on the coordinator first: psql -c "SELECT citus_add_node('<worker host>', 5432)"`,
    );
  }
  return { version: citus.version ?? 'unknown', activeWorkers: citus.activeWorkers };
}

interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Actual Loops'?: number;
  readonly 'Distributed Query'?: { readonly Job?: { readonly 'Task Count'?: number; readonly Tasks?: ReadonlyArray<{ readonly 'Remote Plan'?: ReadonlyArray<ReadonlyArray<{ readonly Plan: PlanNode }>> }> } };
  readonly Plans?: readonly PlanNode[];
}

function walk(node: PlanNode, visit: (node: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

function scans(plan: PlanNode): { inPlan: number; scanned: number } {
  const inPlan = new Set<string>();
  const scanned = new Set<string>();
  walk(plan, (node) => {
    const relation = node['Relation Name'];
    if (relation === undefined) return;
    inPlan.add(relation);
    if ((node['Actual Loops'] ?? 0) > 0) scanned.add(relation);
  });
  return { inPlan: inPlan.size, scanned: scanned.size };
}

/**
 * EXPLAIN (ANALYZE, FORMAT JSON) of one run. For the distributed table the months are counted in
 * the worker plan of the one task Citus shows (its shard names, one per month); its task count is
 * the number of tasks sent to workers.
 */
async function planFacts(client: pg.Client, sql: string, params: readonly string[], distributed: boolean): Promise<CitusPlanFacts> {
  const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, [...params]);
  const root = rows[0]!['QUERY PLAN'][0]!.Plan;
  if (!distributed) {
    const local = scans(root);
    return { tasks: null, monthsInPlan: local.inPlan, monthsScanned: local.scanned };
  }
  let job: NonNullable<PlanNode['Distributed Query']>['Job'];
  walk(root, (node) => void (job ??= node['Distributed Query']?.Job));
  const taskCount = job?.['Task Count'];
  const remote = job?.Tasks?.[0]?.['Remote Plan']?.[0]?.[0]?.Plan;
  if (taskCount === undefined || remote === undefined) throw new Error(`Citus did not plan this query on the distributed table as tasks on workers (no "Distributed Query" with a task's remote plan in its EXPLAIN): ${sql}`);
  const worker = scans(remote);
  return { tasks: taskCount, monthsInPlan: worker.inPlan, monthsScanned: worker.scanned };
}

async function createTable(client: pg.Client, layout: CitusLayout, months: readonly Month[]): Promise<void> {
  const table = CITUS_TABLES[layout];
  // Semibot's messages as partkit creates it, its unique keys widened to hold session_id as provision does on Citus.
  await client.query(widenUniqueKeys(readSql('tables/messages.sql').replaceAll('{{table}}', quoteQualified(table)), DISTRIBUTION_COLUMN));
  for (const month of months) {
    const partition = quoteQualified({ schema: table.schema, name: `${table.name}_${monthKey(month).replace('-', '')}` });
    // DDL takes no parameters: the bounds are literals, read in UTC (connectClient sets it).
    await client.query(
      `CREATE TABLE ${partition} PARTITION OF ${quoteQualified(table)} FOR VALUES FROM (${quoteLiteral(monthStartLiteral(month))}) TO (${quoteLiteral(monthStartLiteral(addMonths(month, 1)))})`,
    );
  }
}

export async function runCitusBench(options: CitusBenchOptions): Promise<CitusBenchReport> {
  if (options.databaseUrl === undefined) {
    // A throwaway embedded server never has Citus: refused before one is started.
    throw new MissingCapabilityError(
      'partkit bench --section citus compares a local table with a distributed one, so it needs a Citus coordinator; the throwaway server partkit bench starts has no Citus (nothing was started or changed).',
      'Give a scratch database on a Citus coordinator: partkit bench --section citus --database-url postgresql://USER@COORDINATOR:5432/SCRATCH',
    );
  }
  const began = performance.now();
  const server = await startBenchServer(options.databaseUrl);
  const target = server.target();
  let client: pg.Client | undefined;
  let created = false;
  try {
    const db = await Database.connect(target, { ...DEFAULT_EXECUTOR_OPTIONS, log: silentLogger });
    let citus: { version: string; activeWorkers: number };
    let now: Date;
    try {
      citus = await requireCoordinator(db);
      now = await serverNow(db);
    } finally {
      await db.close();
    }
    client = await connectClient(target);
    await refuseExistingSchemas(client, [CITUS_SCHEMA]);
    const version = await serverVersionText(client);

    const current = currentMonth('UTC', now);
    const first = addMonths(current, -CITUS_HISTORY_MONTHS);
    const months = Array.from({ length: CITUS_HISTORY_MONTHS + 2 }, (_, index) => addMonths(first, index));
    const sessions = Math.max(1, Math.round(options.rows / ROWS_PER_SESSION));
    const oneNode = quoteQualified(CITUS_TABLES.oneNode);
    const distributed = quoteQualified(CITUS_TABLES.distributed);

    await client.query(`CREATE SCHEMA ${quoteIdent(CITUS_SCHEMA)}`);
    created = true;
    for (const layout of CITUS_LAYOUTS) await createTable(client, layout, months);
    await client.query('SELECT create_distributed_table($1::regclass, $2)', [distributed, DISTRIBUTION_COLUMN]);
    const shards = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_dist_shard WHERE logicalrelid = $1::regclass', [distributed])).rows[0]!.n);

    options.progress(
      `bench citus: loading ${options.rows.toLocaleString('en-US')} rows of ${sessions.toLocaleString('en-US')} sessions over ${CITUS_HISTORY_MONTHS} months into ${CITUS_SCHEMA}.one_node, then the same rows into ${CITUS_SCHEMA}.distributed (${shards} shards on ${citus.activeWorkers} workers)...`,
    );
    const load = readSql('queries/bench-citus-load.sql').replaceAll('{{table}}', oneNode);
    const from = `${monthStartLiteral(first)}+00`;
    const to = `${monthStartLiteral(current)}+00`;
    for (let start = 1; start <= options.rows; start += LOAD_ROWS) await client.query(load, [start, Math.min(start + LOAD_ROWS - 1, options.rows), options.rows, sessions, from, to]);
    await client.query(`INSERT INTO ${distributed} SELECT * FROM ${oneNode}`);
    for (const table of [oneNode, distributed]) await client.query(`ANALYZE ${table}`);
    const rowCounts = {} as Record<CitusLayout, number>;
    for (const layout of CITUS_LAYOUTS) rowCounts[layout] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(CITUS_TABLES[layout])}`)).rows[0]!.n);

    // The last whole month, and the session that wrote last.
    const month = addMonths(current, -1);
    const session = (await client.query<{ id: string }>(`SELECT session_id::text AS id FROM ${oneNode} ORDER BY created_at DESC LIMIT 1`)).rows[0]!.id;
    const params: Record<CitusQuery, string[]> = {
      monthAggregate: [`${monthStartLiteral(month)}+00`, `${monthStartLiteral(current)}+00`],
      sessionHistory: [session],
    };
    const sql = { oneNode: queryStatements(oneNode), distributed: queryStatements(distributed) };
    const shown = queryStatements('<table>');

    const queries: CitusQueryFigures[] = [];
    for (const name of CITUS_QUERIES) {
      for (let run = 0; run < WARM_UP_RUNS; run += 1) for (const layout of CITUS_LAYOUTS) await timeQuery(client, sql[layout][name], params[name]);
      const samples: Record<CitusLayout, number[]> = { oneNode: [], distributed: [] };
      for (let rep = 0; rep < options.reps; rep += 1) {
        const order = rep % 2 === 0 ? CITUS_LAYOUTS : [...CITUS_LAYOUTS].reverse();
        for (const layout of order) samples[layout].push(await timeQuery(client, sql[layout][name], params[name]));
      }
      const local = summarise(samples.oneNode);
      const spread = summarise(samples.distributed);
      const figures: CitusQueryFigures = {
        name,
        sql: shown[name],
        params: params[name],
        oneNodeMs: local.median,
        distributedMs: spread.median,
        oneNodeSamplesMs: local.samples,
        distributedSamplesMs: spread.samples,
        ratio: round3(local.median / spread.median),
        oneNode: await planFacts(client, sql.oneNode[name], params[name], false),
        distributed: await planFacts(client, sql.distributed[name], params[name], true),
      };
      queries.push(figures);
      options.progress(`bench citus: ${name}: one_node ${figures.oneNodeMs} ms, distributed ${figures.distributedMs} ms (${figures.distributed.tasks} tasks)`);
    }

    return {
      rows: options.rows,
      reps: options.reps,
      server: version,
      citusVersion: citus.version,
      activeWorkers: citus.activeWorkers,
      shards,
      sessions,
      partitions: months.length,
      rowCounts,
      month: monthKey(month),
      session,
      queries,
      note: CITUS_NOTE,
      totalSeconds: Math.round((performance.now() - began) / 1000),
    };
  } finally {
    if (created) await client?.query(`DROP SCHEMA IF EXISTS ${quoteIdent(CITUS_SCHEMA)} CASCADE`).catch(() => undefined);
    await client?.end().catch(() => undefined);
    await server.stop();
  }
}

const LABELS: Record<CitusQuery, string> = {
  monthAggregate: "one month's aggregate",
  sessionHistory: "one session's history",
};

function months(facts: CitusPlanFacts): string {
  return facts.monthsScanned === facts.monthsInPlan ? `${facts.monthsScanned}` : `${facts.monthsScanned} of ${facts.monthsInPlan} in plan`;
}

export function renderCitusBench(report: CitusBenchReport): string {
  const header = ['query', 'one_node ms', 'distributed ms', 'ratio', 'Citus tasks', 'months scanned: one_node', 'by one task'];
  const rows = report.queries.map((query) => [
    LABELS[query.name],
    query.oneNodeMs.toFixed(1),
    query.distributedMs.toFixed(1),
    `${query.ratio}x`,
    String(query.distributed.tasks),
    months(query.oneNode),
    months(query.distributed),
  ]);
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `  ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')}`;
  return [
    `Citus: one_node (a local table) vs distributed (by ${DISTRIBUTION_COLUMN}, ${report.shards} shards on ${report.activeWorkers} workers): ${report.rows.toLocaleString('en-US')} rows of ${report.sessions.toLocaleString('en-US')} sessions in each, ${report.partitions} monthly partitions; median of ${report.reps} warm runs, order alternating; Citus ${report.citusVersion}, ${report.server}`,
    `  aggregate of ${report.month}; history of session ${report.session}; ratio = one_node ms / distributed ms (above 1: distributed faster)`,
    line(header),
    ...rows.map(line),
    `  ${report.note}`,
  ].join('\n');
}
