/**
 * `partkit deprovision [--table T]`: the way out of provision. It removes what provision registered
 * and scheduled: each table's registration (pg_partman's `part_config` row and its template table,
 * the kit's `managed_table` row and its held months) and, once no table is left, the maintenance job
 * and the kit's schema. The tables, their months and their rows stay, and so does the archive schema
 * with the archived months. A second run plans nothing, and `partkit provision` afterwards works.
 */
import type { CommandModule } from 'yargs';
import { inspect, type Capabilities } from '../core/capabilities.js';
import type { Config } from '../core/config.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import type { Database } from '../core/db.js';
import { ConflictError } from '../core/errors.js';
import { displayName, dottedName, parseQualifiedName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { run, underRunLock } from '../core/runner.js';
import { readSql } from '../core/sql-files.js';
import { jobCommand, jobName } from '../core/schedule.js';
import { tableNotFound } from '../core/table-lookup.js';

export interface DeprovisionOptions {
  /** Only this table (schema.table); default every table the kit or pg_partman has registered for partkit. */
  readonly table?: string | undefined;
  readonly dryRun?: boolean | undefined;
}

export interface DeprovisionResult {
  /** The tables whose registration is removed (with --dry-run: would be). */
  readonly tables: readonly string[];
  /** The pg_cron job removed, when there was one and no table is left. */
  readonly job: string | null;
  /** Whether the kit's schema is dropped (no table is left). */
  readonly kitSchemaDropped: boolean;
  readonly steps: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly sql?: string;
}

interface Registered {
  readonly name: QualifiedName;
  readonly managed: boolean;
  /** pg_partman's part_config row: its key and its template table, when it has one. */
  readonly partConfig: { readonly key: string; readonly template: string | null } | null;
}

export async function deprovision(db: Database, config: Config, options: DeprovisionOptions = {}): Promise<DeprovisionResult> {
  const only = options.table === undefined ? undefined : parseQualifiedName(options.table);
  return underRunLock(db, options, () => deprovisionLocked(db, config, only, options.dryRun ?? false));
}

async function deprovisionLocked(db: Database, config: Config, only: QualifiedName | undefined, dryRun: boolean): Promise<DeprovisionResult> {
  const caps = await inspect(db, config);
  const kit = quoteIdent(config.kitSchema);
  const registered = await readRegistered(db, caps, config);
  const targets = only ? registered.filter((table) => table.name.schema === only.schema && table.name.name === only.name) : registered;
  // A typo in --table is not "nothing to do": say so, with the closest name.
  if (only && targets.length === 0 && !(await tableExists(db, only))) throw await tableNotFound(db, only, (found) => `partkit deprovision --table ${found}`);
  const left = registered.length - targets.length;
  const steps: SqlStep[] = [];
  const partman = caps.extensions.pg_partman.schema;
  for (const table of targets) {
    const label = displayName(table.name);
    const group = `deprovision ${label}`;
    if (table.partConfig && partman) {
      steps.push(sqlStep(`remove ${label} from ${partman}.part_config (pg_partman stops maintaining it)`, `DELETE FROM ${quoteIdent(partman)}.part_config WHERE parent_table = $1`, { params: [table.partConfig.key], group, table: label }));
      if (table.partConfig.template) {
        steps.push(sqlStep(`drop pg_partman's template table ${table.partConfig.template} of ${label}`, `DROP TABLE IF EXISTS ${table.partConfig.template}`, { group, table: label }));
      }
    }
    if (table.managed && left > 0) {
      steps.push(
        sqlStep(`remove ${label} from ${config.kitSchema}.managed_table and its held months from ${config.kitSchema}.archive_hold`, `DELETE FROM ${kit}.managed_table WHERE parent_schema = $1 AND parent_table = $2`, {
          params: [table.name.schema, table.name.name],
          group,
          table: label,
        }),
        sqlStep(`forget the held months of ${label}`, `DELETE FROM ${kit}.archive_hold WHERE parent_schema = $1 AND parent_table = $2`, { params: [table.name.schema, table.name.name], group, table: label }),
      );
    }
  }

  // No table left: the job and the kit's schema go too (the registry goes with the schema).
  let job: string | null = null;
  let kitSchemaDropped = false;
  if (left === 0) {
    const cron = caps.extensions.pg_cron;
    if (cron.installed && cron.databaseName) {
      const jobs = await db.queryCron<{ jobid: number; jobname: string | null }>(
        cron.databaseName,
        'SELECT jobid::int AS jobid, jobname FROM cron.job WHERE jobname = $1 OR (database = $2 AND command = $3) ORDER BY jobid',
        [jobName(config, caps.database), caps.database, jobCommand(config)],
      );
      for (const found of jobs) {
        steps.push(sqlStep(`unschedule pg_cron job ${found.jobname ?? found.jobid} (maintenance of database ${caps.database})`, 'SELECT cron.unschedule($1::bigint)', { params: [found.jobid], database: 'cron' }));
        job = found.jobname ?? String(found.jobid);
      }
    }
    if (caps.kit.installed || (await schemaExists(db, config.kitSchema))) {
      steps.push(...(await refuseOutsideDependents(db, config.kitSchema)));
      steps.push(sqlStep(`drop schema ${config.kitSchema}: the kit's functions, its registry, its maintenance log and its record of exports (the files stay where they were written)`, `DROP SCHEMA ${kit} CASCADE`));
      kitSchemaDropped = true;
    }
  }

  const outcome = await run(db, { steps }, { dryRun, cronDatabase: caps.extensions.pg_cron.databaseName ?? undefined });
  const result: DeprovisionResult = { tables: targets.map((table) => displayName(table.name)), job, kitSchemaDropped, steps: steps.map((step) => step.description), changes: steps.length, dryRun };
  return outcome.dryRun ? { ...result, sql: outcome.sql } : result;
}

/** The tables registered for partkit: rows of the kit's managed_table, and pg_partman's rows of those and of the configured tables. */
async function readRegistered(db: Database, caps: Capabilities, config: Config): Promise<Registered[]> {
  const names = new Map<string, QualifiedName>();
  const managed = new Set<string>();
  if (caps.kit.installed) {
    for (const row of await db.query<{ schema: string; name: string }>(`SELECT parent_schema AS schema, parent_table AS name FROM ${quoteIdent(config.kitSchema)}.managed_table ORDER BY 1, 2`)) {
      names.set(dottedName(row), row);
      managed.add(dottedName(row));
    }
  }
  for (const table of config.tables) names.set(dottedName(table.name), table.name);
  const partman = caps.extensions.pg_partman;
  const partConfigs = new Map<string, string | null>();
  if (partman.installed && partman.schema) {
    const rows = await db.query<{ key: string; template: string | null }>(
      `SELECT parent_table AS key, template_table AS template FROM ${quoteIdent(partman.schema)}.part_config WHERE parent_table = ANY ($1::text[])`,
      [[...names.keys()]],
    );
    for (const row of rows) partConfigs.set(row.key, row.template);
  }
  return [...names]
    .filter(([key]) => managed.has(key) || partConfigs.has(key))
    .map(([key, name]) => ({ name, managed: managed.has(key), partConfig: partConfigs.has(key) ? { key, template: partConfigs.get(key) ? quoteTemplate(partConfigs.get(key)!) : null } : null }));
}

/** part_config.template_table is `schema.table` unquoted (pg_partman names it template_<schema>_<table>). */
function quoteTemplate(dotted: string): string {
  const dot = dotted.indexOf('.');
  return dot < 0 ? quoteIdent(dotted) : `${quoteIdent(dotted.slice(0, dot))}.${quoteIdent(dotted.slice(dot + 1))}`;
}

async function tableExists(db: Database, table: QualifiedName): Promise<boolean> {
  const [row] = await db.query<{ ok: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2) AS ok', [table.schema, table.name]);
  return row?.ok ?? false;
}

async function schemaExists(db: Database, schema: string): Promise<boolean> {
  const [row] = await db.query<{ ok: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok', [schema]);
  return row?.ok ?? false;
}

/**
 * Objects outside the kit's schema that depend on something in it. Time-ordered ids are handed back
 * (a uuid column's default becomes gen_random_uuid(), the kit's id triggers go: a trigger of a
 * partitioned table takes its partitions' clones along); anything else (a view over the maintenance
 * log, say) would go with DROP SCHEMA ... CASCADE, so deprovision refuses first, changing nothing.
 */
async function refuseOutsideDependents(db: Database, kitSchema: string): Promise<SqlStep[]> {
  const rows = await db.query<{ what: string; schema: string | null; relation: string | null; column: string | null; uuid: boolean; trigger: string | null; clone: boolean }>(
    readSql('queries/deprovision-dependents.sql'),
    [kitSchema],
  );
  const steps: SqlStep[] = [];
  const refused: string[] = [];
  for (const row of rows) {
    const name = row.schema !== null && row.relation !== null ? { schema: row.schema, name: row.relation } : null;
    if (name !== null && row.column !== null && row.uuid) {
      steps.push(sqlStep(`${displayName(name)}.${row.column}: ids from gen_random_uuid() instead of the kit's time-ordered ones`, `ALTER TABLE ONLY ${quoteQualified(name)} ALTER COLUMN ${quoteIdent(row.column)} SET DEFAULT gen_random_uuid()`));
    } else if (name !== null && row.trigger !== null) {
      // A partition's clone of its parent's trigger goes with the parent's.
      if (!row.clone) steps.push(sqlStep(`drop the kit's trigger ${row.trigger} on ${displayName(name)}`, `DROP TRIGGER IF EXISTS ${quoteIdent(row.trigger)} ON ${quoteQualified(name)}`));
    } else {
      refused.push(row.what);
    }
  }
  if (refused.length === 0) return steps;
  throw new ConflictError(
    `Objects outside schema ${kitSchema} depend on partkit's objects, and dropping the schema would drop them too (nothing was changed):\n${refused.map((what) => `  ${what}`).join('\n')}`,
    'Drop or change them first (a view over the maintenance log, say), then run partkit deprovision again.',
  );
}

export function renderDeprovision(result: DeprovisionResult): string {
  if (result.sql !== undefined) return result.sql;
  if (result.changes === 0) return 'deprovision: nothing is provisioned here; nothing to do';
  const lines = [`deprovision: ${result.changes} change(s) applied; the tables and their rows stay`];
  for (const table of result.tables) lines.push(`  ${table}: no longer registered`);
  if (result.job) lines.push(`  pg_cron job ${result.job}: unscheduled`);
  if (result.kitSchemaDropped) lines.push("  the kit's schema: dropped (partkit provision installs it again)");
  return lines.join('\n');
}

interface DeprovisionArgs extends GlobalOptions {
  readonly table?: string;
}

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const deprovisionCommand: CommandModule<GlobalOptions, DeprovisionArgs> = {
  command: 'deprovision',
  describe: "Undo provision: remove the tables' registration (pg_partman's part_config, the kit's registry), and once no table is left the schedule and the kit's schema; tables and rows stay",
  builder: (yargs) =>
    yargs
      .option('table', { type: 'string', describe: 'Only this table (schema.table); the schedule and the kit stay while other tables are registered' })
      .example('$0 deprovision --dry-run', '')
      .example('$0 deprovision --table public.usage_records', ''),
  handler: async (args) => {
    await runCommand(args, async (ctx) => deprovision(await ctx.database(), ctx.config, { table: args.table, dryRun: args.dryRun }), renderDeprovision);
  },
};
