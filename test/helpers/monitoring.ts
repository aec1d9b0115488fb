/**
 * The monitoring tools of /work/shared/TARGETS.md ("Monitoring tools"), installed by
 * test/targets/prepare.sh from Debian: `promtool` (prometheus) and `prometheus-postgres-exporter`.
 * A missing tool fails the run with CI=true; otherwise its tests are skipped with a loud line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe } from 'vitest';
import { execa } from 'execa';
import { findFreePort } from '../../src/core/processes.js';

export const PROMTOOL = '/usr/bin/promtool';
export const POSTGRES_EXPORTER = '/usr/bin/prometheus-postgres-exporter';

/** A `describe` that needs these programs: skipped loudly when one is missing, failing with CI=true. */
export function describeWithTools(tools: readonly string[], title: string, fn: () => void): void {
  const missing = tools.filter((tool) => !existsSync(tool));
  if (missing.length === 0) {
    describe(title, fn);
    return;
  }
  const reason = `${missing.join(' and ')} missing (test/targets/prepare.sh installs Debian's prometheus and prometheus-postgres-exporter)`;
  if (process.env.CI === 'true') {
    describe(title, () => {
      throw new Error(`CI=true: ${reason}`);
    });
    return;
  }
  console.warn(`\n!!! SKIPPED "${title}": ${reason}\n`);
  describe.skip(`${title} [SKIPPED: ${reason}]`, fn);
}

/** `promtool <args>` with `input` on stdin; never throws on a non-zero exit. */
export function promtool(args: readonly string[], input?: string) {
  return execa(PROMTOOL, args, { reject: false, all: true, ...(input === undefined ? {} : { input }) });
}

export interface RunningExporter {
  readonly url: string;
  /** GET /metrics. */
  scrape(): Promise<string>;
  /** Stops the exporter (by its PID) and returns what it logged. */
  stop(): Promise<string>;
}

/**
 * Starts postgres_exporter on a free loopback port, reading `dataSourceName` with the custom
 * queries of `queriesFile` and none of its own metrics or collectors (0.11's bgwriter collector fails on
 * PostgreSQL 17 and later), and waits until /metrics answers.
 */
export async function startPostgresExporter(dataSourceName: string, queriesFile: string): Promise<RunningExporter> {
  const port = await findFreePort();
  const child: ChildProcess = spawn(
    POSTGRES_EXPORTER,
    [`--extend.query-path=${queriesFile}`, `--web.listen-address=127.0.0.1:${port}`, '--disable-default-metrics', '--disable-settings-metrics', '--no-collector.bgwriter', '--no-collector.database', '--log.level=warn'],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DATA_SOURCE_NAME: dataSourceName }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}/metrics`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    return log;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres_exporter exited (${child.exitCode}): ${log}`);
    try {
      const response = await fetch(url);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`postgres_exporter did not answer on ${url} within 20 s: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async scrape() {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
      return response.text();
    },
    stop,
  };
}
