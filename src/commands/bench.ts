/**
 * `partkit bench`: plain, plain + time index and partitioned `messages` with the same rows,
 * measured side by side (src/bench/). Prints figures; asserts nothing about speed.
 */
import { writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { renderCitusBench, runCitusBench, type CitusBenchReport } from '../bench/citus.js';
import { renderMaintenanceBench, runMaintenanceBench, type MaintenanceBenchReport } from '../bench/maintenance.js';
import { renderMaintenanceSvg } from '../bench/maintenance-svg.js';
import { renderMigrateBench, runMigrateBench, type MigrateBenchReport } from '../bench/migrate.js';
import { renderBench } from '../bench/render.js';
import { runBench, type BenchReport, type PartitionSetup } from '../bench/run.js';
import { renderSvg } from '../bench/svg.js';
import { runGrowthBench, type GrowthReport } from '../bench/growth.js';
import { renderIds, runIdsBench, type IdsReport } from '../bench/ids.js';
import { renderGrowth, renderGrowthSvg } from '../bench/growth-render.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { run } from '../core/runner.js';
import { quoteQualified } from '../core/identifiers.js';
import { maintain } from '../maintain/maintain.js';
import { planPartitionCreate } from '../partitions/create.js';
import { provision } from '../provision/provision.js';
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
  readonly growth: boolean;
  readonly growthSteps: string;
  readonly growthMonthRows: number;
  readonly readerOps: number;
  readonly drainRows: readonly number[];
}

const SECTIONS = ['queries', 'migrate', 'maintenance', 'citus', 'growth', 'ids'] as const;
type Section = (typeof SECTIONS)[number];
/**
 * citus needs a Citus coordinator (--database-url), maintenance and growth load millions of rows
 * several times over (tens of minutes), and ids chose a default once, so a run without --section
 * leaves them out.
 */
const DEFAULT_SECTIONS: readonly Section[] = ['queries', 'migrate'];
/** Sections that draw a chart with --svg: the first one that runs writes FILE, the others FILE-<section>.svg. */
const CHARTED: readonly Section[] = ['queries', 'maintenance', 'growth'];

/** The queries section's report at the top level (as before sections existed), the others under their names. */
type BenchRun = Partial<BenchReport> & {
  readonly sections: readonly Section[];
  readonly migrate?: MigrateBenchReport;
  readonly maintenance?: MaintenanceBenchReport;
  readonly citus?: CitusBenchReport;
  readonly growth?: GrowthReport;
  readonly ids?: IdsReport;
};

function renderRun(run: BenchRun): string {
  const parts: string[] = [];
  if (run.sections.includes('queries')) parts.push(renderBench(run as BenchReport));
  if (run.migrate) parts.push(renderMigrateBench(run.migrate));
  if (run.maintenance) parts.push(renderMaintenanceBench(run.maintenance));
  if (run.citus) parts.push(renderCitusBench(run.citus));
  if (run.growth) parts.push(renderGrowth(run.growth));
  if (run.ids) parts.push(renderIds(run.ids));
  return parts.join('\n\n');
}

/** --growth-steps "1000000,3000000,10000000": ascending whole numbers of messages. */
function growthSteps(text: string): number[] {
  const steps = text.split(',').map((part) => Number(part.trim().replace(/_/g, '')));
  for (const [i, step] of steps.entries()) {
    if (!Number.isInteger(step) || step < 1000 || step > 1_000_000_000 || (i > 0 && step <= steps[i - 1]!)) {
      throw new UsageError(`--growth-steps ${text} is not a list of ascending whole numbers of rows from 1000 to 1000000000.`, 'For example: --growth-steps 1000000,3000000,10000000');
    }
  }
  return steps;
}

