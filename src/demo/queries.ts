/**
 * What the demo reads back: that a given database holds no data of its own, each table's months
 * with their rows, the archive, and the plan of a one-week query (partition pruning).
 */
import type { Config, TableConfig } from '../core/config.js';
import type { Database } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { displayName, quoteIdent, quoteQualified } from '../core/identifiers.js';
import { addMonths, currentMonth, listPartitions, monthKey } from '../core/partitions.js';
import type { DemoPartition, DemoResult, DemoTable } from './report.js';

/** With --database-url the demo must not touch real data: the four tables must be absent or empty. */
export async function refuseData(db: Database, config: Config): Promise<void> {
  for (const table of config.tables) {
    const [row] = await db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [quoteQualified(table.name)]);
    if (!row?.exists) continue;
    const [data] = await db.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${quoteQualified(table.name)}) AS any`);
    if (data?.any) {
      throw new UsageError(`${displayName(table.name)} in database ${db.name} already holds rows; partkit demo adds sample rows and archives old months, so it only runs where the four tables are absent or empty.`, 'Point --database-url at an empty database, or run partkit demo without it to use a throwaway server.');
    }
  }
}

export async function describeTable(db: Database, table: TableConfig): Promise<DemoTable> {
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
    table: displayName(table.name),
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
export async function explainWeek(db: Database, table: TableConfig, now: Date): Promise<DemoResult['explain']> {
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
export async function serverNow(db: Database): Promise<string> {
  const [row] = await db.query<{ now: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`);
  return row!.now;
}
