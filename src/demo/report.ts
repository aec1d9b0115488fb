/**
 * The demo's result and how it reads on a terminal; `--json` prints the result as it is.
 */
import type { DemoServer, KeptServer } from './server.js';

export interface DemoPartition {
  readonly name: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly rows: number;
}

export interface DemoTable {
  /** The display name, as in every command's JSON. */
  readonly table: string;
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

function formatRange(partition: DemoPartition): string {
  return partition.from && partition.to ? `${partition.from.slice(0, 10)} .. ${partition.to.slice(0, 10)}` : 'DEFAULT';
}

export function renderDemo(result: DemoResult): string {
  const lines: string[] = [];
  const serverText = result.server.kind === 'external' ? 'the given database' : `PostgreSQL ${result.server.version} (${result.server.kind === 'local' ? 'local binaries' : 'embedded'}, throwaway)`;
  lines.push('', `partkit demo on ${serverText}: strategy ${result.strategy}, ${result.rowsPerTable.toLocaleString('en-US')} rows per table`);
  lines.push(`maintenance: ${result.maintenance.created} partition(s) created, ${result.maintenance.detached} detached into the archive${result.maintenance.failed ? `, ${result.maintenance.failed} FAILED` : ''}`);
  for (const table of result.tables) {
    lines.push('', `${table.table}: ${table.partitions.length} monthly partitions + default (${table.defaultRows} rows in the default), ${table.archived.length} archived`);
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