function whole(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} ${value} is not a whole number from ${min} to ${max}.`);
  return value;
}

/** partkit's own provision, partition create and maintain, handed to the sections (bench/ never imports a command). */
const partitionSetup: PartitionSetup = {
  partitionTable: async (db, config, months) => {
    const provisioned = await provision(db, config, { scheduler: 'external', only: true });
    for (const table of config.tables) await run(db, (await planPartitionCreate(db, config, quoteQualified(table.name), months)).plan, { dryRun: false });
    return { strategy: provisioned.strategy };
  },
  applyRetention: async (db, config) => {
    await provision(db, config, { scheduler: 'external', only: true });
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

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
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
      .option('svg', { type: 'string', describe: 'Write a chart to this SVG file: the queries section\'s ratios (log scale); with --growth the line chart, with --section maintenance the stall curve (beside the queries chart, as FILE-growth.svg and FILE-maintenance.svg, when that runs too)' })
      .option('section', { type: 'string', array: true, choices: SECTIONS, default: [...DEFAULT_SECTIONS], describe: 'Which sections to run (default: queries and migrate): queries (the three layouts), migrate (fill vs one INSERT … SELECT, and the swap under a writer), maintenance (draining a default partition of --drain-rows rows under a writer and a reader: their longest wait per size, per strategy, with pg_partman\'s partition_data_proc as the anchor), citus (a local vs a distributed table on a Citus coordinator given with --database-url: times and plans), growth (as --growth), ids ("ids": "uuidv7" against "random": load and insert rates, index sizes)' })
      .option('fill-reps', { type: 'number', default: 2, describe: 'migrate section: repetitions of fill and of the single statement (the order alternates)' })
      .option('writer-ops', { type: 'number', default: 200, describe: 'migrate and maintenance sections: writer statements per second during the swap, or the drain' })
      .option('reader-ops', { type: 'number', default: 20, describe: 'maintenance section: reader statements (recent rows) per second during the drain' })
      .option('drain-rows', { type: 'number', array: true, default: [500_000, 1_500_000, 3_000_000], describe: 'maintenance section: rows waiting in the default partition, one drain per size (per strategy)' })
      .option('growth', { type: 'boolean', default: false, describe: 'Run the growth section alone (as --section growth): the four tables grow in steps, plain + index against partitioned, measured after each step' })
      .option('growth-steps', { type: 'string', default: '1000000,3000000,10000000', describe: 'growth section: rows of messages after each step, comma-separated (the other tables in proportion)' })
      .option('growth-month-rows', { type: 'number', default: 400_000, describe: 'growth section: rows of messages per month (a bigger table holds more months)' }) as unknown as Argv<BenchArgs>,
  handler: async (args) => {
    // Exiting runs the embedded server's exit hook, which stops it and removes its folder.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
    await runCommand(
      args,
      async (): Promise<BenchRun> => {
        if (args.dryRun) throw new UsageError('partkit bench has no --dry-run: it only changes a throwaway server (or the scratch database given).');
        const sections: readonly Section[] = args.growth ? ['growth'] : SECTIONS.filter((section) => args.section.includes(section));
        const rows = whole('rows', args.rows, 10_000, 1_000_000_000);
        const fillReps = whole('fill-reps', args.fillReps, 1, 100);
        const writerOps = whole('writer-ops', args.writerOps, 1, 10_000);
        const charted = sections.filter((section) => CHARTED.includes(section));
        if (args.svg !== undefined && charted.length === 0) {
          throw new UsageError('--svg charts the queries, maintenance and growth sections, and this run has none of them.', 'Add --section queries, --section maintenance or --growth, or leave out --svg.');
        }
        const svgFile = (section: Section): string | undefined =>
          args.svg === undefined ? undefined : charted[0] === section ? args.svg : args.svg.replace(/(\.svg)?$/i, `-${section}.svg`);
        const drainRows = args.drainRows.map((size) => whole('drain-rows', size, 1_000, 1_000_000_000));
        const readerOps = whole('reader-ops', args.readerOps, 1, 10_000);
        const steps = growthSteps(args.growthSteps);
        const monthRows = whole('growth-month-rows', args.growthMonthRows, 1000, 100_000_000);
        const reps = whole('reps', args.reps, 1, 1000);
        const progress = (line: string): void => void process.stderr.write(`${line}\n`);
        // First, so that a server that is no Citus coordinator is refused before the other sections spend their time.
        const citus = sections.includes('citus') ? await runCitusBench({ rows, reps, databaseUrl: args.databaseUrl, progress }) : undefined;
        const migrate = async (): Promise<MigrateBenchReport | undefined> =>
          sections.includes('migrate') ? runMigrateBench({ rows, reps: fillReps, writerOpsPerS: writerOps, writerLeadSeconds: 5, databaseUrl: args.databaseUrl, progress }) : undefined;
        const maintenance = async (): Promise<MaintenanceBenchReport | undefined> => {
          if (!sections.includes('maintenance')) return undefined;
          const report = await runMaintenanceBench({
            sizes: drainRows,
            writerOpsPerS: writerOps,
            readerOpsPerS: readerOps,
            databaseUrl: args.databaseUrl,
            progress,
            provisionTable: async (db, config) => void (await provision(db, config, { scheduler: 'external', only: true })),
            maintain: async (db, config, table) => {
              const result = await maintain(db, config, { table });
              const drained = result.events.find((event) => event.action === 'drained');
              return { failed: result.failed, drainedRows: drained?.rows ?? null, lockedMs: drained?.lockedMs ?? null };
            },
          });
          const file = svgFile('maintenance');
          if (file !== undefined) {
            await writeFile(file, renderMaintenanceSvg(report));
            process.stderr.write(`maintenance chart written to ${file}\n`);
          }
          return report;
        };
        const growth = async (): Promise<GrowthReport | undefined> => {
          if (!sections.includes('growth')) return undefined;
          const report = await runGrowthBench({ steps, monthRows, reps: Math.max(20, reps), insertRows: whole('insert-rows', args.insertRows, 1, 10_000_000), databaseUrl: args.databaseUrl, progress, bar: progressBar(), ...partitionSetup });
          const file = svgFile('growth');
          if (file !== undefined) {
            await writeFile(file, renderGrowthSvg(report));
            process.stderr.write(`growth chart written to ${file}\n`);
          }
          return report;
        };
        const ids = async (): Promise<IdsReport | undefined> =>
          sections.includes('ids')
            ? runIdsBench({ rows, months: whole('months', args.months, 4, 120), reps, insertRows: whole('insert-rows', args.insertRows, 1, 10_000_000), databaseUrl: args.databaseUrl, progress, bar: progressBar(), ...partitionSetup })
            : undefined;
        const others = async () => ({ migrate: await migrate(), maintenance: await maintenance(), citus, growth: await growth(), ids: await ids() });
        if (!sections.includes('queries')) return { sections, ...(await others()) };
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
        return { ...report, sections, ...(await others()) };
      },
      renderRun,
    );
  },
};
