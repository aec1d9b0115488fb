/**
 * `partkit archive export|restore|list`: the archived months and cold storage (a folder or an
 * S3-compatible bucket). The work is in src/archive/; this module is the command line.
 */
import type { Argv, CommandModule } from 'yargs';
import { archiveExport, renderArchiveExport } from '../archive/export.js';
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

function s3Options(args: S3Args) {
  return { endpoint: args.endpoint, pathStyle: args.pathStyle, sse: args.sse, storageClass: args.storageClass };
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
    process.exitCode = await runCommand(
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

export const archiveCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'archive',
  describe: 'Work on the archived months (export to cold storage)',
  builder: (yargs) => yargs.command(exportCommand).demandCommand(1, 'Name an action: archive export.'),
  handler: () => undefined,
};
