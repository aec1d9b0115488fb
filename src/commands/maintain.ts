/**
 * `partkit maintain`: its options and how its result prints. The run itself (the maintenance
 * procedure, a table retried alone on a busy lock) is src/maintain/maintain.ts, which demo and bench
 * call too.
 */
import type { CommandModule } from 'yargs';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { type MaintainResult, maintain } from '../maintain/maintain.js';

export function renderMaintain(result: MaintainResult): string {
  if (result.sql !== undefined) return result.sql;
  const lines = result.events.map((event) => `  ${event.action.padEnd(8)} ${event.table}${event.partition ? ` ${event.partition}` : ''}${event.rows ? ` (${event.rows} rows)` : ''}${event.detail ? `: ${event.detail}` : ''}`);
  lines.unshift(`maintenance ${result.ok ? 'done' : 'FAILED for some tables'}: ${result.created} created, ${result.detached} detached${result.failed ? `, ${result.failed} failed` : ''}`);
  return lines.join('\n');
}

interface MaintainArgs extends GlobalOptions {
  readonly table?: string;
}

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const maintainCommand: CommandModule<GlobalOptions, MaintainArgs> = {
  command: 'maintain',
  describe: 'Run maintenance once now: premake months, move default rows, archive old months (for external schedulers)',
  builder: (yargs) => yargs.option('table', { type: 'string', describe: 'Only this table (schema.table)' }),
  handler: async (args) => {
    await runCommand(args, async (ctx) => maintain(await ctx.database(), ctx.config, { dryRun: args.dryRun, table: args.table }), renderMaintain);
  },
};
