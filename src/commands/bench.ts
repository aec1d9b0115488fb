/**
 * `partkit bench`: plain, plain + time index and partitioned `messages` with the same rows,
 * measured side by side (src/bench/). Prints figures; asserts nothing about speed.
 */
import { writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { renderCitusBench, runCitusBench, type CitusBenchReport } from '../bench/citus.js';
import { renderMigrateBench, runMigrateBench, type MigrateBenchReport } from '../bench/migrate.js';
import { renderBench } from '../bench/render.js';
import { runBench, type BenchReport, type PartitionSetup } from '../bench/run.js';
import { renderSvg } from '../bench/svg.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { run } from '../core/runner.js';
import { quoteQualified } from '../core/identifiers.js';
import { planPartitionCreate } from './partition-create.js';
import { provision } from './provision.js';
import { maintain } from './maintain.js';
import { UsageError } from '../core/errors.js';

interface BenchArgs extends GlobalOptions {
  readonly rows: number;
  readonly months: number;
  readonly reps: number;
  readonly cold: boolean;
  readonly insertRows: number;
  readonly svg?: string;
  readonly section: readonly Section[];
  readonly fillReps: number;
  readonly writerOps: number;
}

const SECTIONS = ['queries', 'migrate', 'citus'] as const;
type Section = (typeof SECTIONS)[number];
/** citus needs a Citus coordinator (--database-url), so a run without --section leaves it out. */
const DEFAULT_SECTIONS: readonly Section[] = ['queries', 'migrate'];

/** The queries section's report at the top level (as before sections existed), the others under their names. */
type BenchRun = Partial<BenchReport> & { readonly sections: readonly Section[]; readonly migrate?: MigrateBenchReport; readonly citus?: CitusBenchReport };

function renderRun(run: BenchRun): string {
  const parts: string[] = [];
  if (run.sections.includes('queries')) parts.push(renderBench(run as BenchReport));
  if (run.migrate) parts.push(renderMigrateBench(run.migrate));
  if (run.citus) parts.push(renderCitusBench(run.citus));
  return parts.join('\n\n');
}

function whole(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} ${value} is not a whole number from ${min} to ${max}.`);
  return value;
}

/** partkit's own provision, partition create and maintain, handed to the sections (bench/ never imports a command). */
const partitionSetup: PartitionSetup = {
  partitionTable: async (db, config, months) => {
    const provisioned = await provision(db, config, { scheduler: 'external' });
    await run(db, (await planPartitionCreate(db, config, quoteQualified(config.tables[0]!.name), months)).plan, { dryRun: false });
    return { strategy: provisioned.strategy };
  },
  applyRetention: async (db, config) => {
    await provision(db, config, { scheduler: 'external' });
    const result = await maintain(db, config);
    if (!result.ok) throw new Error(`partkit maintain failed while applying retention: ${result.events.filter((event) => event.action === 'failed').map((event) => event.detail).join('; ')}`);
    return { archived: result.detached };
  },
};

/** A bar on a terminal (redrawn in place), else a line per tenth. */
function progressBar(): (label: string, done: number, total: number) => void {
  let lastTenth = -1;
  return (label, done, total) => {
    const fraction = total > 0 ? done / total : 1;
    if (process.stderr.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${label.padEnd(40)}${done >= total ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      process.stderr.write(`loading: ${(fraction * 100).toFixed(0)}% (${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows) ${label}\n`);
    }
  };
}

export const benchCommand: CommandModule<GlobalOptions, BenchArgs> = {
  command: 'bench',
  describe: 'Measure plain, plain + time index and partitioned messages side by side, and the online migration (fill vs one INSERT … SELECT, swap under a writer), and with --section citus a local against a distributed table on a Citus coordinator; on a throwaway embedded server unless --database-url',
  builder: (yargs) =>
    yargs
      .option('rows', { type: 'number', default: 2_000_000, describe: 'Rows in each of the three tables' })
      .option('months', { type: 'number', default: 24, describe: 'Months of history before the current one' })
      .option('reps', { type: 'number', default: 9, describe: 'Measured runs per query and layout (the median is reported; cold: at most 3)' })
      .option('cold', { type: 'boolean', default: false, describe: 'Also measure cold: restart the server and drop the OS page cache before each sample (embedded server, as root)' })
      .option('insert-rows', { type: 'number', default: 10_000, describe: 'Rows per INSERT in the insert test' })
      .option('svg', { type: 'string', describe: 'Write a chart of the ratios (log scale) to this SVG file' })
      .option('section', { type: 'string', array: true, choices: SECTIONS, default: [...DEFAULT_SECTIONS], describe: 'Which sections to run (default: queries and migrate): queries (the three layouts), migrate (fill vs one INSERT … SELECT, and the swap under a writer), citus (a local vs a distributed table on a Citus coordinator given with --database-url: times and plans)' })
      .option('fill-reps', { type: 'number', default: 2, describe: 'migrate section: repetitions of fill and of the single statement (the order alternates)' })
      .option('writer-ops', { type: 'number', default: 200, describe: 'migrate section: writer statements per second during the swap' }) as unknown as Argv<BenchArgs>,
  handler: async (args) => {
    // Exiting runs the embedded server's exit hook, which stops it and removes its folder.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
    process.exitCode = await runCommand(
      args,
      async (): Promise<BenchRun> => {
        if (args.dryRun) throw new UsageError('partkit bench has no --dry-run: it only changes a throwaway server (or the scratch database given).');
        const sections = SECTIONS.filter((section) => args.section.includes(section));
        const rows = whole('rows', args.rows, 10_000, 1_000_000_000);
        const fillReps = whole('fill-reps', args.fillReps, 1, 100);
        const writerOps = whole('writer-ops', args.writerOps, 1, 10_000);
        if (args.svg !== undefined && !sections.includes('queries')) throw new UsageError('--svg charts the queries section, which this run leaves out.', 'Add --section queries, or leave out --svg.');
        const reps = whole('reps', args.reps, 1, 1000);
        const progress = (line: string): void => void process.stderr.write(`${line}\n`);
        // First, so that a server that is no Citus coordinator is refused before the other sections spend their time.
        const citus = sections.includes('citus') ? await runCitusBench({ rows, reps, databaseUrl: args.databaseUrl, progress }) : undefined;
        const migrate = async (): Promise<MigrateBenchReport | undefined> =>
          sections.includes('migrate') ? runMigrateBench({ rows, reps: fillReps, writerOpsPerS: writerOps, writerLeadSeconds: 5, databaseUrl: args.databaseUrl, progress }) : undefined;
        if (!sections.includes('queries')) return { sections, migrate: await migrate(), citus };
        const report = await runBench({
          rows,
          months: whole('months', args.months, 4, 120),
          reps,
          insertRows: whole('insert-rows', args.insertRows, 1, 10_000_000),
          cold: args.cold,
          databaseUrl: args.databaseUrl,
          progress,
          bar: progressBar(),
          ...partitionSetup,
        });
        if (report.coldNote) process.stderr.write(`bench: ${report.coldNote}.\n`);
        if (args.svg !== undefined) {
          await writeFile(args.svg, renderSvg(report));
          process.stderr.write(`chart written to ${args.svg}\n`);
        }
        return { ...report, sections, migrate: await migrate(), citus };
      },
      renderRun,
    );
  },
};
