/**
 * `partkit migrate <phase> <table>`: moves an existing, unpartitioned table to monthly range
 * partitions in four phases, each idempotent, each validate -> inspect -> plan -> apply, each with
 * --dry-run and --json:
 *
 *   prep   create <table>_partitioned (same columns, indexes, primary key widened by the control column, months, default)
 *   fill   copy the rows in batches (resumable; each batch its own transaction)
 *   swap   replay captured changes, then rename in one short transaction (unswap reverses it)
 *   drop   drain the capture, compare a sample, drop <table>_retired (--yes)
 *   abort  after prep or fill: remove the capture, the copy and its bookkeeping (after swap: unswap first)
 *
 * After the swap, `partkit provision` registers the table like any partitioned one.
 */
import type { Argv, CommandModule } from 'yargs';
import type { Strategy } from '../core/config.js';
import { runCommand, type CommandContext, type GlobalOptions } from '../core/context.js';
import { parseQualifiedName } from '../core/identifiers.js';
import { abort, renderAbort } from '../migrate/abort.js';
import { drop, renderDrop } from '../migrate/drop.js';
import { fill, renderFill, type FillBatchEvent } from '../migrate/fill.js';
import { prep, renderPrep } from '../migrate/prep.js';
import { migrateStatus, renderMigrateStatus } from '../migrate/status.js';
import { renderSwap, swap, unswap } from '../migrate/swap.js';
import { parseMonth } from '../partitions/create.js';

interface TableArgs extends GlobalOptions {
  readonly table: string;
}

/** Every phase checks the table name before connecting, then runs on the database (read-only for a phase that only reports). */
function runPhase<A extends TableArgs, R extends object>(phase: (ctx: CommandContext, args: A) => Promise<R>, render: (result: R) => string, options: { readOnly?: (args: A) => boolean } = {}) {
  return async (args: A): Promise<void> => {
    await runCommand(
      { ...args, readOnly: options.readOnly?.(args) ?? false },
      async (ctx) => {
        parseQualifiedName(args.table);
        return phase(ctx, args);
      },
      render,
    );
  };
}

const tablePositional = <T>(yargs: Argv<T>) =>
  yargs.positional('table', { type: 'string', demandOption: true, describe: 'The table as SQL writes it: schema.table, "Mixed Case"' }) as unknown as Argv<T & { table: string }>;

type ForeignKeys = 'refuse' | 'drop';
const foreignKeysOption = { choices: ['refuse', 'drop'] as const, default: 'refuse' as const, describe: 'Foreign keys of other tables that point at the table: refuse, or drop them at the swap (the DDL to recreate them is printed and saved in <table>_foreign_keys)' };

/**
 * Fill's progress on stderr: a JSON line per batch with --json, a bar on a terminal, otherwise
 * (onBatch undefined) the plain line fill logs for each batch.
 */
function fillProgress(json: boolean, stderr: NodeJS.WriteStream): { onBatch: ((event: FillBatchEvent) => void) | undefined; end(): void } {
  if (json) {
    return { onBatch: ({ type, ...event }) => void stderr.write(`${JSON.stringify({ event: type, ...event })}\n`), end: () => undefined };
  }
  if (stderr.isTTY !== true) return { onBatch: undefined, end: () => undefined };
  let drawn = false;
  return {
    onBatch: (event) => {
      const width = 30;
      const filled = Math.round(event.fraction * width);
      stderr.write(`\r  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(event.fraction * 100)}% ${event.total} rows, ${event.rowsPerSecond} rows/s, ETA ${event.etaSeconds ?? '?'} s, ${event.replayed} replayed   `);
      drawn = true;
    },
    end: () => {
      if (drawn) stderr.write('\n');
    },
  };
}

const prepCommand: CommandModule<GlobalOptions, TableArgs & { strategy?: 'auto' | Strategy; foreignKeys: ForeignKeys }> = {
  command: 'prep <table>',
  describe: 'Phase 1: create <table>_partitioned with the same columns and indexes, the months of the data and a default partition',
  builder: (yargs) =>
    tablePositional(yargs)
      .option('strategy', { choices: ['auto', 'partman', 'plpgsql'] as const, describe: 'Whose child names to use (auto: pg_partman when available)' })
      .option('foreign-keys', foreignKeysOption)
      .example('$0 migrate prep public.messages --dry-run', '') as unknown as Argv<TableArgs & { strategy?: 'auto' | Strategy; foreignKeys: ForeignKeys }>,
  handler: runPhase(async (ctx, args) => prep(await ctx.database(), ctx.config, args.table, { strategy: args.strategy, foreignKeys: args.foreignKeys, dryRun: args.dryRun }), renderPrep),
};

interface FillArgs extends TableArgs {
  readonly batchSize: number;
  readonly sleep: number;
  readonly from?: string;
  readonly to?: string;
  readonly rescan: boolean;
}

