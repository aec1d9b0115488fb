import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachedPartitions, cleanEnv, createTestDatabase, describeTarget, REPO_DIR, runPartkit, type TestDatabase } from './helpers/targets.js';
import { monthOf } from './helpers/clock.js';

const SCRIPT = path.join(REPO_DIR, 'docker', 'scripts', 'create_partition.sh');

/** docker/scripts/create_partition.sh with the built CLI. */
function script(args: string[], env: Record<string, string> = {}) {
  return execa(SCRIPT, args, { env: cleanEnv({ PARTKIT_BIN: `${process.execPath} ${path.join(REPO_DIR, 'dist', 'cli.js')}`, ...env }), extendEnv: false, reject: false, timeout: 60_000 });
}

interface CreateJson {
  table: string;
  strategy: 'partman' | 'plpgsql';
  created: string[];
  skipped: string[];
  changes: number;
}

function monthsBetween(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => monthOf(from + i).key);
}

async function create(db: TestDatabase, table: string, args: string[]) {
  return runPartkit(['partition', 'create', table, '--database-url', db.url, ...args]);
}

async function createJson(db: TestDatabase, table: string, args: string[]): Promise<CreateJson> {
  const result = await create(db, table, ['--json', ...args]);
  if (result.exitCode !== 0) throw new Error(`partition create failed (${result.exitCode}): ${result.stderr}`);
  return JSON.parse(result.stdout) as CreateJson;
}

/** Every relation in the database with its kind: what "nothing changed" is checked against. */
async function catalogSnapshot(db: TestDatabase) {
  const { rows } = await db.query(`SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2`);
  return rows;
}

function boundOf(key: string): string {
  const [y, m] = key.split('-').map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  return `FOR VALUES FROM ('${key}-01 00:00:00+00') TO ('${next}-01 00:00:00+00')`;
}

function setup(name: 'bare18' | 'pg17-partman5') {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(name, { kit: true });
    await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
    const provisioned = await runPartkit(['provision', '--json', '--database-url', db.url]);
    if (provisioned.exitCode !== 0) throw new Error(`provision failed: ${provisioned.stderr}`);
  });
  afterAll(() => db?.drop());
  return () => db;
}

