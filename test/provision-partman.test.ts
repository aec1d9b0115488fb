import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminQuery, attachedPartitions, createRole, createTestDatabase, describeTarget, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';
import { monthOf, testNow } from './helpers/clock.js';
import { configFiles, provisionJson } from './helpers/cli.js';

const TABLES = ['messages', 'execution_logs', 'api_key_logs', 'usage_records'];
const { write: writeConfig } = configFiles('provision');

/** The month starts (UTC) that the set must hold right after provisioning. */
function expectedMonths(count: number): string[] {
  return Array.from({ length: count }, (_, i) => monthOf(i).start);
}

function monthsAgo(n: number, day = 15): string {
  const now = testNow();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - n, day, 12)).toISOString();
}

for (const name of ['pg15-partman4', 'pg17-partman5'] as TargetName[]) {
  const major = name === 'pg15-partman4' ? 4 : 5;

  describeTarget(name, `provision with pg_partman ${major}.x on ${name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
      await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
    });
    afterAll(() => db?.drop());

    it('creates, registers and schedules the four tables on a fresh database', async () => {
      const result = await provisionJson(db.url);
      expect(result).toMatchObject({ strategy: 'partman', scheduler: 'pg_cron', schedule: { job: `partkit_maintenance_${db.name}` } });
      expect(result.changes).toBeGreaterThan(10);
      for (const table of TABLES) {
        const kids = await attachedPartitions(db, `public.${table}`);
        expect(kids.filter((k) => k.bound !== 'DEFAULT').map((k) => k.bound.match(/FROM \('([^']+)'\)/)![1])).toEqual(expectedMonths(5));
        expect(kids.at(-1)).toEqual({ schema: 'public', name: `${table}_default`, bound: 'DEFAULT', lower: null, upper: null });
        expect(kids[0]!.name).toMatch(major === 4 ? new RegExp(`^${table}_p\\d{4}_\\d{2}$`) : new RegExp(`^${table}_p\\d{8}$`));
        const { rows: pk } = await db.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, [`public.${table}`]);
        expect(pk[0]!.def).toBe('PRIMARY KEY (id, created_at)');
      }
      const { rows: config } = await db.query(
        `SELECT parent_table, partition_interval, premake, retention, retention_schema, retention_keep_table, infinite_time_partitions FROM partman.part_config ORDER BY parent_table`,
      );
      expect(config).toHaveLength(4);
      for (const row of config) {
        expect(row).toMatchObject({ partition_interval: '1 mon', premake: 4, retention: '12 months', retention_schema: 'partkit_archive', retention_keep_table: true, infinite_time_partitions: true });
      }
      const { rows: jobs } = await db.query(`SELECT 1`);
      expect(jobs).toHaveLength(1);
      const cron = await createTestDatabaseJobs(db);
      expect(cron).toEqual([{ jobname: `partkit_maintenance_${db.name}`, database: db.name, active: true, schedule: '0 * * * *', command: 'CALL "partkit".run_maintenance_proc()' }]);
    });

    it('a second run changes nothing', async () => {
      const result = await provisionJson(db.url);
      expect(result.changes).toBe(0);
      expect(result.tables.every((t) => t.changes.length === 0)).toBe(true);
      const dry = await runPartkit(['provision', '--dry-run', '--database-url', db.url]);
      expect(dry.exitCode).toBe(0);
      expect(dry.stdout).toMatch(/partkit plan: 0 step\(s\)/);
    });

    it('rows beyond the premade range are moved out of the default by maintain, none lost', async () => {
      const future = new Date(Date.UTC(testNow().getUTCFullYear() + 2, 5, 10)).toISOString();
      await db.query(`INSERT INTO messages (session_id, role, content, created_at) SELECT gen_random_uuid(), 'user', 'far future', $1::timestamptz FROM generate_series(1, 25)`, [future]);
      expect((await db.query(`SELECT count(*)::int AS n FROM ONLY messages_default`)).rows[0]!.n).toBe(25);
      const result = await runPartkit(['maintain', '--json', '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n FROM messages_default`)).rows[0]!.n).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n FROM messages WHERE content = 'far future'`)).rows[0]!.n).toBe(25);
      const { rows } = await db.query(`SELECT tableoid::regclass::text AS child FROM messages WHERE content = 'far future' LIMIT 1`);
      expect(rows[0]!.child).toMatch(major === 4 ? /_p\d{4}_06$/ : /_p\d{4}0601$/);
    });

    it('retention moves months 13-15 back into the archive schema and keeps months 1-12, no row lost', async () => {
      const times = Array.from({ length: 15 }, (_, i) => monthsAgo(i + 1, 1).slice(0, 10));
      await db.query(`SELECT partman.create_partition_time(p_parent_table := 'public.usage_records', p_partition_times := $1::timestamptz[])`, [times]);
      for (let back = 1; back <= 15; back += 1) {
        await db.query(`INSERT INTO usage_records (organization_id, resource_type, quantity, created_at) SELECT gen_random_uuid(), 'tokens', g, $1 FROM generate_series(1, 10) g`, [monthsAgo(back)]);
      }
      const before = (await db.query(`SELECT count(*)::int AS n FROM usage_records`)).rows[0]!.n;
      const result = await runPartkit(['maintain', '--json', '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { events: { table: string; action: string; partition: string }[] };
      expect(report.events.filter((e) => e.action === 'detached' && e.table === 'public.usage_records')).toHaveLength(3);
      const { rows: archived } = await db.query<{ relname: string }>(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'partkit_archive' AND c.relname LIKE 'usage_records%' AND c.relkind = 'r' ORDER BY 1`);
      expect(archived).toHaveLength(3);
      const attached = (await db.query(`SELECT count(*)::int AS n FROM usage_records`)).rows[0]!.n;
      let inArchive = 0;
      for (const { relname } of archived) inArchive += (await db.query(`SELECT count(*)::int AS n FROM partkit_archive."${relname}"`)).rows[0]!.n as number;
      expect(attached).toBe(120);
      expect(inArchive).toBe(30);
      expect(attached + inArchive).toBe(before);
    });
  });

  describeTarget(name, `provision with pg_partman ${major}.x: time zones, concurrency, rights and bad tables on ${name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
    });
    afterAll(() => db?.drop());

    it('boundaries are 00:00 UTC on the 1st when the server runs in Asia/Shanghai, also after maintain', async () => {
      const shanghai = await createTestDatabase(name);
      try {
        await shanghai.query(`ALTER DATABASE "${shanghai.name}" SET TimeZone = 'Asia/Shanghai'`);
        await provisionJson(shanghai.url);
        const maintained = await runPartkit(['maintain', '--database-url', shanghai.url]);
        expect(maintained.exitCode, maintained.stderr).toBe(0);
        const { rows } = await shanghai.query<{ lower: string; upper: string }>(
          `SELECT to_char(lower_b AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS lower, to_char(upper_b AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS upper
             FROM (SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)'))[1]::timestamptz AS lower_b,
                          (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)'))[2]::timestamptz AS upper_b
                     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent IN ('messages'::regclass, 'execution_logs'::regclass, 'api_key_logs'::regclass, 'usage_records'::regclass)
                      AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT') b`,
        );
        expect(rows.length).toBeGreaterThanOrEqual(20);
        for (const row of rows) {
          expect(row.lower).toMatch(/^\d{4}-\d{2}-01 00:00$/);
          expect(row.upper).toMatch(/^\d{4}-\d{2}-01 00:00$/);
        }
      } finally {
        await shanghai.drop();
      }
    });

    it('four provision processes at once all succeed with the result of one run', async () => {
      const results = await Promise.all([1, 2, 3, 4].map(() => runPartkit(['provision', '--json', '--database-url', db.url])));
      for (const result of results) expect(result.exitCode, result.stderr).toBe(0);
      const changes = results.map((r) => JSON.parse(r.stdout).changes as number).sort((a, b) => b - a);
      expect(changes[0]).toBeGreaterThan(0);
      expect(changes.slice(1)).toEqual([0, 0, 0]);
      for (const table of TABLES) expect(await attachedPartitions(db, `public.${table}`)).toHaveLength(6);
      expect((await db.query(`SELECT count(*)::int AS n FROM partman.part_config`)).rows[0]!.n).toBe(4);
      expect(await createTestDatabaseJobs(db)).toHaveLength(1);
    });

    it('refuses an unpartitioned table (pointing to migrate) and a nullable control column, changing nothing', async () => {
      const plain = await createTestDatabase(name);
      try {
        await plain.query(`CREATE TABLE messages (id uuid PRIMARY KEY, created_at timestamptz NOT NULL)`);
        const result = await runPartkit(['provision', '--database-url', plain.url]);
        expect(result.exitCode).toBe(4);
        expect(result.stderr).toMatch(/public\.messages is a plain table, not partitioned: run `partkit migrate`/);
        const { rows } = await plain.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('partkit', 'partman', 'partkit_archive')`);
        expect(rows[0]!.n).toBe(0);
        expect((await plain.query(`SELECT to_regclass('public.execution_logs') AS t`)).rows[0]!.t).toBeNull();

        await plain.query(`DROP TABLE messages`);
        await plain.query(`CREATE TABLE messages (id uuid, created_at timestamptz) PARTITION BY RANGE (created_at)`);
        const nullable = await runPartkit(['provision', '--database-url', plain.url]);
        expect(nullable.exitCode).toBe(4);
        expect(nullable.stderr).toMatch(/public\.messages\.created_at is nullable/);
        expect((await plain.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'partman'`)).rows[0]!.n).toBe(0);
      } finally {
        await plain.drop();
      }
    });

    it('handles a table name with mixed case, spaces and a quote, and never injects', async () => {
      const odd = await createTestDatabase(name);
      try {
        await odd.query(`CREATE TABLE "Odd ""Name"" Logs" (id bigint NOT NULL, "createdAt" timestamptz NOT NULL, PRIMARY KEY (id, "createdAt")) PARTITION BY RANGE ("createdAt")`);
        const config = writeConfig(`odd-${name}`, { tables: [{ name: 'public."Odd ""Name"" Logs"', controlColumn: 'createdAt' }] });
        const result = await runPartkit(['provision', '--json', '--config', config, '--database-url', odd.url]);
        expect(result.exitCode, result.stderr).toBe(0);
        expect(await attachedPartitions(odd, `public."Odd ""Name"" Logs"`)).toHaveLength(6);
        await odd.query(`INSERT INTO "Odd ""Name"" Logs" VALUES (1, now())`);
        const again = await runPartkit(['provision', '--json', '--config', config, '--database-url', odd.url]);
        expect(JSON.parse(again.stdout).changes).toBe(0);

        // Not a valid SQL name: refused while reading the config.
        const evil = writeConfig(`evil-${name}`, { tables: [{ name: 'public."x"; DROP TABLE "Odd ""Name"" Logs"; --' }] });
        const refused = await runPartkit(['provision', '--config', evil, '--database-url', odd.url]);
        expect(refused.exitCode).toBe(2);
        expect(refused.stderr).toMatch(/tables\[0\]\.name.*Invalid table name/);
        // A valid (quoted) name full of SQL: only ever used quoted, so it is just a table that does not exist.
        const quoted = writeConfig(`quoted-${name}`, { tables: [{ name: 'public."x""; DROP TABLE ""Odd Name Logs""; --"' }] });
        const missing = await runPartkit(['provision', '--config', quoted, '--database-url', odd.url]);
        expect(missing.exitCode).toBe(4);
        expect(missing.stderr).toMatch(/public\."x""; DROP TABLE .* does not exist/);
        expect((await odd.query(`SELECT count(*)::int AS n FROM "Odd ""Name"" Logs"`)).rows[0]!.n).toBe(1);
      } finally {
        await odd.drop();
      }
    });

    it('a non-superuser owner succeeds when an administrator created the extensions and granted their use', async () => {
      const owned = await createTestDatabase(name);
      try {
        const role = await createRole('app_owner', owned, { ownsDatabase: true });
        await owned.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman`);
        await owned.query(`GRANT USAGE, CREATE ON SCHEMA partman TO "${role.name}"; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA partman TO "${role.name}"`);
        const cronDb = { query: (sql: string) => adminInPostgres(name, sql) };
        await cronDb.query(`CREATE EXTENSION IF NOT EXISTS pg_cron`);
        await cronDb.query(`GRANT USAGE ON SCHEMA cron TO "${role.name}"; GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO "${role.name}"`);
        const result = await provisionJson(role.url);
        expect(result).toMatchObject({ strategy: 'partman', scheduler: 'pg_cron' });
        const { rows } = await owned.query(`SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'messages'`);
        expect(rows[0]!.tableowner).toBe(role.name);
        expect((await provisionJson(role.url)).changes).toBe(0);
        const jobs = await createTestDatabaseJobs(owned);
        expect(jobs).toHaveLength(1);
        const maintained = await runPartkit(['maintain', '--database-url', role.url]);
        expect(maintained.exitCode, maintained.stderr).toBe(0);
      } finally {
        await owned.drop();
      }
    });
  });
}

/** Runs each "in database D: GRANT ...; GRANT ...;" of a hint as the superuser, exactly as printed. */
async function runGrantHint(name: TargetName, hint: string): Promise<string[]> {
  const statements: string[] = [];
  for (const part of hint.matchAll(/in database ([^:\s]+): ((?:GRANT [^;]+; ?)+)/g)) {
    for (const statement of part[2]!.split(/;\s*/).filter((text) => text.startsWith('GRANT'))) {
      statements.push(statement);
      await adminQuery(name, statement, [], part[1]!);
    }
  }
  return statements;
}

for (const name of ['pg15-partman4', 'pg17-partman5'] as TargetName[]) {
  describeTarget(name, `provision as a non-superuser lacking rights on ${name}: every GRANT named, nothing half-done`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
      // What an administrator did already: pg_partman in the database with its grants, pg_cron in postgres.
      await db.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman`);
      await adminInPostgres(name, 'CREATE EXTENSION IF NOT EXISTS pg_cron');
    });
    afterAll(() => db?.drop());

    it('refuses with exit 4 naming CREATE on the database and schema, USAGE on cron and EXECUTE on schedule_in_database; doctor lists them; the printed GRANTs make it work', async () => {
      // Not the owner of the database: no CREATE on it, nor (PG 15+) on schema public.
      const role = await createRole('app_user', db);
      await db.query(`GRANT USAGE, CREATE ON SCHEMA partman TO "${role.name}"; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA partman TO "${role.name}"`);
      const q = `"${role.name}"`;

      const refused = await runPartkit(['provision', '--database-url', role.url]);
      expect(refused.exitCode, refused.stderr).toBe(4);
      const hint = /^hint: (.*)$/m.exec(refused.stderr)![1]!;
      expect(hint).toContain(`in database ${db.name}: GRANT CREATE ON DATABASE "${db.name}" TO ${q}; GRANT CREATE ON SCHEMA "public" TO ${q};`);
      expect(hint).toContain(`in database postgres: GRANT USAGE ON SCHEMA cron TO ${q}; GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO ${q};`);
      expect(refused.stderr).toMatch(/nothing was changed/);
      expect(refused.stderr).not.toMatch(/permission denied/);
      const { rows: untouched } = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname IN ('partkit', 'partkit_archive') UNION ALL SELECT relname FROM pg_class WHERE relname = 'messages'`);
      expect(untouched).toEqual([]);
      expect(await createTestDatabaseJobs(db)).toHaveLength(0);

      const doctor = await runPartkit(['doctor', '--json', '--database-url', role.url]);
      expect(doctor.exitCode, doctor.stderr).toBe(0);
      const grants = (JSON.parse(doctor.stdout) as { grants: { statement: string; has: boolean | null; database: string }[] }).grants;
      const state = Object.fromEntries(grants.map((grant) => [grant.statement, grant.has]));
      expect(state).toEqual({
        [`GRANT CREATE ON DATABASE "${db.name}" TO ${q};`]: false,
        [`GRANT CREATE ON SCHEMA "public" TO ${q};`]: false,
        [`GRANT USAGE ON SCHEMA cron TO ${q};`]: false,
        [`GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO ${q};`]: false,
        [`GRANT EXECUTE ON FUNCTION cron.alter_job(bigint,text,text,text,text,boolean) TO ${q};`]: false,
      });
      const text = await runPartkit(['doctor', '--database-url', role.url]);
      expect(text.stdout).toMatch(/rights provision needs[\s\S]*MISSING\s+USAGE on schema cron in database postgres/);

      expect(await runGrantHint(name, hint)).toHaveLength(4);
      const provisioned = await runPartkit(['provision', '--json', '--database-url', role.url]);
      expect(provisioned.exitCode, provisioned.stderr).toBe(0);
      expect(JSON.parse(provisioned.stdout)).toMatchObject({ strategy: 'partman', scheduler: 'pg_cron' });
      expect(await createTestDatabaseJobs(db)).toHaveLength(1);
      const after = JSON.parse((await runPartkit(['doctor', '--json', '--database-url', role.url])).stdout) as { grants: { statement: string; has: boolean | null }[] };
      expect(after.grants.filter((grant) => grant.has !== true).map((grant) => grant.statement)).toEqual([`GRANT EXECUTE ON FUNCTION cron.alter_job(bigint,text,text,text,text,boolean) TO ${q};`]);

      // A new schedule needs cron.alter_job (revoked from PUBLIC in pg_cron 1.4 and 1.6): named, job untouched.
      const hourly = writeConfig(`half-past-${name}`, { maintenance: { schedule: '30 * * * *' } });
      const alter = await runPartkit(['provision', '--config', hourly, '--database-url', role.url]);
      expect(alter.exitCode, alter.stderr).toBe(4);
      const alterHint = /^hint: (.*)$/m.exec(alter.stderr)![1]!;
      expect(alterHint).toContain(`in database postgres: GRANT EXECUTE ON FUNCTION cron.alter_job(bigint,text,text,text,text,boolean) TO ${q};`);
      expect((await createTestDatabaseJobs(db))[0]).toMatchObject({ schedule: '0 * * * *' });
      expect(await runGrantHint(name, alterHint)).toHaveLength(1);
      const altered = await runPartkit(['provision', '--config', hourly, '--database-url', role.url]);
      expect(altered.exitCode, altered.stderr).toBe(0);
      expect((await createTestDatabaseJobs(db))[0]).toMatchObject({ schedule: '30 * * * *', active: true });
    });

    it('verify after provision --scheduler external, by a user with no rights on schema cron, does not fail on cron.job', async () => {
      const own = await createTestDatabase(name);
      try {
        const role = await createRole('app_owner', own, { ownsDatabase: true });
        await own.query(`CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman`);
        await own.query(`GRANT USAGE, CREATE ON SCHEMA partman TO "${role.name}"; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA partman TO "${role.name}"`);
        const provisioned = await runPartkit(['provision', '--scheduler', 'external', '--database-url', role.url]);
        expect(provisioned.exitCode, provisioned.stderr).toBe(0);
        const maintained = await runPartkit(['maintain', '--database-url', role.url]);
        expect(maintained.exitCode, maintained.stderr).toBe(0);
        const verified = await runPartkit(['verify', '--json', '--database-url', role.url]);
        expect(verified.exitCode, verified.stdout).toBe(0);
        const checks = (JSON.parse(verified.stdout) as { checks: { check: string; ok: boolean; detail: string }[] }).checks;
        // The scheduler provision recorded (external) is the one expected: maintenance is judged by the
        // age of its last run, and cron.job is not read at all.
        expect(checks.find((check) => check.check === 'settings')?.detail).toMatch(/^scheduler external, /);
        expect(checks.find((check) => check.check === 'maintenance-age')?.detail).toMatch(/^the last maintenance finished \d+s ago/);
        expect(checks.some((check) => check.check === 'maintenance-job')).toBe(false);
        // Asked to check the pg_cron job, it fails with the GRANT to run instead of a raw error.
        const asked = await runPartkit(['verify', '--scheduler', 'pg_cron', '--json', '--database-url', role.url]);
        expect(asked.exitCode).toBe(1);
        expect(asked.stdout).toContain(`GRANT USAGE ON SCHEMA cron TO \\"${role.name}\\";`);
      } finally {
        await own.drop();
      }
    });
  });
}

describeTarget('pg15-nocron', 'provision without pg_cron preloaded', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pg15-nocron');
  });
  afterAll(() => db?.drop());

  it('succeeds with scheduler external and says how to run maintenance', async () => {
    const result = await runPartkit(['provision', '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/scheduler external/);
    expect(result.stdout).toMatch(/no pg_cron here; run `partkit maintain` from an external scheduler/);
    expect(result.stdout).toMatch(/\* \* \* \*\s+DATABASE_URL=.* partkit maintain/);
    const json = await provisionJson(db.url);
    expect(json).toMatchObject({ strategy: 'partman', scheduler: 'external', changes: 0 });
    expect((await db.query(`SELECT count(*)::int AS n FROM partman.part_config`)).rows[0]!.n).toBe(4);
  });
});

describeTarget('pg17-partman5', 'provision --scheduler external on a server with pg_cron', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5');
  });
  afterAll(() => db?.drop());

  it('schedules no job and says to run partkit maintain; asking for pg_cron where it is not preloaded fails with exit 4', async () => {
    const json = await provisionJson(db.url, ['--scheduler', 'external']);
    expect(json).toMatchObject({ strategy: 'partman', scheduler: 'external' });
    expect(json.schedule.externalCommand).toMatch(/partkit maintain/);
    expect(await createTestDatabaseJobs(db)).toHaveLength(0);
    const nocron = await createTestDatabase('pg15-nocron');
    try {
      const refused = await runPartkit(['provision', '--scheduler', 'pg_cron', '--database-url', nocron.url]);
      expect(refused.exitCode).toBe(4);
      expect(refused.stderr).toMatch(/Scheduler pg_cron was requested, but pg_cron is not preloaded/);
      expect((await nocron.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('partkit', 'partman')`)).rows[0]!.n).toBe(0);
    } finally {
      await nocron.drop();
    }
  });
});


async function adminInPostgres(name: TargetName, sql: string) {
  for (const statement of sql.split(';').map((s) => s.trim()).filter(Boolean)) await adminQuery(name, statement);
}

/** The pg_cron jobs (in database postgres) that target this test database. */
async function createTestDatabaseJobs(db: TestDatabase) {
  const { rows } = await adminQuery(db.target, `SELECT jobname, database, active, schedule, command FROM cron.job WHERE database = $1 ORDER BY jobid`, [db.name]);
  return rows;
}
