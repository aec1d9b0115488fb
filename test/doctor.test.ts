import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partkit } from './helpers/cli.js';
import { monthOf } from './helpers/clock.js';
import { adminQuery, createRole, createTestDatabase, describeTarget, runPartkit, target, type TargetName, type TestDatabase } from './helpers/targets.js';

interface DoctorJson {
  server: { version: string; versionNum: number; timezone: string };
  database: string;
  user: { name: string; superuser: boolean };
  host: string;
  extensions: {
    pg_partman: { available: boolean; installed: boolean; version: string | null; defaultVersion: string | null };
    pg_cron: { available: boolean; installed: boolean; version: string | null; preloaded: boolean; databaseName: string | null };
  };
  strategy: 'partman' | 'plpgsql';
  scheduler: 'pg_cron' | 'external';
  reasons: string[];
  advice: string[];
  tables: {
    table: string;
    exists: boolean;
    partitioned: boolean;
    idLookups: { opened: number; partitions: number; monthsWithoutRange: string[]; prunes: boolean; detail: string } | null;
  }[];
}

async function doctorJson(url: string, extra: string[] = []): Promise<DoctorJson> {
  const result = await runPartkit(['doctor', '--json', '--database-url', url, ...extra]);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout) as DoctorJson;
}

const expectations: { name: TargetName; major: number; partman: RegExp | null; cron: boolean; strategy: string; scheduler: string }[] = [
  { name: 'pg15-partman4', major: 15, partman: /^4\.7\./, cron: true, strategy: 'partman', scheduler: 'pg_cron' },
  { name: 'pg17-partman5', major: 17, partman: /^5\.2\./, cron: true, strategy: 'partman', scheduler: 'pg_cron' },
  { name: 'pg15-nocron', major: 15, partman: /^4\.7\./, cron: false, strategy: 'partman', scheduler: 'external' },
  { name: 'bare14', major: 14, partman: null, cron: false, strategy: 'plpgsql', scheduler: 'external' },
  { name: 'bare18', major: 18, partman: null, cron: false, strategy: 'plpgsql', scheduler: 'external' },
];

