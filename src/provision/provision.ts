/**
 * `partkit provision`: installs what the chosen strategy needs, creates or adopts the configured
 * tables, registers them, and schedules maintenance. Idempotent: a second run changes nothing.
 * Read once (state.ts, one read-only snapshot), plan purely (plan.ts), then run.
 */
import type { Decision } from '../core/capabilities.js';
import type { Config, Strategy } from '../core/config.js';
import type { Database } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { displayName } from '../core/identifiers.js';
import type { Plan, SqlFiles } from '../core/plan.js';
import { renderSql, run, underRunLock } from '../core/runner.js';
import { cronFileSql, crontabLine, jobName } from '../core/schedule.js';
import { PARTKIT_VERSION } from '../core/version.js';
import { describeArchive, type MonthToArchive } from '../migrate/retention.js';
import { distributionNotes, type DistributionNote } from '../citus/provision.js';
import { planProvision, type ProvisionRequest } from './plan.js';
import { readProvisionState, type ProvisionState } from './state.js';

export { planProvision, readProvisionState };
export type { ProvisionRequest, ProvisionState };

export interface ProvisionOptions extends ProvisionRequest {
  readonly dryRun?: boolean | undefined;
  /** With dryRun: 'psql' (a psql script, the default) or 'sql' (a plain migration file, no meta-commands; the pg_cron job in `cronSql`). */
  readonly format?: 'psql' | 'sql' | undefined;
}

export interface ProvisionResult {
  readonly strategy: Strategy;
  readonly scheduler: Decision['scheduler'];
  readonly reasons: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly tables: readonly { readonly table: string; readonly created: boolean; readonly changes: readonly string[] }[];
  readonly steps: readonly string[];
  readonly schedule: { readonly job: string | null; readonly cronDatabase: string | null; readonly externalCommand: string | null };
  /** Per existing table, the months the first maintenance will archive under the retention, read before anything changed. */
  readonly archivePreview: readonly { readonly table: string; readonly months: readonly MonthToArchive[]; readonly rows: number; readonly note: string }[];
  /** Citus (src/citus/): per distributed table, what Citus requires and what partkit chose. */
  readonly citus: readonly DistributionNote[];
  /** The psql script, under --dry-run; with format 'sql', the application database's migration file. */
  readonly sql?: string;
  /** With format 'sql': the pg_cron job's file (it runs in pg_cron's database), or null when the plan schedules none. */
  readonly cronSql?: string | null;
}

/** What the first maintenance will archive, table by table, as read before provision changes anything. */
function previewArchive(state: ProvisionState, config: Config): ProvisionResult['archivePreview'] {
  return config.tables.flatMap((table, index) => {
    const months = state.tables[index]!.toArchive;
    if (months.length === 0) return [];
    return [{ table: displayName(table.name), months, rows: months.reduce((sum, month) => sum + month.rows, 0), note: describeArchive(months, table.retention, displayName(table.name)) }];
  });
}

export async function provision(db: Database, config: Config, options: ProvisionOptions = {}): Promise<ProvisionResult> {
  if (options.format === 'sql' && !options.dryRun) throw new UsageError('--format sql prints a migration file: give it with --dry-run.', 'partkit provision --dry-run --format sql > 010_table_partitioning.sql');
  return underRunLock(db, options, () => provisionLocked(db, config, options));
}

async function provisionLocked(db: Database, fileConfig: Config, options: ProvisionOptions): Promise<ProvisionResult> {
  const state = await readProvisionState(db, fileConfig);
  const { plan, caps, decision, config } = planProvision(state, options, state.caps.server.now);
  const archivePreview = previewArchive(state, config);
  const cronDatabase = caps.extensions.pg_cron.databaseName ?? undefined;
  let sql: string | undefined;
  let cronSql: string | null | undefined;
  if (options.format === 'sql') {
    ({ app: sql, cron: cronSql } = sqlFiles(db, config, plan, decision));
  } else {
    const outcome = await run(db, plan, { dryRun: options.dryRun ?? false, cronDatabase });
    if (outcome.dryRun) sql = outcome.sql;
  }
  const tables = config.tables.map((table, index) => ({
    table: displayName(table.name),
    created: !caps.tables[index]!.exists,
    changes: plan.steps.filter((step) => step.kind === 'sql' && step.table === displayName(table.name)).map((step) => step.description),
  }));
  return {
    strategy: decision.strategy,
    scheduler: decision.scheduler,
    reasons: decision.reasons,
    changes: plan.steps.length,
    dryRun: options.dryRun ?? false,
    tables,
    steps: plan.steps.map((step) => step.description),
    schedule: {
      job: decision.scheduler === 'pg_cron' ? jobName(config, caps.database) : null,
      cronDatabase: decision.scheduler === 'pg_cron' ? cronDatabase ?? null : null,
      externalCommand: decision.scheduler === 'external' ? crontabLine(config) : null,
    },
    archivePreview,
    citus: distributionNotes(caps, config),
    ...(sql !== undefined ? { sql } : {}),
    ...(cronSql !== undefined ? { cronSql } : {}),
  };
}

/**
 * `--format sql`: the application database's migration file, and, when maintenance is a pg_cron
 * job, the job's file: it runs in pg_cron's database, which an app's migration runner does not
 * connect to, and names the application database where it is applied (cronFileSql). The CLI
 * writes it to --cron-file. Neither names a path of this machine.
 */
function sqlFiles(db: Database, config: Config, plan: Plan, decision: Decision): SqlFiles {
  const header = [
    `partkit ${PARTKIT_VERSION} provision, as a migration file: ${plan.steps.length} step(s), planned against database ${db.name} as it was then.`,
    'Apply it once, like any migration: in one transaction (psql -1 -f, postgres-migrations, node-pg-migrate) or',
    'statement by statement (psql -f); see the README, "A migration file for your own runner".',
    decision.scheduler === 'external'
      ? 'Maintenance is not scheduled here (--scheduler external): run `npx --no-install partkit maintain` hourly from your scheduler (docs/scheduling.md).'
      : "Maintenance is a pg_cron job, created by the cron file (--cron-file) in pg_cron's database (docs/scheduling.md).",
  ];
  return { app: renderSql(db, plan, header), cron: decision.scheduler === 'pg_cron' ? cronFileSql(config) : null };
}
