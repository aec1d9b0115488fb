/**
 * Changes to a provisioned setup are planned and applied as a whole, or refused before any change
 * with what to run; every right is checked before the first change. On pg_partman 5 (pg17) and the
 * fallback (bare18): a new time zone for months bounded in the old one is refused; new retention
 * and premake apply in one go; a table removed from the config is refused with deprovision; moving
 * to an external scheduler unschedules the job; a table without the primary key the design needs is
 * refused with the fix; --table on provision, verify and status; and the preflight, as a
 * non-superuser: an owner without rights on pg_partman's schema, and a user who may not read or
 * maintain what another provisioned.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { catalogSnapshot } from './helpers/catalog.js';
import { configFiles, count, partkit } from './helpers/cli.js';
import { adminQuery, createRole, createTestDatabase, describeTarget, type TargetName, type TestDatabase } from './helpers/targets.js';

const files = configFiles('provision-changes');
const base = { tables: [{ name: 'public.messages', retention: '3 months' }] };
const config = files.write('base', base);

function suite(name: TargetName): void {
  describeTarget(name, `changes to a provisioned setup on ${name}`, () => {
    let db: TestDatabase;
    const managed = async () => (await db.query('SELECT premake, retention::text, time_zone FROM partkit.managed_table ORDER BY parent_table')).rows;
    beforeAll(async () => {
      db = await createTestDatabase(name, { kit: true });
      await partkit(db, ['provision', '--scheduler', 'external'], { config });
    });
    afterAll(() => db?.drop());

    it('a new time zone for months bounded in the old one is refused before any change, with the zone to keep', async () => {
      const before = await catalogSnapshot(db);
      const registered = await managed();
      const zoned = files.write(`zoned-${name}`, { tables: [{ name: 'public.messages', retention: '3 months', timeZone: 'America/New_York' }] });
      const refused = await partkit(db, ['provision', '--scheduler', 'external'], { config: zoned, expectedExit: 2 });
      expect(refused.stderr).toMatch(/field "tables\[0\]\.timeZone": public\.messages was provisioned in UTC/);
      expect(refused.stderr).toMatch(/^hint: Nothing was changed\. Set "timeZone": "UTC" for public\.messages/m);
      expect(await catalogSnapshot(db)).toEqual(before);
      expect(await managed()).toEqual(registered);
    });

    it('new retention and premake, and a table added, are applied as a whole: verify passes, a second run changes nothing', async () => {
      const changed = files.write(`changed-${name}`, { tables: [{ name: 'public.messages', retention: '6 months', premake: 6 }, { name: 'public.api_key_logs', retention: '3 months' }] });
      await partkit(db, ['provision', '--scheduler', 'external'], { config: changed });
      expect(await managed()).toEqual([
        { premake: 4, retention: '3 mons', time_zone: 'UTC' },
        { premake: 6, retention: '6 mons', time_zone: 'UTC' },
      ]);
      if (name === 'pg17-partman5') {
        expect((await db.query(`SELECT parent_table, premake, retention::interval::text AS retention FROM partman.part_config ORDER BY 1`)).rows).toEqual([
          { parent_table: 'public.api_key_logs', premake: 4, retention: '3 mons' },
          { parent_table: 'public.messages', premake: 6, retention: '6 mons' },
        ]);
      }
      await partkit(db, ['verify', '--scheduler', 'external'], { config: changed });
      const again = await partkit(db, ['provision', '--scheduler', 'external', '--json'], { config: changed });
      expect(again.json).toMatchObject({ changes: 0 });
    });

    it('a table without the primary key the design needs is refused at provision, with the fix', async () => {
      await db.query(`CREATE TABLE public.keyless (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at)`);
      const before = await catalogSnapshot(db);
      const keyless = files.write(`keyless-${name}`, { tables: [...base.tables, { name: 'public.keyless' }] });
      const refused = await partkit(db, ['provision', '--scheduler', 'external'], { config: keyless, expectedExit: 4 });
      expect(refused.stderr).toMatch(/public\.keyless has no primary key: add one that includes created_at, e\.g\. ALTER TABLE "public"\."keyless" ADD PRIMARY KEY \(id, "created_at"\)/);
      expect(await catalogSnapshot(db)).toEqual(before);
      await db.query('DROP TABLE public.keyless');
    });

    it('a registered table the config no longer lists is refused with deprovision; --table provisions, verifies and shows one table', async () => {
      await db.query(`CREATE TABLE public.legacy (id bigint PRIMARY KEY, created_at timestamptz NOT NULL)`);
      const withLegacy = files.write(`legacy-${name}`, { tables: [{ name: 'public.usage_records' }, { name: 'public.legacy' }] });
      // public.messages and public.api_key_logs are registered but not listed; public.legacy is still a plain table.
      const before = await catalogSnapshot(db);
      const removed = await partkit(db, ['provision', '--scheduler', 'external'], { config: withLegacy, expectedExit: 4 });
      expect(removed.stderr).toMatch(/public\.legacy is a plain table, not partitioned/);
      const only = await partkit(db, ['provision', '--scheduler', 'external', '--table', 'public.legacy'], { config: withLegacy, expectedExit: 4 });
      expect(only.stderr).toMatch(/partkit migrate prep public\.legacy/);
      expect(await catalogSnapshot(db)).toEqual(before);
      const usage = files.write(`usage-${name}`, { tables: [{ name: 'public.usage_records' }] });
      const conflict = await partkit(db, ['provision', '--scheduler', 'external'], { config: usage, expectedExit: 5 });
      expect(conflict.stderr).toMatch(/has public\.api_key_logs, public\.messages, which the config .* no longer lists/);
      expect(conflict.stderr).toMatch(/^hint: partkit deprovision --table public\.api_key_logs; partkit deprovision --table public\.messages /m);
      expect(await catalogSnapshot(db)).toEqual(before);
      // --table: the one table, while the other stays plain.
      await partkit(db, ['provision', '--scheduler', 'external', '--table', 'public.usage_records'], { config: withLegacy });
      await partkit(db, ['verify', '--scheduler', 'external', '--table', 'public.usage_records'], { config: withLegacy });
      const shown = await partkit(db, ['status', '--table', 'public.usage_records', '--json'], { config: withLegacy });
      expect((shown.json as unknown as { tables: { table: string }[] }).tables.map((table) => table.table)).toEqual(['public.usage_records']);
      const typo = await partkit(db, ['verify', '--table', 'public.usage_record'], { config: withLegacy, expectedExit: 2 });
      expect(typo.stderr).toMatch(/^hint: partkit verify --table public\.usage_records$/m);
    });
  });
}

suite('bare18');
suite('pg17-partman5');

describeTarget('pg17-partman5', 'moving from pg_cron to an external scheduler unschedules the job in the same plan', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5', { kit: true });
    await partkit(db, ['provision', '--scheduler', 'pg_cron'], { config });
  });
  afterAll(() => db?.drop());

  it('provision --scheduler external removes the job; verify with the external scheduler passes', async () => {
    const jobs = async () => Number((await adminQuery<{ n: string }>('pg17-partman5', 'SELECT count(*) AS n FROM cron.job WHERE database = $1', [db.name])).rows[0]!.n);
    expect(await jobs()).toBe(1);
    const moved = await partkit(db, ['provision', '--scheduler', 'external', '--json'], { config });
    expect((moved.json as unknown as { steps: string[] }).steps.join('\n')).toMatch(/unschedule pg_cron job/);
    expect(await jobs()).toBe(0);
    await partkit(db, ['maintain'], { config });
    await partkit(db, ['verify', '--scheduler', 'external'], { config });
  });
});

describeTarget('pg17-partman5', 'preflight on pg_partman: an owner without rights on its schema is told every GRANT, and nothing changes', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5');
    await db.query('CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman');
  });
  afterAll(() => db?.drop());

  it('exit 4 with USAGE, CREATE on partman and DML on its tables named; after them, provision works', async () => {
    const owner = await createRole('app_owner', db, { ownsDatabase: true });
    const before = await catalogSnapshot(db);
    const refused = await partkit(owner.url, ['provision', '--scheduler', 'external'], { config, expectedExit: 4 });
    expect(refused.stderr).toMatch(/nothing was changed/);
    expect(refused.stderr).toContain(`GRANT USAGE, CREATE ON SCHEMA "partman" TO "${owner.name}";`);
    expect(refused.stderr).toContain(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "partman" TO "${owner.name}";`);
    expect(await catalogSnapshot(db)).toEqual(before);
    await db.query(`GRANT USAGE, CREATE ON SCHEMA partman TO "${owner.name}"; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA partman TO "${owner.name}"`);
    await partkit(owner.url, ['provision', '--scheduler', 'external'], { config });
    await partkit(owner.url, ['maintain'], { config });
    await partkit(owner.url, ['verify', '--scheduler', 'external'], { config });
  });
});

describeTarget('bare18', 'preflight on the fallback: a user who did not provision is told the GRANTs verify and maintain need', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18', { kit: true });
    await partkit(db, ['provision', '--scheduler', 'external'], { config });
  });
  afterAll(() => db?.drop());

  it('verify and maintain exit 4 naming each GRANT and change nothing; with them granted both pass', async () => {
    const other = await createRole('reporter', db);
    const before = await catalogSnapshot(db);
    const verify = await partkit(other.url, ['verify', '--scheduler', 'external'], { config, expectedExit: 4 });
    expect(verify.stderr).toContain(`GRANT USAGE ON SCHEMA "partkit" TO "${other.name}"; GRANT SELECT ON ALL TABLES IN SCHEMA "partkit" TO "${other.name}";`);
    const maintain = await partkit(other.url, ['maintain'], { config, expectedExit: 4 });
    expect(maintain.stderr).toMatch(/membership in role \S+, which owns public\.messages/);
    expect(maintain.stderr).toContain(`GRANT CREATE ON SCHEMA "partkit_archive" TO "${other.name}";`);
    expect(await catalogSnapshot(db)).toEqual(before);
    expect(await count(db, 'SELECT count(*) FROM partkit.maintenance_run')).toBe(0);
    // The statements as printed, run by an administrator.
    const hint = /^hint: An administrator must run, in database \S+: (.*) Then run partkit maintain again/m.exec(maintain.stderr)![1]!;
    await db.query(hint);
    await partkit(other.url, ['maintain'], { config });
    await partkit(other.url, ['verify', '--scheduler', 'external'], { config });
  });
});

describeTarget('bare18', 'preflight of provision on the fallback, as a non-superuser: every right named before the first change', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
  });
  afterAll(() => db?.drop());

  it('a user without CREATE on the database and schema public: exit 4 naming both GRANTs, nothing changed; after them, provision, maintain and verify work', async () => {
    const user = await createRole('app_user', db);
    const before = await catalogSnapshot(db);
    const refused = await partkit(user.url, ['provision', '--scheduler', 'external'], { config, expectedExit: 4 });
    expect(refused.stderr).toMatch(/lacks rights that provision needs \(nothing was changed\)/);
    expect(refused.stderr).toContain(`GRANT CREATE ON DATABASE "${db.name}" TO "${user.name}"; GRANT CREATE ON SCHEMA "public" TO "${user.name}";`);
    expect(refused.stderr).not.toMatch(/permission denied/);
    expect(await catalogSnapshot(db)).toEqual(before);
    const hint = /^hint: An administrator must run, in database \S+: (.*) Then run partkit provision again/m.exec(refused.stderr)![1]!;
    await db.query(hint);
    await partkit(user.url, ['provision', '--scheduler', 'external'], { config });
    await partkit(user.url, ['maintain'], { config });
    await partkit(user.url, ['verify', '--scheduler', 'external'], { config });
  });
});

describeTarget('bare18', 'preflight of provision on the fallback: a table another role owns', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
  });
  afterAll(() => db?.drop());

  it('a table another role owns: exit 4 naming the membership and CREATE on its schema (its months and index go there), nothing changed; after them, provision works', async () => {
    const user = await createRole('ops_user', db);
    await db.query(`GRANT CREATE ON DATABASE "${db.name}" TO "${user.name}"`);
    await db.query(`CREATE TABLE public.usage_records (id uuid NOT NULL DEFAULT gen_random_uuid(), created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
    const owned = files.write('owned', { tables: [{ name: 'public.usage_records', retention: '3 months' }] });
    const admin = (await db.query<{ name: string }>('SELECT current_user AS name')).rows[0]!.name;
    const before = await catalogSnapshot(db);
    const refused = await partkit(user.url, ['provision', '--scheduler', 'external'], { config: owned, expectedExit: 4 });
    expect(refused.stderr).toContain(`membership in role ${admin}, which owns public.usage_records`);
    expect(refused.stderr).toContain(`GRANT CREATE ON SCHEMA "public" TO "${user.name}"; GRANT "${admin}" TO "${user.name}";`);
    expect(refused.stderr).not.toMatch(/permission denied|must be owner/);
    expect(await catalogSnapshot(db)).toEqual(before);
    // The other way the message gives: make the user its owner.
    await db.query(`ALTER TABLE public.usage_records OWNER TO "${user.name}"; GRANT CREATE ON SCHEMA public TO "${user.name}"`);
    await partkit(user.url, ['provision', '--scheduler', 'external'], { config: owned });
    expect(await count(db, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.usage_records'::regclass`)).toBeGreaterThan(1);
  });
});