for (const expected of expectations) {
  describeTarget(expected.name, `doctor on ${expected.name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(expected.name);
    });
    afterAll(() => db?.drop());

    it('reports versions, extensions, strategy and scheduler', async () => {
      const report = await doctorJson(db.url);
      expect(Math.floor(report.server.versionNum / 10000)).toBe(expected.major);
      expect(report.database).toBe(db.name);
      expect(report.user).toMatchObject({ name: 'postgres', superuser: true });
      expect(report.strategy).toBe(expected.strategy);
      expect(report.scheduler).toBe(expected.scheduler);
      expect(report.extensions.pg_partman.available).toBe(expected.partman !== null);
      if (expected.partman) expect(report.extensions.pg_partman.defaultVersion).toMatch(expected.partman);
      expect(report.extensions.pg_partman.installed).toBe(false);
      expect(report.extensions.pg_cron.preloaded).toBe(expected.cron);
      expect(report.extensions.pg_cron.databaseName).toBe(expected.cron ? 'postgres' : null);
      expect(report.tables.map((t) => t.table)).toEqual(['public.messages', 'public.execution_logs', 'public.api_key_logs', 'public.usage_records']);
      expect(report.tables.every((t) => !t.exists && !t.partitioned)).toBe(true);
      if (expected.scheduler === 'external') {
        expect(report.reasons.join('\n')).toMatch(/pg_cron .*(not in shared_preload_libraries|not available).*partkit maintain/);
        expect(report.advice.join('\n')).toMatch(/shared_preload_libraries/);
      }
      if (expected.strategy === 'plpgsql') {
        expect(report.reasons.join('\n')).toMatch(/pg_partman is not available/);
        expect(report.advice.join('\n')).toMatch(/CREATE EXTENSION IF NOT EXISTS pg_partman/);
      }
    });

    it('prints a readable report without --json', async () => {
      const result = await runPartkit(['doctor', '--database-url', db.url]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`strategy\\s+${expected.strategy}`));
      expect(result.stdout).toMatch(new RegExp(`scheduler\\s+${expected.scheduler}`));
    });
  });
}

// pg15-nocron: pg_cron can never be installed there, so what a non-superuser sees does not depend on other test files.
describeTarget('pg15-nocron', 'doctor as a non-superuser on a host where settings are hidden', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pg15-nocron');
  });
  afterAll(() => db?.drop());

  it('reports the role is no superuser and says what an administrator must run', async () => {
    const role = await createRole('app_owner', db, { ownsDatabase: true });
    const report = await doctorJson(role.url);
    expect(report.user).toMatchObject({ name: role.name, superuser: false });
    const advice = report.advice.join('\n');
    // pg_partman 4.7 needs a superuser to be created, and pg_cron is not created yet.
    expect(advice).toMatch(new RegExp(`${role.name} cannot create pg_partman; an administrator must run`));
    expect(advice).toMatch(/CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA "partman"/);
    // It may not read shared_preload_libraries, and pg_cron is not created yet: it says so.
    expect(report.scheduler).toBe('external');
    expect(report.reasons.join('\n')).toMatch(new RegExp(`${role.name} may not read shared_preload_libraries`));
    expect(advice).toMatch(new RegExp(`GRANT pg_read_all_settings TO "${role.name}"`));
  });

});

describeTarget('pg15-partman4', 'doctor as a non-superuser', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pg15-partman4');
  });
  afterAll(() => db?.drop());

  it('sees pg_cron once an administrator created it in postgres, and may schedule when granted', async () => {
    const role = await createRole('app_owner', db, { ownsDatabase: true });
    await adminQuery('pg15-partman4', 'CREATE EXTENSION IF NOT EXISTS pg_cron');
    const before = await doctorJson(role.url);
    expect(before.scheduler).toBe('pg_cron');
    expect(before.extensions.pg_cron).toMatchObject({ installed: true, preloaded: true, databaseName: 'postgres' });
    expect(before.advice.join('\n')).toMatch(/may not call cron\.schedule_in_database; an administrator must run in database postgres: GRANT USAGE ON SCHEMA cron/);
    await adminQuery('pg15-partman4', `GRANT USAGE ON SCHEMA cron TO "${role.name}"`);
    await adminQuery('pg15-partman4', `GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO "${role.name}"`);
    const after = await doctorJson(role.url);
    expect(after.advice.join('\n')).not.toMatch(/schedule_in_database/);
  });

  it('as a superuser gives no such advice', async () => {
    const report = await doctorJson(db.url);
    expect(report.advice.join('\n')).not.toMatch(/administrator must run/);
  });
});

describeTarget('bare18', 'connection failures', () => {
  const secret = 'S3cret-Pa55word-do-not-print';

  function expectNoSecret(result: { stdout: string; stderr: string }) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }

  it('wrong password: exit 3, short message, no password in text or JSON output', async () => {
    const info = target('bare18');
    const url = `postgres://postgres:${secret}@127.0.0.1:${info.port}/postgres`;
    for (const json of [[], ['--json']]) {
      const started = Date.now();
      const result = await runPartkit(['doctor', '--database-url', url, ...json]);
      expect(result.exitCode).toBe(3);
      expect(result.stderr).toMatch(/password authentication failed/);
      expect(Date.now() - started).toBeLessThan(10_000);
      expectNoSecret(result);
      if (json.length) expect(JSON.parse(result.stdout).error.exitCode).toBe(3);
    }
  });

  it('wrong password through PGPASSWORD: exit 3, no password printed', async () => {
    const info = target('bare18');
    const result = await runPartkit(['doctor'], { env: { PGHOST: '127.0.0.1', PGPORT: String(info.port), PGUSER: 'postgres', PGPASSWORD: secret, PGDATABASE: 'postgres' } });
    expect(result.exitCode).toBe(3);
    expectNoSecret(result);
  });

  it('closed port: exit 3 within a few seconds', async () => {
    const started = Date.now();
    const result = await runPartkit(['doctor', '--database-url', `postgres://postgres:${secret}@127.0.0.1:1/postgres`]);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/Cannot connect to postgres@127\.0\.0\.1:1\/postgres/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expectNoSecret(result);
  });

  it('bad URL: exit 3, the password is masked', async () => {
    for (const url of [`postgres://postgres:${secret}@127.0.0.1:notaport/db`, `mysql://root:${secret}@127.0.0.1/db`, 'not a url']) {
      const result = await runPartkit(['doctor', '--database-url', url]);
      expect(result.exitCode).toBe(3);
      expect(result.stderr).toMatch(/database URL/);
      expectNoSecret(result);
    }
  });

  it('DATABASE_URL is used when --database-url is absent', async () => {
    const info = target('bare18');
    const result = await runPartkit(['doctor', '--json'], { env: { DATABASE_URL: info.adminUrl('postgres') } });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).database).toBe('postgres');
  });
});

describe('doctor without any server', () => {
  it('fails with exit 3 when nothing listens at the libpq default', async () => {
    const result = await runPartkit(['doctor'], { env: { PGHOST: '127.0.0.1', PGPORT: '2' } });
    expect(result.exitCode).toBe(3);
  });
});

