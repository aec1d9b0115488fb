/**
 * A node process that runs partkit's command line (dist/run-cli.js, as the binary does) for the test
 * that started it, one run per message, several at once: test/helpers/targets.ts sends runs here
 * while a live workload is in the test's own process, so that partkit's CPU does not stall the
 * workload's event loop, without paying node's start for every run. Each run's stdout and stderr
 * are kept apart by its async context; a run's `timeoutMs` aborts it as SIGINT would.
 *
 *   in:  { id, args, env, timeoutMs }
 *   out: { id, exitCode, stdout, stderr }
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
const capturing = new AsyncLocalStorage();
for (const name of ['stdout', 'stderr']) {
  const stream = process[name];
  const write = stream.write.bind(stream);
  stream.write = (chunk, ...rest) => {
    const captured = capturing.getStore();
    if (captured === undefined) return write(chunk, ...rest);
    captured[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    rest.find((arg) => typeof arg === 'function')?.();
    return true;
  };
}
const { runCli } = await import(path.join(REPO_DIR, 'dist', 'run-cli.js'));

process.on('message', async ({ id, args, env, timeoutMs }) => {
  const captured = { stdout: '', stderr: '' };
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort('SIGINT'), timeoutMs);
  let exitCode;
  try {
    exitCode = await capturing.run(captured, () => runCli(args, { env, columns: 100, signal: stop.signal }));
  } catch (error) {
    captured.stderr += `cli-runner: runCli threw: ${error instanceof Error ? error.stack : String(error)}\n`;
    exitCode = 70;
  } finally {
    clearTimeout(timer);
  }
  process.send({ id, exitCode, stdout: captured.stdout, stderr: captured.stderr });
});
// The test file's worker ended: so does its runner.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