describeTarget('bare18', 'partition create with the plpgsql strategy (bare18)', () => {
  const db = setup('bare18');

  it('creates a range of past months, and a second run changes nothing', async () => {
    const first = await createJson(db(), 'public.messages', ['--from', monthOf(-6).key, '--to', monthOf(-1).key]);
    expect(first).toMatchObject({ table: 'public.messages', strategy: 'plpgsql', created: monthsBetween(-6, -1), skipped: [] });
    const kids = await attachedPartitions(db(), 'public.messages');
    for (const key of monthsBetween(-6, -1)) {
      expect(kids).toContainEqual(expect.objectContaining({ name: `messages_y${key.replace('-', 'm')}`, bound: boundOf(key) }));
    }
    const again = await createJson(db(), 'public.messages', ['--from', monthOf(-6).key, '--to', monthOf(-1).key]);
    expect(again).toMatchObject({ created: [], skipped: monthsBetween(-6, -1), changes: 0 });
    expect(await attachedPartitions(db(), 'public.messages')).toEqual(kids);
  });

  it('skips the months provision made and creates only the missing ones', async () => {
    const result = await createJson(db(), 'messages', ['--from', monthOf(-7).key, '--to', monthOf(1).key]);
    expect(result.created).toEqual([monthOf(-7).key]);
    expect(result.skipped).toEqual(monthsBetween(-6, 1));
  });

  it('moves rows waiting in the default partition into the new month', async () => {
    const key = monthOf(-20).key;
    await db().query(`INSERT INTO public.execution_logs (execution_id, message, created_at) VALUES (gen_random_uuid(), 'old', $1)`, [`${key}-15 12:00:00+00`]);
    const result = await createJson(db(), 'public.execution_logs', ['--month', key]);
    expect(result.created).toEqual([key]);
    const { rows } = await db().query(`SELECT tableoid::regclass::text AS part FROM public.execution_logs WHERE message = 'old'`);
    expect(rows).toEqual([{ part: `execution_logs_y${key.replace('-', 'm')}` }]);
  });

  it('--dry-run prints the plan and creates nothing', async () => {
    const before = await catalogSnapshot(db());
    const result = await create(db(), 'public.usage_records', ['--month', monthOf(-30).key, '--dry-run']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('"partkit".create_monthly_partition(');
    expect(result.stdout).toContain(`'"public"."usage_records"', ${Number(monthOf(-30).key.slice(0, 4))}, ${Number(monthOf(-30).key.slice(5))}`);
    expect(await catalogSnapshot(db())).toEqual(before);
  });

  it('works with a mixed-case, quoted table name', async () => {
    await db().query(`CREATE TABLE public."Odd ""Name"" Logs" (id bigint NOT NULL, "createdAt" timestamptz NOT NULL) PARTITION BY RANGE ("createdAt")`);
    const table = 'public."Odd ""Name"" Logs"';
    const first = await createJson(db(), table, ['--from', '2026-01', '--to', '2026-03']);
    expect(first).toMatchObject({ table, strategy: 'plpgsql', created: ['2026-01', '2026-02', '2026-03'], skipped: [] });
    expect((await attachedPartitions(db(), '"Odd ""Name"" Logs"')).map(({ name, bound }) => ({ name, bound }))).toEqual([
      { name: 'Odd "Name" Logs_y2026m01', bound: boundOf('2026-01') },
      { name: 'Odd "Name" Logs_y2026m02', bound: boundOf('2026-02') },
      { name: 'Odd "Name" Logs_y2026m03', bound: boundOf('2026-03') },
    ]);
    const again = await createJson(db(), '"Odd ""Name"" Logs"', ['--from', '2026-01', '--to', '2026-03']);
    expect(again).toMatchObject({ created: [], changes: 0 });
  });

  it('rejects malicious names and changes nothing', async () => {
    const before = await catalogSnapshot(db());
    for (const name of ['x; DROP TABLE y', 'public.messages; DROP TABLE public.messages', "messages' OR '1'='1", 'public.messages--', 'a.b.c']) {
      const result = await create(db(), name, ['--month', '2026-01']);
      expect(result.exitCode, name).toBe(2);
      expect(result.stderr).toMatch(/Invalid table name/);
    }
    // A valid quoted identifier that spells SQL is just a name that does not exist.
    const quoted = await create(db(), '"messages; DROP TABLE public.api_key_logs"', ['--month', '2026-01']);
    expect(quoted.exitCode).toBe(4);
    expect(quoted.stderr).toMatch(/does not exist/);
    expect(await catalogSnapshot(db())).toEqual(before);
  });

  it('refuses bad arguments with exit 2 before changing anything', async () => {
    const before = await catalogSnapshot(db());
    const cases: [string[], RegExp][] = [
      [['--month', '2026-13'], /not a month/],
      [['--month', '26-01'], /not a month/],
      [['--month', '2026-1'], /not a month/],
      [['--from', '2026-05', '--to', '2026-01'], /after --to/],
      [['--from', '2000-01', '--to', '2026-01'], /at most 120/],
      [['--from', '2026-01'], /Say which months/],
      [[], /Say which months/],
      [['--month', '2026-01', '--from', '2026-01', '--to', '2026-02'], /not both/],
    ];
    for (const [args, message] of cases) {
      const result = await create(db(), 'public.messages', args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    const json = await create(db(), 'public.messages', ['--json', '--month', 'soon']);
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { exitCode: 2 } });
    expect(await catalogSnapshot(db())).toEqual(before);
  });

  it('refuses tables that are missing or not partitioned with exit 4', async () => {
    await db().query('CREATE TABLE public.plain (id int, created_at timestamptz NOT NULL)');
    const plain = await create(db(), 'public.plain', ['--month', '2026-01']);
    expect(plain.exitCode).toBe(4);
    expect(plain.stderr).toMatch(/not a partitioned table/);
    const missing = await create(db(), 'nosuch.messages', ['--month', '2026-01']);
    expect(missing.exitCode).toBe(4);
  });

  it('docker/scripts/create_partition.sh creates next month by default, a given month, and passes exit codes on', async () => {
    const env = { DATABASE_URL: db().url };
    const given = await script(['public.api_key_logs', monthOf(-4).key], env);
    expect(given.exitCode, given.stderr).toBe(0);
    expect(given.stdout).toContain(`created: ${monthOf(-4).key}`);
    const next = await script(['public.api_key_logs'], env);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stdout).toContain(`already there: ${monthOf(1).key}`);
    expect((await script([], env)).exitCode).toBe(2);
    // --help: the usage on stdout, exit 0, nothing run.
    const help = await script(['--help'], env);
    expect(help.exitCode, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: create_partition\.sh <table> \[YYYY-MM\]\n/);
    expect(help.stderr).toBe('');
    const badMonth = await script(['public.api_key_logs', '2026-13'], env);
    expect(badMonth.exitCode).toBe(2);
    expect(badMonth.stderr).toMatch(/usage: create_partition\.sh <table> \[YYYY-MM\]/);
    expect((await script(['x; DROP TABLE y'], env)).exitCode).toBe(2);
    expect((await script(['public.nosuch'], env)).exitCode).toBe(4);
  });

  it('refuses a month that another partition overlaps, naming it', async () => {
    await db().query(`CREATE TABLE public.yearly (id int, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at)`);
    await db().query(`CREATE TABLE public.yearly_2020 PARTITION OF public.yearly FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2021-01-01 00:00:00+00')`);
    const result = await create(db(), 'public.yearly', ['--from', '2019-12', '--to', '2020-02']);
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toMatch(/2020-01 overlaps public\.yearly_2020/);
    expect(await attachedPartitions(db(), 'public.yearly')).toHaveLength(1);
  });
});

