/**
 * Every command, in the order `partkit --help` lists them. A command's module (and what it imports)
 * is loaded only when the arguments name it: `partkit maintain` does not load demo's throwaway server
 * or bench. Arguments that name no command (`--help`, a typo yargs suggests a fix for) load them all.
 */
import type { CommandModule } from 'yargs';
import type { GlobalOptions } from '../core/context.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<GlobalOptions, any>;

const LOADERS: Readonly<Record<string, () => Promise<AnyCommand>>> = {
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  provision: async () => (await import('./provision.js')).provisionCommand,
  deprovision: async () => (await import('./deprovision.js')).deprovisionCommand,
  maintain: async () => (await import('./maintain.js')).maintainCommand,
  verify: async () => (await import('./verify.js')).verifyCommand,
  status: async () => (await import('./status.js')).statusCommand,
  log: async () => (await import('./log.js')).logCommand,
  partition: async () => (await import('./partition-create.js')).partitionCommand,
  migrate: async () => (await import('./migrate.js')).migrateCommand,
  archive: async () => (await import('./archive.js')).archiveCommand,
  config: async () => (await import('./config.js')).configCommand,
  demo: async () => (await import('./demo.js')).demoCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
};

/**
 * The commands a run with `argv` may need: every command whose name is one of the arguments (an
 * option's value may happen to be one too: loading one more is harmless), or all of them when none is.
 * @internal the command line (src/run-cli.ts); not part of the API
 */
export async function commandsFor(argv: readonly string[]): Promise<readonly AnyCommand[]> {
  const named = Object.keys(LOADERS).filter((name) => argv.includes(name));
  return Promise.all((named.length > 0 ? named : Object.keys(LOADERS)).map((name) => LOADERS[name]!()));
}
