/**
 * A node process that runs partkit's command line (test/helpers/cli-in-process.mjs) for the test
 * that started it, one run per message, several at once: test/helpers/targets.ts sends runs here
 * while a live workload is in the test's own process, so that partkit's CPU does not stall the
 * workload's event loop, without paying node's start for every run. A run's `timeoutMs` aborts it
 * as SIGINT would.
 *
 *   in:  { id, args, env, timeoutMs }
 *   out: { id, exitCode, stdout, stderr }
 */
import { runCliInProcess } from './cli-in-process.mjs';

process.on('message', async ({ id, args, env, timeoutMs }) => {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort('SIGINT'), timeoutMs);
  let run;
  try {
    run = await runCliInProcess(args, { env, signal: stop.signal });
  } catch (error) {
    run = { exitCode: 70, stdout: '', stderr: `cli-runner: runCli threw: ${error instanceof Error ? error.stack : String(error)}` };
  } finally {
    clearTimeout(timer);
  }
  process.send({ id, ...run });
});
// The test file's worker ended: so does its runner.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
