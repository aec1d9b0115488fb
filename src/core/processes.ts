/** Small process and port helpers shared by the embedded server, the demo and the test harness. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A TCP port that was free on `host` a moment ago (the caller must cope with losing a race for it). */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a process runs; a zombie (exited, not yet reaped) still answers signal 0, so it counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
