/**
 * `partkit config show` prints the configuration as partkit resolves it (defaults applied, names
 * parsed) and where it came from; with --orm-filter, what an ORM's schema tool must leave alone
 * (src/core/orm-filter.ts). `partkit config schema` prints the file's JSON Schema for editors.
 * Neither connects.
 */
import type { Argv, CommandModule } from 'yargs';
import { configJsonSchema, loadConfig, type Config, type ConfigOrigin } from '../core/config.js';
import { reportError, type GlobalOptions } from '../core/context.js';
import { displayName } from '../core/identifiers.js';
import { ormFilterOf, renderOrmFilter } from '../core/orm-filter.js';

export interface ResolvedConfig {
  readonly source: string;
  /** Where it was found: a file (--config or ./partkit.json), the environment (PARTKIT_CONFIG), or the built-in default. */
  readonly origin: ConfigOrigin;
  readonly strategy: Config['strategy'];
  readonly kitSchema: string;
  readonly partmanSchema: string;
  readonly maintenance: Config['maintenance'];
  /** As octal strings, as the file writes them. */
  readonly archiveExport: { readonly fileMode: string; readonly dirMode: string };
  readonly tables: readonly (Omit<Config['tables'][number], 'name'> & { readonly name: string })[];
}

export function describeConfig(config: Config): ResolvedConfig {
  return {
    source: config.source,
    origin: config.origin,
    strategy: config.strategy,
    kitSchema: config.kitSchema,
    partmanSchema: config.partmanSchema,
    maintenance: config.maintenance,
    archiveExport: { fileMode: octal(config.archiveExport.fileMode), dirMode: octal(config.archiveExport.dirMode) },
    tables: config.tables.map((table) => ({ ...table, name: displayName(table.name) })),
  };
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

export function renderConfig(config: ResolvedConfig): string {
  const lines = [
    `config ${config.origin.description}: strategy ${config.strategy}, kit schema ${config.kitSchema}, pg_partman schema ${config.partmanSchema}, maintenance "${config.maintenance.schedule}", archive export files ${config.archiveExport.fileMode} in folders ${config.archiveExport.dirMode}`,
  ];
  for (const table of config.tables) {
    lines.push(
      `  ${table.name}: monthly on ${table.controlColumn}, premake ${table.premake}, retention ${table.retention ?? 'none'}${table.archiveSchema ? ` into ${table.archiveSchema}` : ''}, purge ${table.purgeAfter ?? 'off'}, zone ${table.timeZone}`,
    );
  }
  return lines.join('\n');
}

interface ShowArgs extends GlobalOptions {
  readonly ormFilter?: boolean;
}

const showCommand: CommandModule<GlobalOptions, ShowArgs> = {
  command: 'show',
  describe: 'Print the configuration as partkit resolves it (defaults applied) and where it came from; exit 2 if it is invalid',
  builder: (yargs) =>
    yargs
      .option('orm-filter', { type: 'boolean', default: false, describe: "Print what an ORM's schema tool must leave alone instead: drizzle-kit's tablesFilter, a regular expression, the schemas (docs/orm.md)" })
      .example('$0 config show --orm-filter', '') as unknown as Argv<ShowArgs>,
  handler: async (args) => {
    try {
      const config = await loadConfig(args.config, args.session?.env);
      if (args.ormFilter) {
        const filter = ormFilterOf(config);
        process.stdout.write(`${args.json ? JSON.stringify(filter, null, 2) : renderOrmFilter(filter, config.origin.description)}\n`);
        return;
      }
      const resolved = describeConfig(config);
      process.stdout.write(`${args.json ? JSON.stringify(resolved, null, 2) : renderConfig(resolved)}\n`);
    } catch (error) {
      const exitCode = reportError(error, args.json ?? false);
      if (args.session) args.session.exitCode = exitCode;
    }
  },
};

const schemaCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'schema',
  describe: 'Print the JSON Schema of the config file (save it and point "$schema" at it)',
  handler: () => {
    process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  },
};

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const configCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'config',
  describe: 'Show the resolved configuration, or print its JSON Schema',
  builder: (yargs) => yargs.command(showCommand).command(schemaCommand).demandCommand(1, 'Name one: config show | config schema.'),
  handler: () => undefined,
};
