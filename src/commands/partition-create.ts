/**
 * `partkit partition create`: its options and how its result prints. Reading the months asked for,
 * planning and creating them is src/partitions/create.ts, which demo, bench and migrate use too.
 */
import type { Argv, CommandModule } from 'yargs';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { parseQualifiedName } from '../core/identifiers.js';
import { requestedMonths, type PartitionCreateResult, partitionCreate } from '../partitions/create.js';

export function renderPartitionCreate(result: PartitionCreateResult): string {
  if (result.sql !== undefined) return result.sql;
  const lines = [`${result.table} (${result.strategy}): ${result.created.length === 0 ? 'nothing to create' : `created ${result.created.length} month(s)`}`];
  if (result.created.length > 0) lines.push(`  created: ${result.created.join(', ')}`);
  if (result.skipped.length > 0) lines.push(`  already there: ${result.skipped.join(', ')}`);
  return lines.join('\n');
}

interface PartitionCreateArgs extends GlobalOptions {
  readonly table: string;
  readonly month?: string;
  readonly from?: string;
  readonly to?: string;
}

const createCommand: CommandModule<GlobalOptions, PartitionCreateArgs> = {
  command: 'create <table>',
  describe: 'Create monthly partitions now (pg_partman or the plpgsql fallback); existing months are skipped',
  builder: (yargs) =>
    yargs
      .positional('table', { type: 'string', demandOption: true, describe: 'The parent table as SQL writes it: schema.table, "Mixed Case"' })
      .option('month', { type: 'string', describe: 'One month, YYYY-MM, or current / next (by the server\'s clock, in the table\'s zone)' })
      .option('from', { type: 'string', describe: 'First month, YYYY-MM (with --to)' })
      .option('to', { type: 'string', describe: 'Last month, YYYY-MM, inclusive' })
      .example('$0 partition create public.messages --month 2026-03', '')
      .example('$0 partition create messages --from 2025-01 --to 2025-12 --dry-run', '') as unknown as Argv<PartitionCreateArgs>,
  handler: async (args) => {
    await runCommand(
      args,
      async (ctx) => {
        // Validate before connecting: bad input never needs a server.
        parseQualifiedName(args.table);
        const months = requestedMonths(args);
        return partitionCreate(await ctx.database(), ctx.config, args.table, months, { dryRun: args.dryRun });
      },
      renderPartitionCreate,
    );
  },
};

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const partitionCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'partition',
  describe: 'Work on the partitions of one table (create)',
  builder: (yargs) => yargs.command(createCommand).demandCommand(1, 'Name an action: partition create.'),
  handler: () => undefined,
};
