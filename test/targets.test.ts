/**
 * Smoke tests of the test targets themselves: each server is what it claims to stand for.
 * If one of these fails, every other test file's result on that target means nothing.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, cleanEnv, createRole, createTestDatabase, describeTarget, psql, target } from './helpers/targets.js';
import type { TargetName, TestDatabase } from './helpers/targets.js';

interface Expectation {
  readonly major: number;
  /** pg_partman's default_version pattern, or null when it must not be available. */
  readonly partman: RegExp | null;
  readonly cronAvailable: boolean;
  readonly cronPreloaded: boolean;
}

const EXPECTED: Record<TargetName, Expectation> = {
  'pg15-partman4': { major: 15, partman: /^4\.7\./, cronAvailable: true, cronPreloaded: true },
  'pg15-nocron': { major: 15, partman: /^4\.7\./, cronAvailable: true, cronPreloaded: false },
  'pg17-partman5': { major: 17, partman: /^5\.2\./, cronAvailable: true, cronPreloaded: true },
  bare14: { major: 14, partman: null, cronAvailable: false, cronPreloaded: false },
  bare18: { major: 18, partman: null, cronAvailable: false, cronPreloaded: false },
};

async function connect(name: TargetName, password: string): Promise<pg.Client> {
  const info = target(name);
  const client = new pg.Client({ host: info.host, port: info.port, user: info.superuser, password, database: 'postgres' });
  await client.connect();
  return client;
}

for (const [name, expected] of Object.entries(EXPECTED) as Array<[TargetName, Expectation]>) {
  describeTarget(name, `test target ${name}`, () => {
    it('accepts the superuser password and rejects a wrong one', async () => {
      const client = await connect(name, target(name).password);
      await client.end();
      await expect(connect(name, `${target(name).password}-wrong`)).rejects.toMatchObject({ code: '28P01' });
    });

    it(`is PostgreSQL ${expected.major}, listening on 127.0.0.1 only`, async () => {
      const { rows } = await adminQuery<{ num: string; listen: string }>(
        name,
        `SELECT current_setting('server_version_num') AS num, current_setting('listen_addresses') AS listen`,
      );
      expect(Math.floor(Number(rows[0]?.num) / 10000)).toBe(expected.major);
      expect(target(name).majorVersion).toBe(expected.major);
      expect(rows[0]?.listen).toBe('127.0.0.1');
    });

    it('offers exactly the expected extensions', async () => {
      const { rows } = await adminQuery<{ name: string; default_version: string }>(
        name,
        `SELECT name, default_version FROM pg_available_extensions WHERE name IN ('pg_partman', 'pg_cron')`,
      );
      const versions = new Map(rows.map((row) => [row.name, row.default_version]));
      if (expected.partman === null) expect(versions.has('pg_partman')).toBe(false);
      else expect(versions.get('pg_partman')).toMatch(expected.partman);
      expect(versions.has('pg_cron')).toBe(expected.cronAvailable);
    });

    it(`has pg_cron ${expected.cronPreloaded ? '' : 'not '}in shared_preload_libraries`, async () => {
      const { rows } = await adminQuery<{ shared_preload_libraries: string }>(name, 'SHOW shared_preload_libraries');
      const libraries = (rows[0]?.shared_preload_libraries ?? '').split(',').map((library) => library.trim());
      expect(libraries.includes('pg_cron')).toBe(expected.cronPreloaded);
    });
  });
}

describeTarget('pg15-partman4', 'pg_cron on pg15-partman4', () => {
  it('can be created in the postgres database (rolled back: other files expect a clean cluster)', async () => {
    const client = await connect('pg15-partman4', target('pg15-partman4').password);
    try {
      // CREATE EXTENSION is transactional: rolling back leaves nothing for files running in parallel.
      await client.query('BEGIN');
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_cron');
      const { rows } = await client.query<{ extversion: string }>(`SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'`);
      expect(rows[0]?.extversion).toMatch(/^1\.4/);
    } finally {
      await client.query('ROLLBACK');
      await client.end();
    }
  });
});