const fillCommand: CommandModule<GlobalOptions, FillArgs> = {
  command: 'fill <table>',
  describe: 'Phase 2: copy the rows into <table>_partitioned in batches (resumable), replaying the changes captured since prep',
  builder: (yargs) =>
    tablePositional(yargs)
      .option('batch-size', { type: 'number', default: 10000, describe: 'Rows per batch to start with (one transaction each; adjusted to stay well under a second)' })
      .option('sleep', { type: 'number', default: 0, describe: 'Milliseconds to pause between batches' })
      .option('from', { type: 'string', describe: 'Only rows from this month, YYYY-MM (with --to)' })
      .option('to', { type: 'string', describe: 'Only rows up to this month, YYYY-MM, inclusive' })
      .option('rescan', { type: 'boolean', default: false, describe: 'Start again from the first key; when done, the swap catches up from this pass' }) as unknown as Argv<FillArgs>,
  handler: runPhase(async (ctx, args) => {
    const from = args.from === undefined ? undefined : parseMonth(args.from, '--from');
    const to = args.to === undefined ? undefined : parseMonth(args.to, '--to');
    const progress = fillProgress(args.json ?? false, process.stderr);
    try {
      return await fill(await ctx.database(), ctx.config, args.table, { batchSize: args.batchSize, sleepMs: args.sleep, from, to, rescan: args.rescan, dryRun: args.dryRun, onBatch: progress.onBatch });
    } finally {
      progress.end();
    }
  }, renderFill),
};

const swapCommand: CommandModule<GlobalOptions, TableArgs & { foreignKeys: ForeignKeys }> = {
  command: 'swap <table>',
  describe: 'Phase 3: replay captured changes, then under one short lock: <table> -> <table>_retired, <table>_partitioned -> <table>',
  builder: (yargs) => tablePositional(yargs).option('foreign-keys', foreignKeysOption) as unknown as Argv<TableArgs & { foreignKeys: ForeignKeys }>,
  handler: runPhase(async (ctx, args) => swap(await ctx.database(), ctx.config, args.table, { dryRun: args.dryRun, foreignKeys: args.foreignKeys }), renderSwap),
};

const unswapCommand: CommandModule<GlobalOptions, TableArgs> = {
  command: 'unswap <table>',
  describe: 'Undo swap: the original becomes <table> again, with every change made since the swap replayed into it',
  builder: (yargs) => tablePositional(yargs) as unknown as Argv<TableArgs>,
  handler: runPhase(async (ctx, args) => unswap(await ctx.database(), ctx.config, args.table, { dryRun: args.dryRun }), renderSwap),
};

const dropCommand: CommandModule<GlobalOptions, TableArgs & { yes: boolean }> = {
  command: 'drop <table>',
  describe: 'Phase 4: drain the capture, compare a sample of both sides, drop <table>_retired (without --yes: say what it would do, read-only, exit 2)',
  builder: (yargs) => tablePositional(yargs).option('yes', { type: 'boolean', default: false, describe: 'Really drop it' }) as unknown as Argv<TableArgs & { yes: boolean }>,
  handler: runPhase(async (ctx, args) => drop(await ctx.database(), ctx.config, args.table, { yes: args.yes, dryRun: args.dryRun }), renderDrop, { readOnly: (args) => !args.yes }),
};

const abortCommand: CommandModule<GlobalOptions, TableArgs> = {
  command: 'abort <table>',
  describe: 'Undo prep and fill: drop the capture triggers, the capture and <table>_partitioned; the table is left as it was before prep (after swap: unswap first)',
  builder: (yargs) => tablePositional(yargs).example('$0 migrate abort public.messages --dry-run', '') as unknown as Argv<TableArgs>,
  handler: runPhase(async (ctx, args) => abort(await ctx.database(), ctx.config, args.table, { dryRun: args.dryRun }), renderAbort),
};

const statusCommand: CommandModule<GlobalOptions, TableArgs> = {
  command: 'status <table>',
  describe: 'Where the migration stands: phase, capture backlog, rows copied and ETA, months the first maintenance will archive (read-only)',
  builder: (yargs) => tablePositional(yargs) as unknown as Argv<TableArgs>,
  handler: runPhase(async (ctx, args) => migrateStatus(await ctx.database(), ctx.config, args.table), (status) => renderMigrateStatus(status), { readOnly: () => true }),
};

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const migrateCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'migrate',
  describe: 'Move an existing unpartitioned table to monthly partitions: prep, fill, swap (unswap), drop; abort undoes prep and fill',
  builder: (yargs) =>
    yargs
      .command(prepCommand)
      .command(fillCommand)
      .command(swapCommand)
      .command(unswapCommand)
      .command(dropCommand)
      .command(abortCommand)
      .command(statusCommand)
      .demandCommand(1, 'Name a phase: migrate prep | fill | swap | unswap | drop | abort, or migrate status.'),
  handler: () => undefined,
};
