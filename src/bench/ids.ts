/**
 * `partkit bench --section ids`: what time-ordered ids cost against gen_random_uuid(), the setting
 * "ids" of partkit's tables. The same rows of messages, their ids left to the database, go into four
 * tables: partitioned by partkit with "ids": "uuidv7" (a UUIDv7 of created_at from a trigger, an id
 * range per month) and with "ids": "random" (gen_random_uuid()), and the plain table with each kind
 * of id. Measured: rows per second while loading the history with every index in place, rows per
 * second into the current month, the index sizes, and what a lookup by id alone opens.
 * Figures only: nothing here asserts a speed.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { resolveConfig } from '../core/config.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../core/db.js';
import { quoteIdent, quoteQualified } from '../core/identifiers.js';
import { silentLogger } from '../core/log.js';
import { addMonths, currentMonth, type Month } from '../core/partitions.js';
import { explain, summarise, timeQuery } from './measure.js';
import { insertRowsSql, monthStart } from './queries.js';
import type { SectionOptions } from './run.js';
import { connectClient, endSection, refuseExistingSchemas, startBenchServer } from './server.js';
import { applyChanges, benchStep, vacuumSteps } from './changes.js';
import { plainDdl, sizeOf } from './tables.js';

export const ID_TABLES = ['partitionedV7', 'partitionedRandom', 'plainV7', 'plainRandom'] as const;
export type IdTable = (typeof ID_TABLES)[number];
const SCHEMAS: Record<IdTable, string> = { partitionedV7: 'bench_ids_partitioned_v7', partitionedRandom: 'bench_ids_partitioned_random', plainV7: 'bench_ids_plain_v7', plainRandom: 'bench_ids_plain_random' };
const KIT_SCHEMA = 'partkit';
const ARCHIVE_SCHEMA = 'bench_ids_archive';
const BATCH_ROWS = 50_000;

export interface IdsOptions extends SectionOptions {
  readonly rows: number;
  readonly months: number;
}

export interface IdFigures {
  /** Rows per second loading the history (every index in place, ids left to the database). */
  readonly loadRowsPerS: number;
  /** Rows per second into the current month (median of the runs, rolled back). */
  readonly insertRowsPerS: number;
  readonly primaryKeyBytes: number;
  readonly indexBytes: number;
  /** Tables a lookup by id alone opens (EXPLAIN, the id as a bound parameter). */
  readonly idLookupOpens: number;
}

export interface IdsReport {
  readonly rows: number;
  readonly months: number;
  readonly server: string;
  readonly tables: Readonly<Record<IdTable, IdFigures>>;
  readonly date: string;
  readonly totalSeconds: number;
}

function name(kind: IdTable): string {
  return quoteQualified({ schema: SCHEMAS[kind], name: 'messages' });
}

