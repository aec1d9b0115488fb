/**
 * Settings live in the database: provision records what it applied (each table's strategy,
 * premake, retention, time zone in partkit.managed_table; the scheduler, its schedule and job in
 * partkit.maintenance_schedule), and verify, status, doctor and provision read them there. So on
 * a machine without the config file and without provision's flags, everything agrees with what
 * was provisioned; a config or flag that differs is a failure for verify (naming the setting, both
 * values and the command) and a planned change for provision, never a silent reset.
 *
 * On pg15-partman4, where pg_partman is available and pg_cron preloaded: exactly the server on which
 * a forgotten `--scheduler external` or `--strategy plpgsql` would be guessed back to pg_cron/partman.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configFiles, partkit, type ProvisionJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, describeTarget, type TestDatabase } from './helpers/targets.js';

const ODD_SQL = 'public."Odd ""Name"" Logs"';
const MESSAGES = 'public.messages';

interface CheckJson {
  readonly table: string | null;
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly warning?: true;
}

describeTarget('pg15-partman4', 'settings recorded by provision, read back without the config', () => {
  let db: TestDatabase;
  const files = configFiles('settings');
  const provisioned = files.write('provisioned', {
    strategy: 'plpgsql',
    maintenance: { schedule: '*/30 * * * *' },
    defaults: { premake: 6, timeZone: 'Asia/Shanghai' },
    tables: [{ name: MESSAGES }, { name: ODD_SQL, retention: '24 months' }],
  });
  const otherPremake = files.write('other-premake', {
    strategy: 'plpgsql',
    maintenance: { schedule: '*/30 * * * *' },
    defaults: { premake: 5, timeZone: 'Asia/Shanghai' },
    tables: [{ name: MESSAGES }, { name: ODD_SQL, retention: '24 months' }],
  });
  const otherSchedule = files.write('other-schedule', {
    strategy: 'plpgsql',
    defaults: { premake: 6, timeZone: 'Asia/Shanghai' },
    tables: [{ name: MESSAGES }, { name: ODD_SQL, retention: '24 months' }],
  });

  /** `partkit verify --json`, without --config unless given; returns the checks by "table/check". */
  async function verify(args: readonly string[] = [], expectedExit = 0): Promise<Map<string, CheckJson>> {
    const result = await partkit(db, ['verify', '--json', ...args], { expectedExit });
    const checks = (result.json as unknown as { checks: CheckJson[] }).checks;
    return new Map(checks.map((check) => [`${check.table ?? '(database)'}/${check.check}`, check]));
  }

  beforeAll(async () => {
    db = await createTestDatabase('pg15-partman4', { kit: true });
    await db.query(`CREATE TABLE ${ODD_SQL} (id bigint, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
    const first = (await partkit(db, ['provision', '--json', '--scheduler', 'external'], { config: provisioned })).json as unknown as ProvisionJson;
    expect(first).toMatchObject({ strategy: 'plpgsql', scheduler: 'external' });
    expect(first.steps).toContain('record scheduler external, schedule "*/30 * * * *" in partkit.maintenance_schedule');
  });
  afterAll(() => db?.drop());

  it('records the scheduler, its schedule and the tables settings in the database', async () => {
    const { rows: schedule } = await db.query('SELECT scheduler, schedule, job_name FROM partkit.maintenance_schedule');
    expect(schedule).toEqual([{ scheduler: 'external', schedule: '*/30 * * * *', job_name: null }]);
    const { rows: tables } = await db.query(`SELECT parent_table, strategy, premake, retention::text AS retention, time_zone FROM partkit.managed_table ORDER BY parent_table COLLATE "C"`);
    expect(tables).toEqual([
      { parent_table: 'Odd "Name" Logs', strategy: 'plpgsql', premake: 6, retention: '2 years', time_zone: 'Asia/Shanghai' },
      { parent_table: 'messages', strategy: 'plpgsql', premake: 6, retention: '1 year', time_zone: 'Asia/Shanghai' },
    ]);
  });

  it('verify passes with neither the config nor --scheduler: it reads the settings from the database', async () => {
    const checks = await verify();
    expect(checks.get('(database)/settings')).toMatchObject({ ok: true });
    expect(checks.get('(database)/settings')!.detail).toMatch(/^scheduler external, schedule "\*\/30 \* \* \* \*", as provision recorded them at .*; read from the database \(no config file\)$/);
    // The external scheduler is judged by the age of the last run, against the recorded schedule.
    expect(checks.has('(database)/maintenance-job')).toBe(false);
    expect(checks.get('(database)/maintenance-age')!.detail).toMatch(/schedule "\*\/30 \* \* \* \*"/);
    // The registered tables with their recorded settings, not the built-in default's four.
    expect([...new Set([...checks.values()].map((check) => check.table).filter((table) => table !== null))]).toEqual([ODD_SQL, MESSAGES]);
    expect(checks.get(`${MESSAGES}/registration`)!.detail).toMatch(/premake 6, retention 12 months into partkit_archive, Asia\/Shanghai/);
    expect(checks.get(`${MESSAGES}/coverage`)!.detail).toMatch(/current \+ premake 6/);
  });

  it('status and doctor report the recorded scheduler, strategy and settings', async () => {
    const status = (await partkit(db, ['status', '--json'])).json as unknown as { maintenance: { scheduler: string; externalCommand: string }; tables: { table: string; strategy: string; premake: number; timeZone: string }[] };
    expect(status.maintenance.scheduler).toBe('external');
    expect(status.maintenance.externalCommand).toMatch(/^\*\/30 \* \* \* \* /);
    expect(status.tables.map(({ table, strategy, premake, timeZone }) => ({ table, strategy, premake, timeZone }))).toEqual([
      { table: ODD_SQL, strategy: 'plpgsql', premake: 6, timeZone: 'Asia/Shanghai' },
      { table: MESSAGES, strategy: 'plpgsql', premake: 6, timeZone: 'Asia/Shanghai' },
    ]);
    const doctor = (await partkit(db, ['doctor', '--json'])).json as unknown as { strategy: string; scheduler: string; reasons: string[]; settings: { from: string; recorded: { scheduler: string } } };
    expect(doctor).toMatchObject({ strategy: 'plpgsql', scheduler: 'external', settings: { from: 'database', recorded: { scheduler: 'external' } } });
    expect(doctor.reasons).toContain('strategy plpgsql is kept as provision recorded it in partkit.managed_table (--strategy changes it)');
    expect(doctor.reasons).toContain('the external scheduler recorded in partkit.maintenance_schedule is kept (--scheduler changes it): run `partkit maintain` from it');
  });

  it('provision without the config and flags changes nothing: no silent reset to pg_partman, pg_cron or the defaults', async () => {
    const again = (await partkit(db, ['provision', '--json'])).json as unknown as ProvisionJson;
    expect(again).toMatchObject({ strategy: 'plpgsql', scheduler: 'external', changes: 0 });
    const { rows: jobs } = await db.query(`SELECT 1 FROM partkit.maintenance_schedule WHERE scheduler = 'external'`);
    expect(jobs).toHaveLength(1);
  });

  it('a config that differs fails verify, naming the setting, both values and the command', async () => {
    const premake = await verify(['--config', otherPremake], 1);
    for (const table of [ODD_SQL, MESSAGES]) {
      expect(premake.get(`${table}/registration`)).toMatchObject({
        ok: false,
        detail: `defaults.premake: the config says 5, partkit.managed_table records 6: run \`partkit provision --config ${otherPremake}\` to apply the config, or change the config to match the database`,
      });
    }
    const schedule = await verify(['--config', otherSchedule], 1);
    expect(schedule.get('(database)/settings')).toMatchObject({
      ok: false,
      detail: `maintenance.schedule: the config (${otherSchedule}) says "0 * * * *", the database records "*/30 * * * *": run \`partkit provision --config ${otherSchedule}\` to apply it, or change the config to match the database`,
    });
    const flag = await verify(['--scheduler', 'pg_cron'], 1);
    expect(flag.get('(database)/settings')).toMatchObject({
      ok: false,
      detail: '--scheduler: --scheduler asks for pg_cron, the database records external: run `partkit provision --scheduler pg_cron` to apply it, or change the config to match the database',
    });
  });

  it('provision plans the difference as a change that names it, and verify agrees afterwards', async () => {
    const planned = (await partkit(db, ['provision', '--json', '--dry-run'], { config: otherPremake })).json as unknown as ProvisionJson;
    expect(planned.steps).toEqual(expect.arrayContaining([`update ${MESSAGES} in partkit.managed_table: premake 6 -> 5`, `update ${ODD_SQL} in partkit.managed_table: premake 6 -> 5`]));
    await partkit(db, ['provision'], { config: otherPremake });
    await verify(['--config', otherPremake]);
    const fromDatabase = await verify();
    expect(fromDatabase.get(`${MESSAGES}/registration`)!.detail).toMatch(/premake 5,/);
  });

  it('a scheduler change is planned as a whole: the job is scheduled or unscheduled with the record, and a second run plans nothing', async () => {
    const toCron = (await partkit(db, ['provision', '--json', '--scheduler', 'pg_cron'])).json as unknown as ProvisionJson;
    const job = `partkit_maintenance_${db.name}`;
    expect(toCron.steps).toEqual(expect.arrayContaining([`schedule pg_cron job ${job}: "*/30 * * * *" runs maintenance in database ${db.name}`, `record scheduler external -> pg_cron, job name none -> ${job} in partkit.maintenance_schedule`]));
    const withCron = await verify();
    expect(withCron.get('(database)/maintenance-job')).toMatchObject({ ok: true });
    expect(((await partkit(db, ['provision', '--json'])).json as unknown as ProvisionJson).changes).toBe(0);

    const toExternal = (await partkit(db, ['provision', '--json', '--scheduler', 'external'])).json as unknown as ProvisionJson;
    expect(toExternal.steps).toEqual([`unschedule pg_cron job ${job} (maintenance moves to an external scheduler)`, `record scheduler pg_cron -> external, job name ${job} -> none in partkit.maintenance_schedule`]);
    // pg_cron keeps its jobs in database postgres.
    expect((await adminQuery('pg15-partman4', 'SELECT jobname FROM cron.job WHERE database = $1', [db.name])).rows).toEqual([]);
    const status = await partkit(db, ['status', '--json']);
    expect((status.json as unknown as { maintenance: { scheduler: string; job: unknown } }).maintenance).toMatchObject({ scheduler: 'external', job: null });
    const back = await verify();
    expect(back.has('(database)/maintenance-job')).toBe(false);
    expect(((await partkit(db, ['provision', '--json'])).json as unknown as ProvisionJson).changes).toBe(0);
  });
});

