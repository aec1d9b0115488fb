#!/usr/bin/env node
/**
 * The partkit command line: src/run-cli.ts with this process's arguments, environment and signals.
 * Each command lives in its own module under src/commands/.
 */
import { hideBin } from 'yargs/helpers';
import { ExitCode } from './core/errors.js';
import { runCli } from './run-cli.js';

/**
 * SIGINT and SIGTERM stop the run: the library cancels the statement in progress on the server
 * and rolls it back, the command reports InterruptedError (exit 130, or 143 for SIGTERM) and
 * closes its connections, which releases the run lock. A second signal, or a run still going
 * 10 s later, exits at once. The library installs no handlers: this layer passes the signal down.
 */
const stop = new AbortController();
const exitCodeOf = (signal: NodeJS.Signals) => (signal === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stop.signal.aborted) {
      process.stderr.write(`partkit: ${signal} again: exiting now.\n`);
      process.exit(exitCodeOf(signal));
    }
    process.stderr.write(`partkit: ${signal}: stopping (the statement in progress is cancelled and rolled back)...\n`);
    stop.abort(signal);
    setTimeout(() => {
      process.stderr.write('partkit: still running 10 s after the signal: exiting now.\n');
      process.exit(exitCodeOf(signal));
    }, 10_000).unref();
  });
}

process.exitCode = await runCli(hideBin(process.argv), { signal: stop.signal });
