/**
 * The `docker` target: partkit's own image (docker/Dockerfile), built and started as a user would,
 * then checked from the host and from inside the container.
 *
 * NOTE: no container registry is reachable from the test machines, so the image's base `postgres:17`
 * is a STAND-IN built by test/targets/docker.sh from a Debian trixie root (Debian's PostgreSQL 17 and
 * an entrypoint of partkit's own that handles PGDATA, POSTGRES_USER/PASSWORD/DB and
 * /docker-entrypoint-initdb.d like the official image does). docker/Dockerfile itself is unchanged.
 *
 * The container shares the host's network namespace (the test daemon has no bridge) and listens on
 * 127.0.0.1 only, on a free port.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { execa } from 'execa';
import pg from 'pg';
import type { StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { monthOf } from './helpers/clock.js';
import { REPO_DIR, runPartkit } from './helpers/targets.js';

const IMAGE = 'partkit-postgres:test';
const TABLES = ['api_key_logs', 'execution_logs', 'messages', 'usage_records'];
const APP_DB = 'semibot';
const PASSWORD = randomBytes(12).toString('base64url');
const BUILD_TIMEOUT_MS = 15 * 60_000;

const docker = inject('partkitDocker');

function describeDocker(title: string, fn: () => void): void {
  if (docker.available) {
    describe(title, fn);
    return;
  }
  console.warn(`\n!!! SKIPPED "${title}": test target docker is missing: ${docker.reason ?? 'unknown reason'}\n`);
  describe.skip(`${title} [SKIPPED: docker missing]`, fn);
}

describeDocker('the docker image (on a stand-in postgres:17)', () => {
  let container: StartedTestContainer | undefined;
  let port = 0;
  const url = (db: string): string => `postgresql://postgres:${PASSWORD}@127.0.0.1:${port}/${db}`;

  async function query<Row extends pg.QueryResultRow>(db: string, sql: string, params: unknown[] = []): Promise<Row[]> {
    const client = new pg.Client({ connectionString: url(db) });
    await client.connect();
    try {
      return (await client.query<Row>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    // testcontainers reads these when it first looks for a daemon: the test's own, and no Ryuk
    // (its image cannot be pulled; the container is stopped in afterAll).
    process.env.DOCKER_HOST = docker.dockerHost;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';

    const build = await execa(docker.dockerBin, ['build', '--network', 'host', '-f', 'docker/Dockerfile', '-t', IMAGE, '.'], {
      cwd: REPO_DIR,
      env: { DOCKER_HOST: docker.dockerHost },
      reject: false,
      all: true,
      timeout: BUILD_TIMEOUT_MS,
    });
    if (build.exitCode !== 0) throw new Error(`docker build failed (exit ${build.exitCode}):\n${build.all.split('\n').slice(-40).join('\n')}`);

    const { GenericContainer, Wait } = await import('testcontainers');
    port = await findFreePort();
    container = await new GenericContainer(IMAGE)
      .withNetworkMode('host')
      // PGPORT moves the server, and is what `partkit` inside the container connects to.
      .withEnvironment({ POSTGRES_PASSWORD: PASSWORD, POSTGRES_DB: APP_DB, PGPORT: String(port) })
      .withCommand(['postgres', '-c', 'listen_addresses=127.0.0.1'])
      // Once for the set-up server that runs the init scripts, once for the real one.
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .withStartupTimeout(180_000)
      .start();
    await waitForConnection(url(APP_DB));
  }, BUILD_TIMEOUT_MS + 240_000);

  afterAll(async () => {
    await container?.stop({ timeout: 20_000 });
  }, 60_000);

  it('has the four tables partitioned monthly by pg_partman 5.2', async () => {
    const [partman] = await query<{ extversion: string }>(APP_DB, `SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'`);
    expect(partman?.extversion).toMatch(/^5\.2\./);

    const parents = await query<{ relname: string; strategy: string }>(
      APP_DB,
      `SELECT c.relname, p.partstrat AS strategy FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1`,
    );
    expect(parents).toEqual(TABLES.map((relname) => ({ relname, strategy: 'r' })));

    const registered = await query<{ parent_table: string; partition_interval: string; retention: string }>(
      APP_DB,
      'SELECT parent_table, partition_interval, retention FROM partman.part_config ORDER BY 1',
    );
    expect(registered).toEqual(TABLES.map((table) => ({ parent_table: `public.${table}`, partition_interval: '1 mon', retention: '12 months' })));

    // pg_partman 5.x names children after the month's first day: messages_p20260101.
    const children = await query<{ parent: string; child: string }>(
      APP_DB,
      `SELECT parent.relname AS parent, child.relname AS child FROM pg_inherits i
         JOIN pg_class parent ON parent.oid = i.inhparent JOIN pg_class child ON child.oid = i.inhrelid
        WHERE parent.relname = ANY($1) AND child.relname NOT LIKE '%\\_default'`,
      [TABLES],
    );
    for (const table of TABLES) {
      const own = children.filter((row) => row.parent === table);
      expect(own.length, table).toBeGreaterThanOrEqual(5); // this month and 4 premade
      for (const { child } of own) expect(child).toMatch(new RegExp(`^${table}_p\\d{4}(0[1-9]|1[0-2])01$`));
    }
  });

  it('schedules the maintenance job in postgres, targeting POSTGRES_DB', async () => {
    const jobs = await query<{ jobname: string; database: string; schedule: string; active: boolean }>(
      'postgres',
      'SELECT jobname, database, schedule, active FROM cron.job ORDER BY jobid',
    );
    expect(jobs).toEqual([{ jobname: `partkit_maintenance_${APP_DB}`, database: APP_DB, schedule: '0 * * * *', active: true }]);
    const [settings] = await query<{ preload: string; cron_db: string }>(
      'postgres',
      `SELECT current_setting('shared_preload_libraries') AS preload, current_setting('cron.database_name') AS cron_db`,
    );
    expect(settings).toEqual({ preload: 'pg_cron', cron_db: 'postgres' });
  });

  it('passes partkit verify from the host', async () => {
    const result = await runPartkit(['verify', '--database-url', url(APP_DB)]);
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
  });

  it('has nothing left for a second partkit provision from the host', async () => {
    const result = await runPartkit(['provision', '--json', '--database-url', url(APP_DB)]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { changes: number }).changes).toBe(0);
  });

  it('runs partkit maintain and create_partition.sh inside the container without a URL', async () => {
    const maintain = await container!.exec(['partkit', 'maintain']);
    expect(maintain.exitCode, maintain.output).toBe(0);
    const [run] = await query<{ runs: number }>(APP_DB, 'SELECT count(*)::int AS runs FROM partkit.maintenance_run');
    expect(run?.runs).toBeGreaterThanOrEqual(1);

    const create = await container!.exec(['create_partition.sh', 'public.messages', '2031-07']);
    expect(create.exitCode, create.output).toBe(0);
    const made = await query(APP_DB, `SELECT 1 FROM pg_class WHERE relname = 'messages_p20310701'`);
    expect(made).toHaveLength(1);

    const verify = await container!.exec(['partkit', 'verify']);
    expect(verify.exitCode, verify.output).toBe(0);
  });

  it("holds the design's scripts, each answering --help, and archive_old_data.sh archives and exports for real", async () => {
    for (const script of ['create_partition.sh', 'archive_old_data.sh']) {
      const help = await container!.exec([script, '--help']);
      expect(help.exitCode, help.output).toBe(0);
      expect(help.output).toMatch(new RegExp(`^usage: ${script.replace('.', '\\.')}`, 'm'));
    }
    const unset = await container!.exec(['archive_old_data.sh']);
    expect(unset.exitCode, unset.output).toBe(2);
    expect(unset.output).toMatch(/ARCHIVE_DIR is not set/);

    // A month past the 12 months' retention, with a row in it: the script's maintenance moves it
    // into the archive schema, then its export writes it to ARCHIVE_DIR.
    const old = monthOf(-14);
    await query(APP_DB, `SELECT partman.create_partition_time(p_parent_table := 'public.messages', p_partition_times := ARRAY[$1::timestamptz])`, [old.start]);
    await query(APP_DB, `INSERT INTO public.messages (session_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'old', $1)`, [old.mid]);
    const archived = await container!.exec(['archive_old_data.sh'], { env: { ARCHIVE_DIR: '/tmp/partkit-cold' } });
    expect(archived.exitCode, archived.output).toBe(0);
    const exports = await query<{ month: string; rows: string }>(APP_DB, `SELECT month, rows::text AS rows FROM partkit.archive_export WHERE parent_table = 'messages'`);
    expect(exports).toEqual([{ month: old.key, rows: '1' }]);
    const files = await container!.exec(['ls', '/tmp/partkit-cold/public.messages']);
    expect(files.exitCode, files.output).toBe(0);
    expect(files.output.split(/\s+/).filter(Boolean).sort()).toEqual([`${old.key}.csv.gz`, `${old.key}.json`]);

    const again = await container!.exec(['archive_old_data.sh'], { env: { ARCHIVE_DIR: '/tmp/partkit-cold' } });
    expect(again.exitCode, again.output).toBe(0);
    expect(await query(APP_DB, `SELECT 1 FROM partkit.archive_export`)).toHaveLength(1);
  });

  it('provisions the tables of PARTKIT_CONFIG instead, when it is given', async () => {
    const { GenericContainer, Wait } = await import('testcontainers');
    const config = { tables: [{ name: 'public.messages', premake: 2 }] };
    const ownPort = await findFreePort();
    const configured = await new GenericContainer(IMAGE)
      .withNetworkMode('host')
      .withEnvironment({ POSTGRES_PASSWORD: PASSWORD, POSTGRES_DB: 'configured', PGPORT: String(ownPort), PARTKIT_CONFIG: '/etc/partkit.json' })
      .withCopyContentToContainer([{ content: JSON.stringify(config), target: '/etc/partkit.json', mode: 0o644 }])
      .withCommand(['postgres', '-c', 'listen_addresses=127.0.0.1'])
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .withStartupTimeout(180_000)
      .start();
    try {
      const ownUrl = `postgresql://postgres:${PASSWORD}@127.0.0.1:${ownPort}/configured`;
      await waitForConnection(ownUrl);
      const client = new pg.Client({ connectionString: ownUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ parent_table: string; premake: number }>('SELECT parent_table, premake FROM partman.part_config');
        expect(rows).toEqual([{ parent_table: 'public.messages', premake: 2 }]);
      } finally {
        await client.end();
      }
      const verify = await configured.exec(['partkit', 'verify']);
      expect(verify.exitCode, verify.output).toBe(0);
    } finally {
      await configured.stop({ timeout: 20_000 });
    }
  }, 240_000);
});

async function waitForConnection(connectionString: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const client = new pg.Client({ connectionString });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