/**
 * The same on pg_partman (pg17-partman5, pg_partman 5, pg_cron preloaded): provision with
 * `--scheduler external` on one machine; on another, without the config file or the flag, verify
 * passes against part_config and the recorded schedule, and provision plans nothing. A config that
 * differs is a planned change for provision (managed_table and part_config together) and a verify
 * failure, until provision applies it.
 */
describeTarget('pg17-partman5', 'settings recorded by provision on pg_partman, read back without the config', () => {
  let db: TestDatabase;
  const files = configFiles('settings-partman');
  const tables = [{ name: MESSAGES }, { name: ODD_SQL }];
  const provisioned = files.write('provisioned', { strategy: 'partman', defaults: { premake: 4, retention: '12 months' }, tables });
  const otherPremake = files.write('other-premake', { strategy: 'partman', defaults: { premake: 3, retention: '12 months' }, tables });
  const otherRetention = files.write('other-retention', { strategy: 'partman', defaults: { premake: 4, retention: '18 months' }, tables });

  async function verify(args: readonly string[] = [], expectedExit = 0): Promise<Map<string, CheckJson>> {
    const result = await partkit(db, ['verify', '--json', ...args], { expectedExit });
    const checks = (result.json as unknown as { checks: CheckJson[] }).checks;
    return new Map(checks.map((check) => [`${check.table ?? '(database)'}/${check.check}`, check]));
  }
  async function partConfig(): Promise<unknown[]> {
    const { rows } = await db.query(`SELECT parent_table, premake, retention FROM partman.part_config ORDER BY parent_table COLLATE "C"`);
    return rows;
  }

  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5', { kit: true });
    await db.query(`CREATE TABLE ${ODD_SQL} (id bigint, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
    const first = (await partkit(db, ['provision', '--json', '--scheduler', 'external'], { config: provisioned })).json as unknown as ProvisionJson;
    expect(first).toMatchObject({ strategy: 'partman', scheduler: 'external' });
  });
  afterAll(() => db?.drop());

  it('verify passes with neither the config nor --scheduler, and provision plans nothing', async () => {
    const checks = await verify();
    const failed = [...checks.values()].filter((check) => !check.ok);
    expect(failed).toEqual([]);
    expect(checks.get('(database)/settings')!.detail).toMatch(/^scheduler external, .*; read from the database \(no config file\)$/);
    expect(checks.has('(database)/maintenance-job')).toBe(false);
    expect([...new Set([...checks.values()].map((check) => check.table).filter((table) => table !== null))]).toEqual([ODD_SQL, MESSAGES]);
    expect(checks.get(`${MESSAGES}/registration`)!.detail).toMatch(/^partman: .*premake 4, retention 12 months into partkit_archive, UTC\)$/);
    const again = (await partkit(db, ['provision', '--json'])).json as unknown as ProvisionJson;
    expect(again).toMatchObject({ strategy: 'partman', scheduler: 'external', changes: 0 });
  });

  it('a config that differs fails verify and is planned by provision; applied, everything agrees again', async () => {
    const before = await partConfig();
    const premake = await verify(['--config', otherPremake], 1);
    for (const table of [ODD_SQL, MESSAGES]) {
      expect(premake.get(`${table}/registration`)).toMatchObject({ ok: false });
      expect(premake.get(`${table}/registration`)!.detail).toMatch(/defaults\.premake: the config says 3, .* records 4/);
    }
    const retention = await verify(['--config', otherRetention], 1);
    expect(retention.get(`${MESSAGES}/registration`)!.detail).toMatch(/defaults\.retention: the config says 18 months, partkit\.managed_table records 12 months/);
    // The preview changes nothing.
    const planned = (await partkit(db, ['provision', '--json', '--dry-run'], { config: otherPremake })).json as unknown as ProvisionJson;
    expect(planned.changes).toBeGreaterThan(0);
    expect(planned.steps).toEqual(expect.arrayContaining([`update ${MESSAGES} in partkit.managed_table: premake 4 -> 3`]));
    expect(await partConfig()).toEqual(before);
    await partkit(db, ['provision'], { config: otherPremake });
    expect((await partConfig()).map((row) => (row as { premake: number }).premake)).toEqual([3, 3]);
    const fromDatabase = await verify();
    expect(fromDatabase.get(`${MESSAGES}/registration`)!.detail).toMatch(/premake 3,/);
    // maintain needs no config either: the kit's run_maintenance() reads the recorded settings.
    expect(((await partkit(db, ['maintain', '--json'])).json as unknown as { ok: boolean }).ok).toBe(true);
    expect(((await partkit(db, ['provision', '--json'])).json as unknown as ProvisionJson).changes).toBe(0);
  });
});
