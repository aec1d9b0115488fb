/**
 * The small helpers that test files used to copy: a number from a query, the CLI run against a
 * test database (its exit code checked, its --json output parsed), `provision --json`, and a
 * `migrate fill` SIGKILLed after a number of batches, and config files in a fresh folder.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { runPartkit, spawnPartkit, type RunPartkitOptions, type TestDatabase } from './targets.js';

/**
 * The one number a query returns (its first column of its first row), e.g.
 * `count(db, 'SELECT count(*) FROM messages')`. The query is run as a scalar subquery, so any
 * single-column, single-row SELECT works, with `$n` parameters.
 */
export async function count(db: TestDatabase, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: string | number | null }>(`SELECT (${sql}) AS n`, params);
  return Number(rows[0]!.n);
}

export interface PartkitOptions extends RunPartkitOptions {
  /** `--config FILE`, put before `--database-url`. */
  readonly config?: string;
  /** The exit code the run must end with (default 0); `null` checks nothing (the caller does). */
  readonly expectedExit?: number | null;
}

/**
 * Runs `partkit ...args --database-url <db>` (with `--config` when given), checks the exit code,
 * and parses stdout as JSON when `--json` is among the arguments (`{}` otherwise).
 */
export async function partkit(db: TestDatabase | string, args: readonly string[], options: PartkitOptions = {}) {
  const { config, expectedExit = 0, ...runOptions } = options;
  const url = typeof db === 'string' ? db : db.url;
  const result = await runPartkit([...args, ...(config === undefined ? [] : ['--config', config]), '--database-url', url], runOptions);
  if (expectedExit !== null) {
    expect(result.exitCode, `partkit ${args.join(' ')} (exit ${result.exitCode})\n${result.stdout}\n${result.stderr}`).toBe(expectedExit);
  }
  const json = args.includes('--json') && result.stdout.trim() !== '' ? (JSON.parse(result.stdout) as Record<string, unknown> & { changes: number }) : ({} as Record<string, unknown> & { changes: number });
  return { ...result, json };
}

/** What `partkit provision --json` prints (the fields tests read). */
export interface ProvisionJson {
  readonly strategy: string;
  readonly scheduler: string;
  readonly changes: number;
  readonly tables: { table: string; changes: string[] }[];
  readonly steps: string[];
  readonly schedule: { job: string | null; cronDatabase: string | null; externalCommand: string | null };
}

/** `partkit provision --json` on `url`; throws (with stderr) unless it exits 0. */
export async function provisionJson(url: string, args: readonly string[] = []): Promise<ProvisionJson> {
  const result = await runPartkit(['provision', '--json', '--database-url', url, ...args]);
  if (result.exitCode !== 0) throw new Error(`provision failed (${result.exitCode}): ${result.stderr}\n${result.stdout}`);
  return JSON.parse(result.stdout) as ProvisionJson;
}

/**
 * Starts `partkit migrate fill <args>`, waits until it reports `batches` copied batches (stderr),
 * and SIGKILLs it. Fails if the fill ends before that.
 */
export async function killFillAfter(args: readonly string[], batches: number): Promise<void> {
  const child = spawnPartkit(['migrate', 'fill', ...args]);
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += (chunk.toString().match(/ batch \d+: copied/g) ?? []).length;
      if (seen >= batches) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.then((result) => reject(new Error(`fill ended before it was killed (exit ${result.exitCode}): ${result.stderr}`)), reject);
  });
  expect((await child).signal).toBe('SIGKILL');
}

/**
 * A fresh folder `partkit-<prefix>-*` under the OS temp dir, and `write(name, content)`, which
 * writes `content` as `<name>.json` there and returns the file's path (for --config).
 */
export function configFiles(prefix: string): { readonly dir: string; write(name: string, content: unknown): string } {
  const dir = mkdtempSync(path.join(tmpdir(), `partkit-${prefix}-`));
  return {
    dir,
    write(name, content) {
      const file = path.join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(content));
      return file;
    },
  };
}
