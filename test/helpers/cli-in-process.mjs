/**
 * partkit's command line run inside the current process: dist/run-cli.js (built by `npm test`'s
 * pretest), as the binary runs it, with what the run writes to process.stdout/stderr (its logger,
 * its result, yargs' help) kept in that run's buffers. The writes are routed by the run's async
 * context, so runs that overlap (Promise.all) keep their output apart, and everything else written
 * by the process is untouched. Used by test/helpers/targets.ts in the test's own process and by
 * test/helpers/cli-runner.mjs in the runner process.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
const capturing = new AsyncLocalStorage();
let runCli;

function captureProcessOutput() {
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
}

export async function runCliInProcess(args, { env, signal } = {}) {
  if (runCli === undefined) {
    captureProcessOutput();
    ({ runCli } = await import(path.join(REPO_DIR, 'dist', 'run-cli.js')));
  }
  const captured = { stdout: '', stderr: '' };
  const exitCode = await capturing.run(captured, () => runCli(args, { env, columns: 100, ...(signal === undefined ? {} : { signal }) }));
  // As execa returns them: without the final newline.
  return { exitCode, stdout: captured.stdout.replace(/\r?\n$/, ''), stderr: captured.stderr.replace(/\r?\n$/, '') };
}