describeTarget('pg15-nocron', 'pg_cron on pg15-nocron', () => {
  it('cannot be created without shared_preload_libraries', async () => {
    // pg_cron 1.4 fails with "unrecognized configuration parameter cron.database_name" here.
    await expect(adminQuery('pg15-nocron', 'CREATE EXTENSION pg_cron')).rejects.toThrow(/shared_preload_libraries|cron\.database_name/);
  });
});

describeTarget('pg17-partman5', 'helpers on pg17-partman5', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5');
  });
  afterAll(() => db.drop());

  it('gives each call a fresh database named after the test file', async () => {
    expect(db.name).toMatch(/^t_targets_[0-9a-f]{8}$/);
    const { rows } = await db.query<{ db: string }>('SELECT current_database() AS db');
    expect(rows[0]?.db).toBe(db.name);
  });

  it('makes login roles that own the database and are not superusers', async () => {
    const role = await createRole('App Owner', db, { ownsDatabase: true });
    const client = new pg.Client({ connectionString: role.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ usesuper: boolean }>('SELECT usesuper FROM pg_user WHERE usename = current_user');
      expect(rows[0]?.usesuper).toBe(false);
      await client.query('CREATE SCHEMA app');
    } finally {
      await client.end();
    }
  });

  it('runs the real psql (with the server version 17 client) with ON_ERROR_STOP', async () => {
    const ok = await psql('pg17-partman5', db, 'SELECT 1 AS one \\gset\n\\echo one=:one\n');
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain('one=1');
    const failed = await psql('pg17-partman5', db, 'SELECT no_such_column;\n\\echo not reached\n');
    expect(failed.exitCode).toBe(3);
    expect(failed.stdout).not.toContain('not reached');
  });

  it('has a pg_dump that can dump the PG 17 server', async () => {
    const { execa } = await import('execa');
    const dump = await execa(`${target('pg17-partman5').binDir}/pg_dump`, ['--schema-only', target('pg17-partman5').adminUrl(db.name)], {
      reject: false,
    });
    expect(dump.stderr).toBe('');
    expect(dump.stdout).toContain('PostgreSQL database dump');
  });

  it('drops the database with its pg_cron jobs', async () => {
    const other = await createTestDatabase('pg17-partman5');
    const existed = (await adminQuery('pg17-partman5', `SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'`)).rowCount === 1;
    if (!existed) await adminQuery('pg17-partman5', 'CREATE EXTENSION IF NOT EXISTS pg_cron');
    try {
      await adminQuery('pg17-partman5', `SELECT cron.schedule_in_database('partkit-smoke', '0 3 * * *', 'SELECT 1', $1)`, [other.name]);
      await other.drop();
      const jobs = await adminQuery('pg17-partman5', 'SELECT 1 FROM cron.job WHERE database = $1', [other.name]);
      expect(jobs.rowCount).toBe(0);
      const dbs = await adminQuery('pg17-partman5', 'SELECT 1 FROM pg_database WHERE datname = $1', [other.name]);
      expect(dbs.rowCount).toBe(0);
    } finally {
      if (!existed) await adminQuery('pg17-partman5', 'DROP EXTENSION IF EXISTS pg_cron');
    }
  });
});

describe('runPartkit environment', () => {
  it('drops DATABASE_URL and PG* variables unless given', () => {
    process.env.PGHOST = 'leaked';
    process.env.DATABASE_URL = 'postgresql://leaked';
    try {
      const env = cleanEnv({ PGPORT: '1' });
      expect(env.PGHOST).toBeUndefined();
      expect(env.DATABASE_URL).toBeUndefined();
      expect(env.PGPORT).toBe('1');
    } finally {
      delete process.env.PGHOST;
      delete process.env.DATABASE_URL;
    }
  });
});
