/**
 * The command line loads only the command its arguments name (src/commands/index.ts): a run of
 * `partkit maintain` does not load demo's throwaway server or bench, which cost every run's start.
 */
import { describe, expect, it } from 'vitest';
import { commandsFor } from '../../src/commands/index.js';

const names = async (argv: string[]) => (await commandsFor(argv)).map((command) => String(command.command).split(' ')[0]);
const ALL = ['doctor', 'provision', 'deprovision', 'maintain', 'verify', 'status', 'log', 'partition', 'migrate', 'archive', 'config', 'demo', 'bench'];

describe('commandsFor', () => {
  it('loads the one command named', async () => {
    expect(await names(['maintain', '--json', '--database-url', 'postgres://x@127.0.0.1/db'])).toEqual(['maintain']);
    expect(await names(['--dry-run', 'migrate', 'fill', 'public.messages'])).toEqual(['migrate']);
  });

  it('loads each command an argument names, an option value included, in --help order', async () => {
    expect(await names(['verify', '--table', 'maintain'])).toEqual(['maintain', 'verify']);
  });

  it('loads every command when no argument names one (--help, --version, a typo to correct)', async () => {
    expect(await names([])).toEqual(ALL);
    expect(await names(['--help'])).toEqual(ALL);
    expect(await names(['maintian'])).toEqual(ALL);
  });
});

describe("yargs' per-run help layout (src/run-cli.ts skipHelpLayoutPerRun)", () => {
  it('is still where run-cli turns it off: yargs 18 usage instance has cacheHelpMessage', async () => {
    const { default: yargs } = await import('yargs');
    const usage = (yargs([]) as unknown as { getInternalMethods: () => { getUsageInstance: () => { cacheHelpMessage: unknown } } }).getInternalMethods().getUsageInstance();
    expect(typeof usage.cacheHelpMessage).toBe('function');
  });
});
