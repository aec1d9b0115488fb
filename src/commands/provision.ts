/**
 * `partkit provision`: its options, the cron file it writes, and how its result prints. Inspecting,
 * planning and applying the setup is src/provision/provision.ts, which demo and bench call too.
 */
import type { CommandModule } from 'yargs';
import { type Scheduler } from '../core/capabilities.js';
import { type Config } from '../core/config.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { withOnlyTable } from '../core/table-option.js';
import { writeFile } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';
import { type ProvisionResult, provision } from '../provision/provision.js';

export function renderProvision(result: ProvisionResult): string {
  if (result.sql !== undefined) return result.sql;
  const lines = [`strategy ${result.strategy}, scheduler ${result.scheduler}: ${result.changes === 0 ? 'nothing to change' : `${result.changes} change(s) applied`}`];
  for (const table of result.tables) {
    lines.push(`  ${table.table}: ${table.changes.length === 0 ? 'up to date' : `${table.created ? 'created; ' : ''}${table.changes.length} change(s)`}`);
  }
  for (const preview of result.archivePreview) lines.push(`  ${preview.table}: ${preview.note}`);
  for (const note of result.citus) {
    lines.push(`citus: ${note.table}`, ...note.required.map((line) => `  Citus requires: ${line}`), ...note.chosen.map((line) => `  partkit chose:  ${line}`));
  }
  if (result.schedule.job) lines.push(`maintenance: pg_cron job ${result.schedule.job} (in database ${result.schedule.cronDatabase})`);
  if (result.schedule.externalCommand) {
    lines.push('maintenance: no pg_cron here; run `partkit maintain` from an external scheduler, e.g. this crontab line:', `  ${result.schedule.externalCommand}`);
  }
  return lines.join('\n');
}

/** `--cron-file`: the pg_cron job's statements go to their own file; a plan that schedules one needs it. */
async function writeCronFile(result: ProvisionResult, cronFile: string | undefined): Promise<void> {
  const cronSql = result.cronSql ?? null;
  if (cronSql !== null && cronFile === undefined) {
    throw new UsageError(
      `The plan schedules a pg_cron job in database ${result.schedule.cronDatabase ?? 'postgres'}, which cannot be part of a migration file for the application's database.`,
      'Add --cron-file <path> to write its statements to a second file, or --scheduler external to leave it out.',
    );
  }
  if (cronFile === undefined) return;
  try {
    await writeFile(cronFile, cronSql ?? '-- partkit: no pg_cron statements to run for this database.\n');
  } catch (error) {
    throw new UsageError(`Cannot write the cron file ${cronFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`, 'Check the path given to --cron-file.');
  }
}

interface ProvisionArgs extends GlobalOptions {
  readonly table?: string;
  readonly strategy?: Config['strategy'];
  readonly scheduler?: 'auto' | Scheduler;
  readonly format?: 'psql' | 'sql';
  readonly cronFile?: string;
}

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const provisionCommand: CommandModule<GlobalOptions, ProvisionArgs> = {
  command: 'provision',
  describe: 'Install the extensions or fallback, create/register the tables, schedule maintenance (idempotent)',
  builder: (yargs) =>
    yargs
      .option('table', { type: 'string', describe: 'Only this table of the config (the others may still be plain tables waiting for partkit migrate)' })
      .option('strategy', { choices: ['auto', 'partman', 'plpgsql'] as const, describe: 'auto: pg_partman when available, else the plpgsql fallback' })
      .option('scheduler', { choices: ['auto', 'pg_cron', 'external'] as const, describe: 'auto: a pg_cron job when pg_cron is preloaded, else your own scheduler runs `partkit maintain`' })
      .option('format', { choices: ['psql', 'sql'] as const, describe: 'With --dry-run: psql (a psql script, default) or sql (a plain migration file for your migration runner, no psql meta-commands)' })
      .option('cron-file', { type: 'string', describe: 'With --format sql: write the pg_cron job (it runs in pg_cron\'s database) to this file' })
      .example('$0 provision --dry-run --format sql --scheduler external > database/migrations/010_table_partitioning.sql', ''),
  handler: async (args) => {
    await runCommand(
      args,
      async (ctx) => {
        if (args.cronFile !== undefined && args.format !== 'sql') throw new UsageError('--cron-file goes with --dry-run --format sql.');
        const result = await provision(await ctx.database(), withOnlyTable(ctx.config, args.table, 'provision'), { only: args.table !== undefined, strategy: args.strategy, scheduler: args.scheduler, dryRun: args.dryRun, format: args.format });
        if (args.format === 'sql') await writeCronFile(result, args.cronFile);
        return result;
      },
      renderProvision,
    );
  },
};