export async function runIdsBench(options: IdsOptions): Promise<IdsReport> {
  const started = performance.now();
  const server = await startBenchServer(options.databaseUrl);
  let client: pg.Client | undefined;
  let db: Database | undefined;
  try {
    client = await connectClient(server.target());
    if (server.kind === 'external') await refuseExistingSchemas(client, [...Object.values(SCHEMAS), ARCHIVE_SCHEMA]);
    const { rows: info } = await client.query<{ version: string; now: Date }>(`SELECT current_setting('server_version') AS version, now() AS now`);
    const hot = currentMonth('UTC', info[0]!.now);
    const start = monthStart(addMonths(hot, -options.months));
    const end = monthStart(hot);
    const history: Month[] = Array.from({ length: options.months }, (_, i) => addMonths(hot, -options.months + i));
    db = await Database.connect(server.target(), { ...DEFAULT_EXECUTOR_OPTIONS, log: silentLogger });
    await applyChanges(db, Object.values(SCHEMAS).map((schema) => benchStep(`schema ${schema}`, `CREATE SCHEMA ${quoteIdent(schema)}`)));
    options.progress('creating the partitioned tables with partkit provision ("ids": "uuidv7" and "random"), and the plain ones...');
    let strategy = '';
    for (const [kind, ids] of [['partitionedV7', 'uuidv7'], ['partitionedRandom', 'random']] as const) {
      const config = resolveConfig({ kitSchema: KIT_SCHEMA, archiveSchema: ARCHIVE_SCHEMA, tables: [{ name: `${SCHEMAS[kind]}.messages`, retention: null, timeZone: 'UTC', ids }] }, '(benchmark)');
      strategy = (await options.partitionTable(db, config, history)).strategy;
    }
    await applyChanges(db, [
      benchStep(`table ${name('plainV7')}`, plainDdl('messages', name('plainV7'), { timeIndex: true })),
      benchStep(`time-ordered ids (uuidv7) for ${name('plainV7')}`, `SELECT ${quoteIdent(KIT_SCHEMA)}.use_time_ordered_ids($1::regclass)`, [name('plainV7')]),
      benchStep(`table ${name('plainRandom')}`, plainDdl('messages', name('plainRandom'), { timeIndex: true })),
    ]);

    const spacing = (end.getTime() - start.getTime()) / 1000 / options.rows;
    const load: Record<IdTable, number> = { partitionedV7: 0, partitionedRandom: 0, plainV7: 0, plainRandom: 0 };
    const total = options.rows * ID_TABLES.length;
    let done = 0;
    // Batch by batch in turn, so that the four tables load under the same conditions.
    for (let first = 1; first <= options.rows; first += BATCH_ROWS) {
      const last = Math.min(options.rows, first + BATCH_ROWS - 1);
      const order = (first / BATCH_ROWS) % 2 < 1 ? ID_TABLES : [...ID_TABLES].reverse();
      for (const kind of order) {
        options.bar(`loading with ids left to the database`, done, total);
        load[kind] += await timeQuery(client, insertRowsSql('messages-without-id', name(kind)), [first, last, start.toISOString(), spacing]);
        done += last - first + 1;
      }
    }
    options.bar('loaded', total, total);
    await applyChanges(db, vacuumSteps(ID_TABLES.map(name), true));

    const inserts: Record<IdTable, number[]> = { partitionedV7: [], partitionedRandom: [], plainV7: [], plainRandom: [] };
    for (let rep = -1; rep < options.reps; rep += 1) {
      for (const kind of rep % 2 === 0 ? ID_TABLES : [...ID_TABLES].reverse()) {
        await client.query('BEGIN');
        const elapsed = await timeQuery(client, insertRowsSql('messages-without-id', name(kind)), [1, options.insertRows, end.toISOString(), 1]);
        await client.query('ROLLBACK');
        if (rep >= 0) inserts[kind].push(elapsed);
      }
    }
    const figures = {} as Record<IdTable, IdFigures>;
    await applyChanges(db, vacuumSteps(ID_TABLES.map(name), false));
    for (const kind of ID_TABLES) {
      const size = await sizeOf(client, name(kind));
      const { rows: one } = await client.query<{ id: string }>(`SELECT id::text FROM ${name(kind)} WHERE created_at >= $1 ORDER BY created_at LIMIT 1`, [monthStart(addMonths(hot, -2)).toISOString()]);
      const plan = await explain(client, `SELECT * FROM ${name(kind)} WHERE id = $1`, [one[0]!.id]);
      figures[kind] = {
        loadRowsPerS: Math.round((options.rows / load[kind]) * 1000),
        insertRowsPerS: Math.round((options.insertRows / summarise(inserts[kind]).median) * 1000),
        primaryKeyBytes: size.indexes.messages_pkey ?? 0,
        indexBytes: size.indexBytes,
        idLookupOpens: plan.relationsScanned.length,
      };
    }
    return {
      rows: options.rows,
      months: options.months,
      server: `PostgreSQL ${info[0]!.version} (${server.kind === 'embedded' ? 'embedded, throwaway' : 'given database'}), partitioned with strategy ${strategy}`,
      tables: figures,
      date: new Date().toISOString(),
      totalSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await endSection(server, client, db, [...Object.values(SCHEMAS), ARCHIVE_SCHEMA], options.progress);
  }
}

const LABELS: Record<IdTable, string> = {
  partitionedV7: 'partitioned, "ids": "uuidv7"',
  partitionedRandom: 'partitioned, "ids": "random"',
  plainV7: 'plain, UUIDv7 of created_at',
  plainRandom: 'plain, gen_random_uuid()',
};

export function renderIds(report: IdsReport): string {
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const t = report.tables;
  const lines = [
    `partkit bench --section ids, ${report.date}: ${report.rows.toLocaleString('en-US')} rows of messages over ${report.months} months in each table, ids left to the database; ${report.server}`,
    `${'table'.padEnd(30)} ${'load rows/s'.padStart(12)} ${'insert rows/s'.padStart(14)} ${'primary key'.padStart(12)} ${'all indexes'.padStart(12)} ${'by id opens'.padStart(12)}`,
    ...ID_TABLES.map((kind) => `${LABELS[kind].padEnd(30)} ${t[kind].loadRowsPerS.toLocaleString('en-US').padStart(12)} ${t[kind].insertRowsPerS.toLocaleString('en-US').padStart(14)} ${mib(t[kind].primaryKeyBytes).padStart(12)} ${mib(t[kind].indexBytes).padStart(12)} ${String(t[kind].idLookupOpens).padStart(12)}`),
    `uuidv7 against random, partitioned: load ${(t.partitionedV7.loadRowsPerS / t.partitionedRandom.loadRowsPerS).toFixed(2)}x, inserts ${(t.partitionedV7.insertRowsPerS / t.partitionedRandom.insertRowsPerS).toFixed(2)}x, primary key ${(t.partitionedV7.primaryKeyBytes / t.partitionedRandom.primaryKeyBytes).toFixed(2)}x the size; plain: load ${(t.plainV7.loadRowsPerS / t.plainRandom.loadRowsPerS).toFixed(2)}x, inserts ${(t.plainV7.insertRowsPerS / t.plainRandom.insertRowsPerS).toFixed(2)}x, primary key ${(t.plainV7.primaryKeyBytes / t.plainRandom.primaryKeyBytes).toFixed(2)}x`,
    `Done in ${report.totalSeconds}s.`,
  ];
  return lines.join('\n');
}
