/**
 * `partkit archive export|restore|list`: the archived months and cold storage (a folder or an
 * S3-compatible bucket). The work is in src/archive/; this module is the command line.
 */
import type { Argv, CommandModule } from 'yargs';
import { archiveExport, renderArchiveExport } from '../archive/export.js';
import { archiveList, renderArchiveList } from '../archive/list.js';
import { archiveRestore, renderArchiveRestore } from '../archive/restore.js';
import { runCommand, type GlobalOptions } from '../core/context.js';
import { UsageError } from '../core/errors.js';


/** Options of an s3:// target, shared by export, restore and list. */
interface S3Args {
  readonly endpoint?: string;
  readonly pathStyle?: boolean;
  readonly sse?: string;
  readonly storageClass?: string;
}

function withS3Options<T>(yargs: Argv<T>, writes: boolean): Argv<T & S3Args> {
  let built = yargs
    .option('endpoint', { type: 'string', describe: 'S3-compatible endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)' })
    .option('path-style', { type: 'boolean', describe: 'Path-style addressing (http://host/bucket/key), for MinIO and most self-hosted stores' });
  if (writes) {
    built = built
      .option('sse', { type: 'string', describe: 'Server-side encryption of the uploaded objects, e.g. AES256 or aws:kms' })
      .option('storage-class', { type: 'string', describe: 'Storage class of the data files, e.g. STANDARD_IA or GLACIER_IR' });
  }
  return built as unknown as Argv<T & S3Args>;
}

function s3Options(args: S3Args & GlobalOptions) {
  return { endpoint: args.endpoint, pathStyle: args.pathStyle, sse: args.sse, storageClass: args.storageClass, env: args.session?.env };
}

interface ArchiveExportArgs extends GlobalOptions, S3Args {
  readonly to: string;
  readonly dropAfterExport?: boolean;
}

const exportCommand: CommandModule<GlobalOptions, ArchiveExportArgs> = {
  command: 'export',
  describe: 'Write every archived month to DIR or s3://bucket/prefix as <schema>.<table>/<YYYY-MM>.csv.gz with a manifest; already exported months are skipped',
  builder: (yargs) =>
    withS3Options(
      yargs
        .option('to', { type: 'string', demandOption: true, describe: 'Cold storage: a folder (created if missing) or s3://bucket/prefix' })
        .option('drop-after-export', { type: 'boolean', default: false, describe: 'Drop each archived table once its file is written and read back with the right rows and checksum' })
        .example('$0 archive export --to /mnt/cold/semibot', '')
        .example('$0 archive export --to s3://semibot-cold/partkit --storage-class STANDARD_IA --drop-after-export', '')
        .example('$0 archive export --to /mnt/cold/semibot --drop-after-export --dry-run', ''),
      true,
    ) as unknown as Argv<ArchiveExportArgs>,
  handler: async (args) => {
    await runCommand(
      args,
      async (ctx) => {
        // Validate before connecting: bad input never needs a server.
        if (!args.to || args.to.trim() === '') throw new UsageError('--to needs a folder or an s3:// address.', 'For example: partkit archive export --to /mnt/cold/semibot');
        return archiveExport(await ctx.database(), ctx.config, { to: args.to, dropAfterExport: args.dropAfterExport, dryRun: args.dryRun, s3: s3Options(args) });
      },
      renderArchiveExport,
    );
  },
};

interface ArchiveRestoreArgs extends GlobalOptions, S3Args {
  readonly table: string;
  readonly month: string;
  readonly from: string;
  readonly attach?: boolean;
  readonly into?: string;
  readonly keep?: boolean;
}

const restoreCommand: CommandModule<GlobalOptions, ArchiveRestoreArgs> = {
  command: 'restore <table>',
  describe: 'Load one exported month back from DIR or s3://bucket/prefix, checked against its manifest (rows and sha256)',
  builder: (yargs) =>
    withS3Options(
      yargs
        .positional('table', { type: 'string', demandOption: true, describe: 'The managed table, schema.table' })
        .option('month', { type: 'string', demandOption: true, describe: 'The month, YYYY-MM' })
        .option('from', { type: 'string', demandOption: true, describe: 'Where it was exported: a folder or s3://bucket/prefix' })
        .option('attach', { type: 'boolean', default: false, describe: "Attach it to the table again as the month's partition (refused when the month is past retention or the default partition holds rows of it)" })
        .option('into', { type: 'string', describe: 'Load it into this new table, schema.table, instead' })
        .option('keep', { type: 'boolean', default: false, describe: 'With --attach: hold a month past retention attached (maintenance skips held months; plpgsql strategy)' })
        .example('$0 archive restore public.messages --month 2025-11 --from s3://semibot-cold/partkit', 'back into the archive schema, as retention left it')
        .example('$0 archive restore public.messages --month 2025-11 --from /mnt/cold/semibot --into restore_drill.messages_2025_11', ''),
      false,
    ) as unknown as Argv<ArchiveRestoreArgs>,
  handler: async (args) => {
    await runCommand(
      args,
      async (ctx) =>
        archiveRestore(await ctx.database(), ctx.config, { table: args.table, month: args.month, from: args.from, attach: args.attach, into: args.into, keep: args.keep, dryRun: args.dryRun, s3: s3Options(args) }),
      renderArchiveRestore,
    );
  },
};

interface ArchiveListArgs extends GlobalOptions, S3Args {
  readonly table?: string;
  readonly from?: string;
  readonly check?: boolean;
}

const listCommand: CommandModule<GlobalOptions, ArchiveListArgs> = {
  command: 'list',
  describe: 'Where each month is: hot, archived, exported, dropped or purged, with rows, size, file and checksum',
  builder: (yargs) =>
    withS3Options(
      yargs
        .option('table', { type: 'string', describe: 'Only this table, schema.table' })
        .option('from', { type: 'string', describe: 'Also read the manifests in this folder or s3://bucket/prefix' })
        .option('check', { type: 'boolean', default: false, describe: 'Read every file under --from back and compare it with its manifest (exit 1 on a mismatch)' })
        .example('$0 archive list --from s3://semibot-cold/partkit --check', ''),
      false,
    ) as unknown as Argv<ArchiveListArgs>,
  handler: async (args) => {
    await runCommand({ ...args, readOnly: true }, async (ctx) => archiveList(await ctx.database(), ctx.config, { table: args.table, from: args.from, check: args.check, s3: s3Options(args) }), renderArchiveList);
  },
};

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const archiveCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'archive',
  describe: 'Work on the archived months: export to cold storage (a folder or S3), restore, list',
  builder: (yargs) => yargs.command(exportCommand).command(restoreCommand).command(listCommand).demandCommand(1, 'Name an action: archive export, archive restore or archive list.'),
  handler: () => undefined,
};