describeTarget('pg17-partman5', 'partition create with pg_partman 5 (pg17-partman5)', () => {
  const db = setup('pg17-partman5');

  it('creates past months through create_partition_time, and a second run changes nothing', async () => {
    const first = await createJson(db(), 'public.messages', ['--from', monthOf(-6).key, '--to', monthOf(-1).key]);
    expect(first).toMatchObject({ table: 'public.messages', strategy: 'partman', created: monthsBetween(-6, -1), skipped: [] });
    const kids = await attachedPartitions(db(), 'public.messages');
    for (const key of monthsBetween(-6, -1)) {
      expect(kids).toContainEqual(expect.objectContaining({ name: `messages_p${key.replace('-', '')}01`, bound: boundOf(key) }));
    }
    const again = await createJson(db(), 'public.messages', ['--from', monthOf(-6).key, '--to', monthOf(-1).key]);
    expect(again).toMatchObject({ created: [], skipped: monthsBetween(-6, -1), changes: 0 });
    expect(await attachedPartitions(db(), 'public.messages')).toEqual(kids);
  });

  it('--dry-run shows the named-argument call in the table zone', async () => {
    const result = await create(db(), 'public.api_key_logs', ['--month', monthOf(-3).key, '--dry-run']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`SET LOCAL TimeZone = 'UTC';`);
    expect(result.stdout).toContain(`"partman".create_partition_time(p_parent_table := 'public.api_key_logs', p_partition_times := ARRAY['${monthOf(-3).key}-01 00:00:00']::timestamptz[])`);
    expect((await attachedPartitions(db(), 'public.api_key_logs')).map((k) => k.name)).not.toContain(`api_key_logs_p${monthOf(-3).key.replace('-', '')}01`);
  });

  it('refuses months whose rows wait in the default partition, and changes nothing', async () => {
    const key = monthOf(-9).key;
    await db().query(`INSERT INTO public.usage_records (organization_id, resource_type, quantity, created_at) VALUES (gen_random_uuid(), 'tokens', 1, $1)`, [`${key}-10 00:00:00+00`]);
    const before = await catalogSnapshot(db());
    const result = await create(db(), 'public.usage_records', ['--from', monthOf(-10).key, '--to', monthOf(-8).key]);
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toContain(`holds rows of ${key}`);
    expect(result.stderr).toMatch(/partkit maintain/);
    expect(await catalogSnapshot(db())).toEqual(before);
  });

  it('rejects malicious names and bad arguments', async () => {
    const before = await catalogSnapshot(db());
    expect((await create(db(), 'x; DROP TABLE y', ['--month', '2026-01'])).exitCode).toBe(2);
    expect((await create(db(), 'public.messages', ['--month', '2026-00'])).exitCode).toBe(2);
    expect((await create(db(), 'public.nosuch', ['--month', '2026-01'])).exitCode).toBe(4);
    expect(await catalogSnapshot(db())).toEqual(before);
  });
});

for (const name of ['pg15-partman4', 'pg17-partman5'] as const) {
  describeTarget(name, `partition create refuses a pg_partman set that is not exactly monthly (${name})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
      await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
      await db.query(`CREATE SCHEMA partman`);
      await db.query(`CREATE EXTENSION pg_partman SCHEMA partman`);
      const version = (await db.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'pg_partman'`)).rows[0]!.v;
      // Registered by hand, as a user would; pg_partman 4 and 5 order the arguments differently.
      const register = (table: string, interval: string) =>
        version.startsWith('4.')
          ? db.query(`SELECT partman.create_parent(p_parent_table := $1, p_control := 'created_at', p_type := 'native', p_interval := $2, p_premake := 2)`, [table, interval])
          : db.query(`SELECT partman.create_parent(p_parent_table := $1, p_control := 'created_at', p_interval := $2, p_premake := 2)`, [table, interval]);
      for (const [table, interval] of [['thirty_day_logs', '30 days'], ['monthly_logs', '1 month']] as const) {
        await db.query(`CREATE TABLE public.${table} (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at)`);
        await register(`public.${table}`, interval);
      }
    });
    afterAll(() => db?.drop());

    it("a set registered with interval '30 days' gives exit 4 and changes nothing", async () => {
      const before = await catalogSnapshot(db);
      const result = await create(db, 'public.thirty_day_logs', ['--month', '2020-01']);
      expect(result.exitCode, result.stderr).toBe(4);
      expect(result.stderr).toMatch(/public\.thirty_day_logs is registered with pg_partman with partition interval "30 days", not exactly 1 month/);
      expect(await catalogSnapshot(db)).toEqual(before);
    });

    it("a set registered with interval '1 month' is accepted", async () => {
      const created = await createJson(db, 'public.monthly_logs', ['--month', '2020-01']);
      expect(created).toMatchObject({ strategy: 'partman', created: ['2020-01'] });
    });
  });
}
