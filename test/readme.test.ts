/**
 * README.md's commands, exactly as written. Every command line in its shell code blocks (```sh,
 * ```bash, ```shell, ```console, ```zsh, or no language) is either run here as written, or listed
 * in NOT_RUNNABLE with the reason. A command that is neither fails the first test, and so does an
 * entry below that README no longer has, so that both lists stay honest.
 *
 * `npx partkit ...` runs from inside this repository, where npx resolves the package's own bin
 * (dist/cli.js, built by `npm test`'s pretest); npm runs offline here, so it could not fetch a
 * registry package of that name instead.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRowsFromHelp, expectDefaultDemoReport } from './helpers/demo.js';
import { cleanEnv, createTestDatabase, describeTarget, REPO_DIR, type TestDatabase } from './helpers/targets.js';

const SHELL_BLOCKS = new Set(['', 'sh', 'bash', 'shell', 'console', 'zsh']);

/** Command lines of README.md's shell code blocks: comments dropped, `\` continuations joined, `$ ` prompts removed. */
function readmeCommands(markdown: string): string[] {
  const commands: string[] = [];
  let fence: { marker: string; language: string } | undefined;
  let pending = '';
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/.exec(line);
    if (fence === undefined) {
      if (marker) fence = { marker: marker[1]!, language: marker[2]!.toLowerCase() };
      continue;
    }
    if (marker && line.trim().startsWith(fence.marker) && line.trim().replace(/[`~]/g, '') === '') {
      fence = undefined;
      continue;
    }
    if (!SHELL_BLOCKS.has(fence.language)) continue;
    let text = line;
    if (fence.language === 'console') {
      if (pending === '' && !/^\s*\$ /.test(text)) continue; // output, not a command
      text = text.replace(/^\s*\$ /, '');
    }
    text = text.replace(/(^|\s)#.*$/, '').trim(); // a comment, whole-line or trailing
    if (text.endsWith('\\')) {
      pending += `${text.slice(0, -1).trim()} `;
      continue;
    }
    text = `${pending}${text}`.trim();
    pending = '';
    if (text !== '') commands.push(text);
  }
  return commands;
}

/** Commands this file runs as written (the test that runs each names it). */
const RUN_HERE: Readonly<Record<string, string>> = {
  'npm install && npx partkit demo': 'runs `npx partkit demo` as written, from the repository root (`npm install` has been done: `.ci/run` does it before the tests)',
  'npx partkit doctor': 'runs as written against a pg17-partman5 test database given in DATABASE_URL',
  'npx partkit provision': 'runs as written against a pg17-partman5 test database given in DATABASE_URL',
  'npx partkit verify --junit partkit.xml': 'runs as written against a pg17-partman5 test database given in DATABASE_URL, then reads partkit.xml',
};

/** Commands that cannot run here as written, and why. */
const NOT_RUNNABLE: Readonly<Record<string, string>> = {
  'npm test': 'this is the test command itself; .ci/run runs it',
  'export DATABASE_URL=postgres://app_owner:secret@db.internal:5432/semibot':
    "points at the reader's own server (db.internal); the commands after it run here with a test database's URL in DATABASE_URL instead",
  'docker build -f docker/Dockerfile -t partkit-postgres:17 .':
    'FROM postgres:17 needs a container registry, and apt-get inside the build needs --network host on these machines (the test dockerd has no bridge); test/docker.test.ts builds the same docker/Dockerfile on a stand-in postgres:17 with --network host',
  'docker run -d -p 127.0.0.1:5432:5432 -e POSTGRES_PASSWORD=secret -e POSTGRES_DB=semibot partkit-postgres:17':
    '-p needs a bridge network (the test dockerd has none) and takes the fixed port 5432; test/docker.test.ts starts the image with the same variables on the host network, on a free port',
  'docker exec <container> partkit verify': '<container> stands for the id that docker run prints; test/docker.test.ts runs partkit verify inside its container',
  'npx partkit provision --dry-run --format sql --scheduler external > database/migrations/010_table_partitioning.sql':
    "writes into the reader's app (database/migrations); test/migration-file.test.ts prints the same file against a test database, with a config",
  'psql "$DATABASE_URL" -1 -v ON_ERROR_STOP=1 -f database/migrations/010_table_partitioning.sql':
    "applies the file of the line before to the reader's database; test/migration-file.test.ts applies the printed file to fresh test databases with psql -1 -f, plain psql -f, postgres-migrations and node-pg-migrate",
  'npx partkit provision --dry-run --format sql --cron-file database/cron/partkit_maintenance.sql > database/migrations/010_table_partitioning.sql':
    "writes into the reader's app (database/); test/migration-file.test.ts prints the same two files with --cron-file against pg15-partman4 and pg17-partman5",
  'PGOPTIONS=\'-c partkit.app_database=semibot\' psql "$CRON_DATABASE_URL" -1 -v ON_ERROR_STOP=1 -f database/cron/partkit_maintenance.sql':
    "names the reader's database (semibot) and pg_cron's; test/migration-file.test.ts runs this psql line in pg_cron's database with PGOPTIONS naming its test database, twice, and without the setting (refused)",
};

/** Runs a README command line as written, through the shell, with npm offline. */
function runAsWritten(command: string, options: { cwd: string; env?: Record<string, string>; timeoutMs?: number }) {
  return execa('sh', ['-c', command], {
    cwd: options.cwd,
    env: cleanEnv({ npm_config_offline: 'true', npm_config_update_notifier: 'false', ...options.env }),
    extendEnv: false,
    reject: false,
    timeout: options.timeoutMs ?? 110_000,
  });
}

let commands: string[] = [];

beforeAll(async () => {
  commands = readmeCommands(await readFile(path.join(REPO_DIR, 'README.md'), 'utf8'));
});

/** The README line for a RUN_HERE key, checked to be there. */
function readmeLine(command: string): string {
  expect(commands, `README.md no longer has: ${command}`).toContain(command);
  return command;
}

describe('README.md commands', () => {
  it('finds the commands of its code blocks', () => {
    const sample = ['```sh', 'a --x   # comment', '# whole-line comment', 'b \\', '  --y', '```', '```json', '{ "c": 1 }', '```', '```console', '$ d', 'output', '```'].join('\n');
    expect(readmeCommands(sample)).toEqual(['a --x', 'b --y', 'd']);
  });

  it('runs every command of its code blocks here, or lists it as not runnable with a reason', () => {
    expect(commands.length).toBeGreaterThan(0);
    const unaccounted = commands.filter((command) => !(command in RUN_HERE) && !(command in NOT_RUNNABLE));
    expect(unaccounted, 'README.md commands that no test runs and NOT_RUNNABLE does not list').toEqual([]);
    const stale = [...Object.keys(RUN_HERE), ...Object.keys(NOT_RUNNABLE)].filter((command) => !commands.includes(command));
    expect(stale, 'entries for commands README.md no longer has').toEqual([]);
    for (const [command, reason] of Object.entries(NOT_RUNNABLE)) expect(reason.length, command).toBeGreaterThan(20);
  });

  it('npm install && npx partkit demo: `npx partkit demo` runs the package\'s own bin to completion with its defaults', { timeout: 300_000 }, async () => {
    const line = readmeLine('npm install && npx partkit demo');
    const command = line.replace(/^npm install && /, '');
    expect(command).toBe('npx partkit demo');
    // npx resolves `partkit` to this package's bin (offline: a registry package could not be fetched).
    const version = await runAsWritten('npx partkit --version', { cwd: REPO_DIR });
    expect(version.exitCode, version.stderr).toBe(0);
    const pkg = JSON.parse(await readFile(path.join(REPO_DIR, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
    expect(pkg.bin.partkit).toBe('dist/cli.js');
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = await runAsWritten('npx partkit demo --help', { cwd: REPO_DIR });
    const defaultRows = defaultRowsFromHelp(help.stdout);
    expect(defaultRows).toBeGreaterThan(20_505); // past where g * 104729 overflowed int4
    const result = await runAsWritten(command, { cwd: REPO_DIR, timeoutMs: 280_000 });
    expectDefaultDemoReport(result, defaultRows);
    expect(result.stdout).toMatch(/Seq Scan on messages_y\d{4}m\d{2}|Index.* Scan .*on messages_y\d{4}m\d{2}/);
    expect(result.stdout).toMatch(/partkit_archive\.messages_y\d{4}m\d{2}/);
  });
});

describeTarget('pg17-partman5', 'README.md: "Point it at your own database" (pg17-partman5)', () => {
  let db: TestDatabase;
  /** A folder inside the repository (so npx still finds the package's bin) for partkit.xml. */
  let cwd: string;

  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5');
    await mkdir(path.join(REPO_DIR, '.cache'), { recursive: true }); // git-ignored
    cwd = await mkdtemp(path.join(REPO_DIR, '.cache', 'readme-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  const env = () => ({ DATABASE_URL: db.url });

  it('npx partkit doctor', async () => {
    const result = await runAsWritten(readmeLine('npx partkit doctor'), { cwd, env: env() });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/partman/);
    expect(result.stdout).toMatch(/pg_cron/);
    expect(`${result.stdout}${result.stderr}`).not.toContain(new URL(db.url).password);
  });

  it('npx partkit provision', async () => {
    const result = await runAsWritten(readmeLine('npx partkit provision'), { cwd, env: env() });
    expect(result.exitCode, result.stderr).toBe(0);
    const { rows } = await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1`,
    );
    expect(rows.map((row) => row.name)).toEqual(['api_key_logs', 'execution_logs', 'messages', 'usage_records']);
    const again = await runAsWritten('npx partkit provision', { cwd, env: env() });
    expect(again.exitCode, again.stderr).toBe(0);
  });

  it('npx partkit verify --junit partkit.xml', async () => {
    const result = await runAsWritten(readmeLine('npx partkit verify --junit partkit.xml'), { cwd, env: env() });
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
    const junit = await readFile(path.join(cwd, 'partkit.xml'), 'utf8');
    expect(junit).toMatch(/<testsuites?\b/);
    expect(junit).toMatch(/<testcase\b/);
    expect(junit).not.toMatch(/<failure\b/);
  });
});
