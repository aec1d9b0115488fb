/**
 * `partkit log`: the kit's maintenance log (`maintenance_run` / `maintenance_event`), the last
 * runs newest first, each with the tables it covered, what it did to each and its errors.
 * Whoever ran maintenance (the pg_cron job, an external scheduler, `partkit maintain`) is there.
 * Read-only; the log keeps 90 days (run_maintenance deletes older runs).
 */
import type { CommandModule } from 'yargs';
import type { Config } from '../core/config.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import type { Database } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { displayName, parseQualifiedName, quoteIdent } from '../core/identifiers.js';
import { requireKit } from '../core/kit.js';
import { readSql } from '../core/sql-files.js';

export interface LogOptions {
  /** Only runs that covered this table, and only its lines. */
  readonly table?: string | undefined;
  /** How many runs (default 10). */
  readonly limit?: number | undefined;
}

export interface LoggedEvent {
  readonly action: string;
  readonly partition: string | null;
  readonly detail: string | null;
  readonly rows: number | null;
  readonly at: string;
}

export interface LoggedTable {
  readonly table: string;
  /** False when the run recorded a failure for this table. */
  readonly ok: boolean;
  readonly errors: readonly string[];
  readonly events: readonly LoggedEvent[];
}

export interface LoggedRun {
  readonly id: number;
  readonly startedAt: string;
  /** null while the run is still going. */
  readonly finishedAt: string | null;
  readonly ok: boolean | null;
  /** Who ran it (application_name: partkit, pg_cron, ...). */
  readonly source: string | null;
  readonly detail: string | null;
  /** The one table the run was asked for; null when it covered every managed table. */
  readonly only: string | null;
  readonly tables: readonly LoggedTable[];
}

export interface LogResult {
  readonly runs: readonly LoggedRun[];
}

const DEFAULT_LIMIT = 10;

interface LogRow {
  readonly run_id: string;
  readonly started_at: Date;
  readonly finished_at: Date | null;
  readonly ok: boolean | null;
  readonly source: string | null;
  readonly detail: string | null;
  readonly only_schema: string | null;
  readonly only_table: string | null;
  readonly parent_schema: string | null;
  readonly parent_table: string | null;
  readonly events: { action: string; partition: string | null; detail: string | null; rows: number | null; at: string }[];
}

export async function maintenanceLog(db: Database, config: Config, options: LogOptions = {}): Promise<LogResult> {
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number of 1 or more, not ${String(options.limit)}.`, 'For example: partkit log --limit 20');
  const only = options.table === undefined ? null : parseQualifiedName(options.table);
  await requireKit(db, config.kitSchema, ['maintenance_run', 'maintenance_event', 'managed_table']);
  const rows = await db.query<LogRow>(readSql('queries/maintenance-log.sql').replaceAll('{{kit}}', quoteIdent(config.kitSchema)), [limit, only?.schema ?? null, only?.name ?? null]);
  const runs = new Map<string, LoggedRun & { tables: LoggedTable[] }>();
  for (const row of rows) {
    let run = runs.get(row.run_id);
    if (!run) {
      run = {
        id: Number(row.run_id),
        startedAt: row.started_at.toISOString(),
        finishedAt: row.finished_at?.toISOString() ?? null,
        ok: row.ok,
        source: row.source,
        detail: row.detail,
        only: row.only_schema !== null && row.only_table !== null ? displayName({ schema: row.only_schema, name: row.only_table }) : null,
        tables: [],
      };
      runs.set(row.run_id, run);
    }
    if (row.parent_schema === null || row.parent_table === null) continue;
    const events = row.events.map((event) => ({ action: event.action, partition: event.partition, detail: event.detail, rows: event.rows === null ? null : Number(event.rows), at: new Date(event.at).toISOString() }));
    const errors = events.filter((event) => event.action === 'failed').map((event) => event.detail ?? 'failed');
    run.tables.push({ table: displayName({ schema: row.parent_schema, name: row.parent_table }), ok: errors.length === 0, errors, events });
  }
  return { runs: [...runs.values()] };
}

function seconds(run: LoggedRun): string {
  if (!run.finishedAt) return 'running';
  return `${((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)}s`;
}

/** "1 created, 2 moved (340 rows)" */
function summary(events: readonly LoggedEvent[]): string {
  const counts = new Map<string, { n: number; rows: number }>();
  for (const event of events) {
    if (event.action === 'failed') continue;
    const count = counts.get(event.action) ?? { n: 0, rows: 0 };
    counts.set(event.action, { n: count.n + 1, rows: count.rows + (event.rows ?? 0) });
  }
  const parts = [...counts].map(([action, { n, rows }]) => `${n} ${action}${rows ? ` (${rows} rows)` : ''}`);
  return parts.length > 0 ? parts.join(', ') : 'nothing to do';
}

export function renderLog(result: LogResult): string {
  if (result.runs.length === 0) return 'no maintenance run is recorded (run `partkit maintain`, or wait for the scheduled job)';
  const lines: string[] = [];
  for (const run of result.runs) {
    const outcome = run.ok === null ? 'RUNNING' : run.ok ? 'ok' : 'FAILED';
    lines.push(`run ${run.id}  ${run.startedAt}  ${seconds(run)}  ${outcome}  by ${run.source ?? '?'}${run.only ? `  only ${run.only}` : ''}${run.detail ? `  (${run.detail})` : ''}`);
    const width = Math.max(0, ...run.tables.map((table) => table.table.length));
    for (const table of run.tables) {
      const did = summary(table.events);
      lines.push(`  ${table.table.padEnd(width)}  ${table.ok ? `ok: ${did}` : `FAILED${did === 'nothing to do' ? '' : `: ${did}`}`}`);
      for (const error of table.errors) lines.push(`    error: ${error}`);
    }
  }
  return lines.join('\n');
}

interface LogArgs extends GlobalOptions {
  readonly table?: string;
  readonly limit?: number;
}

export const logCommand: CommandModule<GlobalOptions, LogArgs> = {
  command: 'log',
  describe: "Show the kit's maintenance log: the last runs, per table, with their errors",
  builder: (yargs) =>
    yargs
      .option('table', { type: 'string', describe: 'Only runs that covered this table (schema.table), and only its lines' })
      .option('limit', { type: 'number', default: DEFAULT_LIMIT, describe: 'How many runs to show, newest first' })
      .example('$0 log --table public.messages --limit 24', 'the last day of an hourly schedule, for one table'),
  handler: async (args) => {
    await runCommand({ ...args, readOnly: true }, async (ctx) => maintenanceLog(await ctx.database(), ctx.config, { table: args.table, limit: args.limit }), renderLog);
  },
};