describeTarget('bare18', 'doctor on mixed-case tables with spaces and quotes', () => {
  const partitioned = '"My Schema"."Odd ""Name"" Tbl"';
  const plain = '"My Schema"."Plain Old Tbl"';
  let db: TestDatabase;
  let config: string;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    await db.query(`CREATE SCHEMA "My Schema"`);
    await db.query(`CREATE TABLE ${partitioned} (id bigint, "Created At" timestamptz NOT NULL, PRIMARY KEY (id, "Created At")) PARTITION BY RANGE ("Created At")`);
    await db.query(`CREATE TABLE ${plain} (id bigint PRIMARY KEY, "Created At" timestamptz NOT NULL)`);
    config = path.join(mkdtempSync(path.join(tmpdir(), 'partkit-doctor-')), 'partkit.json');
    writeFileSync(config, JSON.stringify({ defaults: { controlColumn: 'Created At' }, tables: [{ name: partitioned }, { name: plain }, { name: '"My Schema"."Not There"' }] }));
  });
  afterAll(() => db?.drop());

  it('finds each table by its exact spelling and says which is partitioned', async () => {
    const report = await doctorJson(db.url, ['--config', config]);
    expect(report.tables.map((t) => [t.table, t.exists, t.partitioned])).toEqual([
      [partitioned, true, true],
      [plain, true, false],
      ['"My Schema"."Not There"', false, false],
    ]);
  });
});

// Whether a lookup by id alone prunes, from EXPLAIN of `WHERE id = $1` with a bound parameter: on both strategies.
for (const [name, strategy] of [['bare18', 'plpgsql'], ['pg17-partman5', 'partman']] as const) {
  describeTarget(name, `doctor says whether lookups by id prune (${strategy})`, () => {
    let db: TestDatabase;
    let config: string;
    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      config = path.join(mkdtempSync(path.join(tmpdir(), 'partkit-doctor-')), 'partkit.json');
      writeFileSync(config, JSON.stringify({ strategy, tables: [{ name: 'public.messages' }, { name: 'public.execution_logs', ids: 'random' }] }));
      await partkit(db, ['provision'], { config });
    }, 60_000);
    afterAll(() => db?.drop());

    const lookups = async () => {
      const report = await doctorJson(db.url, ['--config', config]);
      return Object.fromEntries(report.tables.map((t) => [t.table, t.idLookups]));
    };
    const partitions = (table: string) => db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = $1::regclass`, [table]).then((r) => r.rows[0]!.n);

    it('time-ordered ids prune to the month and the default; "ids": "random" opens every partition, and the text says so', async () => {
      const found = await lookups();
      expect(found['public.messages']).toEqual({ opened: 2, partitions: await partitions('public.messages'), monthsWithoutRange: [], prunes: true, detail: `id lookups prune: WHERE id = $1 opens 2 of ${await partitions('public.messages')} partitions (its month and the default)` });
      const all = await partitions('public.execution_logs');
      expect(found['public.execution_logs']).toMatchObject({ opened: all, partitions: all, prunes: false, detail: expect.stringMatching(/^id lookups do not prune: .*the ids are not time-ordered .*give id lookups a created_at range$/) });
      const text = await runPartkit(['doctor', '--config', config, '--database-url', db.url]);
      expect(text.exitCode).toBe(0);
      expect(text.stdout).toMatch(/public\.messages .*\n\s+id lookups prune: WHERE id = \$1 opens 2 of/);
      expect(text.stdout).toMatch(/public\.execution_logs .*\n\s+id lookups do not prune/);
    });

    it('a month without its id range is named, and the command its detail gives (`partkit maintain`) restores it', async () => {
      const { rows } = await db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'public.messages'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
            AND to_char((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM') = $1`,
        [monthOf(2).key],
      );
      const month = rows[0]!.name;
      await db.query(`ALTER TABLE public."${month}" DROP CONSTRAINT partkit_id_range`);
      await db.query(`DROP TRIGGER partkit_id_range ON public."${month}"`);
      const found = (await lookups())['public.messages']!;
      expect(found).toMatchObject({ opened: 3, monthsWithoutRange: [`public.${month}`], prunes: false });
      expect(found.detail).toContain(`1 month(s) have no id range (public.${month}): \`partkit maintain\``);
      await partkit(db, ['maintain'], { config });
      expect((await lookups())['public.messages']).toMatchObject({ opened: 2, monthsWithoutRange: [], prunes: true });
    });
  });
}
