import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeXml, renderJunit } from '../src/verify/junit.js';
import { parseDuration, renderVerify } from '../src/commands/verify.js';
import { adminQuery, createTestDatabase, describeTarget, runPartkit, runPrinted, type TargetName, type TestDatabase } from './helpers/targets.js';
import { monthOf } from './helpers/clock.js';
import { partkit } from './helpers/cli.js';

interface Check {
  table: string | null;
  check: string;
  ok: boolean;
  detail: string;
  warning?: boolean;
}
interface VerifyJson {
  ok: boolean;
  checks: Check[];
}

const workDir = mkdtempSync(path.join(tmpdir(), 'partkit-verify-'));
/** A yearly schedule: the job exists and is checked, but pg_cron never runs it during the tests. */
const configFile = path.join(workDir, 'partkit.json');
writeFileSync(configFile, JSON.stringify({ maintenance: { schedule: '0 3 1 1 *' } }));
const TABLES = ['public.messages', 'public.execution_logs', 'public.api_key_logs', 'public.usage_records'];
const TABLE_CHECKS = ['partitioned', 'coverage', 'default-partition', 'registration', 'retention', 'indexes', 'time-index'];
/** Semibot's tables have an `id uuid`: verify also says what a lookup by id alone opens. */
const UUID_TABLE_CHECKS = [...TABLE_CHECKS, 'id-lookups'];

let junitCount = 0;

/** Runs verify with --json and --junit, checks that the three agree, returns the JSON. */
async function verifyJson(db: TestDatabase, args: string[] = []): Promise<VerifyJson & { exitCode: number; junit: XmlElement }> {
  junitCount += 1;
  const junitFile = path.join(workDir, `verify-${junitCount}.xml`);
  const result = await runPartkit(['verify', '--json', '--junit', junitFile, '--config', configFile, '--database-url', db.url, ...args]);
  expect([0, 1], result.stderr).toContain(result.exitCode);
  const report = JSON.parse(result.stdout) as VerifyJson;
  // Every command's --json says which config it used; the exit code stays out of the document.
  expect(Object.keys(report)).toEqual(['ok', 'checks', 'config']);
  expect(report.ok).toBe(result.exitCode === 0);
  expect(report.ok).toBe(report.checks.every((c) => c.ok));
  const junit = parseXml(readFileSync(junitFile, 'utf8'));
  expect(junit.name).toBe('testsuites');
  const cases = junit.children.flatMap((suite) => suite.children.filter((c) => c.name === 'testcase'));
  expect(cases).toHaveLength(report.checks.length);
  expect(Number(junit.attributes.failures)).toBe(report.checks.filter((c) => !c.ok).length);
  for (const [index, check] of report.checks.entries()) {
    const testcase = cases[index]!;
    expect(testcase.attributes.name).toBe(check.check);
    expect(testcase.attributes.classname).toBe(`partkit verify.${check.table ?? 'database'}`);
    const failure = testcase.children.find((c) => c.name === 'failure');
    expect(failure === undefined).toBe(check.ok);
    if (failure) expect(failure.attributes.message).toBe(check.detail);
  }
  return { ...report, exitCode: result.exitCode ?? -1, junit };
}

function find(report: VerifyJson, table: string | null, check: string): Check {
  const found = report.checks.find((c) => c.table === table && c.check === check);
  if (!found) throw new Error(`no check ${table}/${check} in ${JSON.stringify(report.checks.map((c) => `${c.table}/${c.check}`))}`);
  return found;
}

/** The failing checks, as "table/check". */
function failures(report: VerifyJson): string[] {
  return report.checks.filter((c) => !c.ok).map((c) => `${c.table ?? 'database'}/${c.check}`);
}

/** Exactly these checks fail (the message shows every failing detail). */
function expectFailures(report: VerifyJson, expected: string[]): void {
  const details = report.checks.filter((c) => !c.ok).map((c) => `${c.table ?? 'database'}/${c.check}: ${c.detail}`);
  expect(failures(report), details.join('\n')).toEqual(expected);
}

/** Attached month children of a table, oldest first, with their UTC lower bound as 'YYYY-MM'. */
async function monthChildren(db: TestDatabase, table: string) {
  const { rows } = await db.query<{ name: string; month: string }>(
    `SELECT c.relname AS name, to_char((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM') AS month
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
      ORDER BY 2`,
    [table],
  );
  return rows;
}

interface Variant {
  readonly target: TargetName;
  readonly strategy: 'partman' | 'plpgsql';
  readonly cron: boolean;
  /** Passed to provision. */
  readonly provisionArgs: string[];
}

const variants: Variant[] = [
  { target: 'pg17-partman5', strategy: 'partman', cron: true, provisionArgs: [] },
  { target: 'pg17-partman5', strategy: 'plpgsql', cron: true, provisionArgs: ['--strategy', 'plpgsql'] },
  { target: 'pg15-partman4', strategy: 'partman', cron: true, provisionArgs: [] },
  { target: 'pg15-nocron', strategy: 'partman', cron: false, provisionArgs: [] },
  { target: 'bare18', strategy: 'plpgsql', cron: false, provisionArgs: [] },
  { target: 'bare14', strategy: 'plpgsql', cron: false, provisionArgs: [] },
];

for (const variant of variants) {
  const { target, strategy, cron } = variant;
  describeTarget(target, `verify, ${strategy} strategy${cron ? ' with pg_cron' : ', external scheduler'} on ${target}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(target, { kit: true });
      await partkit(db, ['provision', ...variant.provisionArgs], { config: configFile });
    });
    afterAll(() => db?.drop());

    it('a freshly provisioned database passes every check (exit 0, text, --json and --junit agree)', async () => {
      const report = await verifyJson(db);
      expectFailures(report, []);
      expect(report.exitCode).toBe(0);
      const database = report.checks.filter((c) => c.table === null).map((c) => c.check);
      expect(database).toEqual(['kit-installed', 'extension-versions', 'settings', ...(cron ? ['maintenance-job', 'maintenance-cron-run'] : ['maintenance-age']), 'maintenance-result']);
      for (const table of TABLES) {
        expect(report.checks.filter((c) => c.table === table).map((c) => c.check)).toEqual(UUID_TABLE_CHECKS);
        // Time-ordered ids (the default for tables partkit creates): the id's month and the default, from EXPLAIN.
        expect(find(report, table, 'id-lookups')).toMatchObject({ ok: true, detail: expect.stringMatching(/^id lookups prune: WHERE id = \$1 opens 2 of \d+ partitions \(its month and the default\)$/) });
        expect(find(report, table, 'id-lookups').warning).toBeUndefined();
      }
      expect(find(report, 'public.messages', 'registration').detail).toMatch(new RegExp(`^${strategy}:`));
      expect(find(report, 'public.messages', 'coverage').detail).toMatch(new RegExp(`^${monthOf(0).key} through ${monthOf(4).key} covered without gaps`));
      if (!cron) expect(find(report, null, 'maintenance-age').detail).toMatch(/no maintenance has run yet; the tables were provisioned/);

      const text = await runPartkit(['verify', '--config', configFile, '--database-url', db.url]);
      expect(text.exitCode).toBe(0);
      expect(text.stdout).toMatch(/^partkit verify: all \d+ checks passed/);
      expect(text.stdout).toMatch(/✓ pass public\.messages\s+coverage/);
      expect(text.stdout).not.toContain('\u001b[');
    });

    it('a missing future month fails coverage, says to run `partkit maintain`, and maintain fixes it', async () => {
      const last = (await monthChildren(db, 'public.messages')).at(-1)!;
      expect(last.month).toBe(monthOf(4).key);
      await db.query(`DROP TABLE public."${last.name}"`);
      const report = await verifyJson(db);
      expect(report.exitCode).toBe(1);
      expectFailures(report, ['public.messages/coverage']);
      expect(find(report, 'public.messages', 'coverage').detail).toBe(`month ${last.month} is missing (current month + premake 4 must exist): run \`partkit maintain\``);
      await partkit(db, ['maintain'], { config: configFile });
      expectFailures(await verifyJson(db), []);
    });

    it('a month without its id range: verify warns (exit 0) that a lookup by id opens it, naming it; once its stray row is gone, `partkit maintain` gives it its range back', async () => {
      // A month whose range is gone (say, made before the table had time-ordered ids): its rows keep
      // the ids they get, so a row with the application's v4 id can land in it.
      const month = (await monthChildren(db, 'public.messages')).find((c) => c.month === monthOf(1).key)!;
      await db.query(`ALTER TABLE public."${month.name}" DROP CONSTRAINT partkit_id_range`);
      await db.query(`DROP TRIGGER partkit_id_range ON public."${month.name}"`);
      await db.query(`INSERT INTO public.messages (id, session_id, role, content, created_at) VALUES ('9d6f2a3c-1111-4111-8111-111111111111', gen_random_uuid(), 'user', 'stray', $1)`, [monthOf(1).mid]);
      await partkit(db, ['maintain'], { config: configFile });
      const report = await verifyJson(db);
      expect(report.exitCode).toBe(0);
      expectFailures(report, []);
      const check = find(report, 'public.messages', 'id-lookups');
      expect(check).toMatchObject({ ok: true, warning: true });
      expect(check.detail).toBe(`id lookups do not prune: WHERE id = $1 opens 3 of ${(await monthChildren(db, 'public.messages')).length + 1} partitions; 1 month(s) have no id range (public.${month.name}): \`partkit maintain\` adds it to empty months; a month holding rows whose ids lie outside it keeps none`);
      const text = await runPartkit(['verify', '--config', configFile, '--database-url', db.url]);
      expect(text.exitCode).toBe(0);
      expect(text.stdout).toMatch(/public\.messages\s+id-lookups\s+id lookups do not prune/);

      await db.query(`DELETE FROM public.messages WHERE content = 'stray'`);
      await partkit(db, ['maintain'], { config: configFile });
      expect(find(await verifyJson(db), 'public.messages', 'id-lookups').detail).toMatch(/^id lookups prune: WHERE id = \$1 opens 2 of/);
    });

    it('a gap in the middle fails coverage with the statement that fills it', async () => {
      const gap = monthOf(2);
      const child = (await monthChildren(db, 'public.execution_logs')).find((c) => c.month === gap.key)!;
      await db.query(`DROP TABLE public."${child.name}"`);
      const report = await verifyJson(db);
      expectFailures(report, ['public.execution_logs/coverage']);
      const detail = find(report, 'public.execution_logs', 'coverage').detail;
      expect(detail).toMatch(new RegExp(`^month ${gap.key} is missing in the middle of the set \\(a gap\\): run partkit partition create `));
      // The hint runs as printed, on either strategy.
      const hint = /: run (partkit .*)$/.exec(detail)![1]!;
      const fixed = await runPrinted(hint, { DATABASE_URL: db.url });
      expect(fixed.exitCode, `${hint}\n${fixed.stderr}`).toBe(0);
      expect(fixed.stdout).toContain(gap.key);
      expectFailures(await verifyJson(db), []);
    });

    it('rows in the default fail unless --max-default-rows tolerates them; maintain moves them', async () => {
      const past = monthOf(-1);
      await db.query(`INSERT INTO messages (session_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'early', $1::timestamptz + interval '3 days')`, [`${past.date} 00:00:00+00`]);
      const report = await verifyJson(db);
      expectFailures(report, ['public.messages/default-partition']);
      expect(find(report, 'public.messages', 'default-partition').detail).toBe('public.messages_default holds 1 row(s): run `partkit maintain` to move them into their months');
      const tolerated = await verifyJson(db, ['--max-default-rows', '1']);
      expectFailures(tolerated, []);
      expect(find(tolerated, 'public.messages', 'default-partition').detail).toBe('public.messages_default holds 1 row(s) (up to 1 allowed)');
      await partkit(db, ['maintain'], { config: configFile });
      const after = await verifyJson(db);
      expectFailures(after, []);
      expect(find(after, 'public.messages', 'coverage').detail).toMatch(new RegExp(`^${past.key} through`));
    });

    it('registration that differs from the config fails and `partkit provision` restores it', async () => {
      if (strategy === 'partman') await db.query(`UPDATE partman.part_config SET retention = '6 months' WHERE parent_table = 'public.api_key_logs'`);
      else await db.query(`UPDATE partkit.managed_table SET retention = '6 months' WHERE parent_table = 'api_key_logs'`);
      const report = await verifyJson(db);
      expectFailures(report, ['public.api_key_logs/registration']);
      const where = strategy === 'partman' ? 'partman.part_config' : 'partkit.managed_table';
      expect(find(report, 'public.api_key_logs', 'registration').detail).toMatch(
        new RegExp(`^(tables\\[2\\]\\.)?retention: the config says 12 months, ${where.replace('.', '\\.')} records 6 mon(th)?s: run \`partkit provision --config ${configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*\` to apply the config, or change the config to match the database$`),
      );
      await partkit(db, ['provision', ...variant.provisionArgs], { config: configFile });
      expectFailures(await verifyJson(db), []);
    });

    it('months past retention that are still attached fail retention; maintain archives them', async () => {
      const old = Array.from({ length: 15 }, (_, i) => monthOf(-15 + i));
      if (strategy === 'partman') {
        const times = old.map((m) => `'${m.date}'`).join(', ');
        await db.query(`SET TimeZone = 'UTC'; SELECT partman.create_partition_time(p_parent_table := 'public.usage_records', p_partition_times := ARRAY[${times}]::timestamptz[])`);
      } else {
        for (const m of old) await db.query(`SELECT partkit.create_monthly_partition('public.usage_records', $1, $2)`, [m.year, m.month]);
      }
      const report = await verifyJson(db);
      expectFailures(report, ['public.usage_records/retention']);
      const detail = find(report, 'public.usage_records', 'retention').detail;
      expect(detail).toMatch(new RegExp(`^months ${old[0]!.key} \\(public\\.usage_records_\\w+\\), ${old[1]!.key} .*, ${old[2]!.key} .* lie wholly before now − 12 months \\(.*UTC\\) and are still attached: run \`partkit maintain\` \\(it moves such months into schema partkit_archive\\)$`));
      await partkit(db, ['maintain'], { config: configFile });
      const after = await verifyJson(db);
      expectFailures(after, []);
      expect(find(after, 'public.usage_records', 'coverage').detail).toMatch(new RegExp(`^${old[3]!.key} through`));
    });

    it('a child without one of the parent indexes fails indexes, naming the child and the fix', async () => {
      const kids = await monthChildren(db, 'public.messages');
      await db.query(`CREATE INDEX messages_role_idx ON ONLY public.messages (role)`);
      for (const kid of kids.slice(1)) {
        await db.query(`CREATE INDEX "${kid.name}_role" ON public."${kid.name}" (role); ALTER INDEX public.messages_role_idx ATTACH PARTITION public."${kid.name}_role"`);
      }
      const report = await verifyJson(db);
      expectFailures(report, ['public.messages/indexes']);
      const total = kids.length + 1; // and the default
      expect(find(report, 'public.messages', 'indexes').detail).toMatch(
        new RegExp(`^index public\\.messages_role_idx is missing on 2 of ${total} children \\(public\\.(${kids[0]!.name}, public\\.messages_default|messages_default, public\\.${kids[0]!.name})\\): for each, run CREATE INDEX ON "public"\\."\\w+" USING btree \\(role\\); then ALTER INDEX "public"\\."messages_role_idx" ATTACH PARTITION <the new index>;$`),
      );
      await db.query(`DROP INDEX public.messages_role_idx`);
      expectFailures(await verifyJson(db), []);
    });

    it('a failed last maintenance run fails maintenance-result', async () => {
      await partkit(db, ['maintain'], { config: configFile });
      await db.query(`UPDATE partkit.maintenance_run SET ok = false WHERE id = (SELECT max(id) FROM partkit.maintenance_run)`);
      const report = await verifyJson(db);
      expectFailures(report, ['database/maintenance-result']);
      expect(find(report, null, 'maintenance-result').detail).toMatch(/^the last maintenance run \(#\d+, finished .*\) failed \(4 table\(s\), 0 failure\(s\)\): fix the cause, then run `partkit maintain`/);
      await partkit(db, ['maintain'], { config: configFile });
      expectFailures(await verifyJson(db), []);
    });

    if (cron) {
      const jobName = () => `partkit_maintenance_${db.name}`;

      it('an inactive pg_cron job fails maintenance-job; provision re-activates it', async () => {
        await adminQuery(target, `SELECT cron.alter_job(jobid, active := false) FROM cron.job WHERE jobname = $1`, [jobName()]);
        const report = await verifyJson(db);
        expectFailures(report, ['database/maintenance-job']);
        expect(find(report, null, 'maintenance-job').detail).toBe(`pg_cron job ${jobName()} is inactive: run \`partkit provision\` (it updates and re-activates the job)`);
        await partkit(db, ['provision', ...variant.provisionArgs], { config: configFile });
        expectFailures(await verifyJson(db), []);
      });

      it('an unscheduled pg_cron job fails maintenance-job; provision schedules it again', async () => {
        await adminQuery(target, `SELECT cron.unschedule($1)`, [jobName()]);
        const report = await verifyJson(db);
        expectFailures(report, ['database/maintenance-job']);
        expect(find(report, null, 'maintenance-job').detail).toBe(`pg_cron job ${jobName()} does not exist in database postgres (or belongs to another user): run \`partkit provision\` to schedule it`);
        await partkit(db, ['provision', ...variant.provisionArgs], { config: configFile });
        expectFailures(await verifyJson(db), []);
      });

      it("a failed last cron run fails maintenance-cron-run with pg_cron's message", async () => {
        const { rows } = await adminQuery<{ jobid: string }>(target, `SELECT jobid FROM cron.job WHERE jobname = $1`, [jobName()]);
        const jobid = rows[0]!.jobid;
        const insertRun = (status: string, message: string) =>
          adminQuery(
            target,
            `INSERT INTO cron.job_run_details (jobid, runid, job_pid, database, username, command, status, return_message, start_time, end_time)
             VALUES ($1, nextval('cron.runid_seq'), 0, $2, 'postgres', 'SELECT 1', $3, $4, clock_timestamp(), clock_timestamp())`,
            [jobid, db.name, status, message],
          );
        await insertRun('failed', 'ERROR:  relation "public.messages" does not exist');
        const report = await verifyJson(db);
        expectFailures(report, ['database/maintenance-cron-run']);
        expect(find(report, null, 'maintenance-cron-run').detail).toMatch(
          new RegExp(`^the last run of pg_cron job ${jobName()} \\(run \\d+, started .*\\) failed: ERROR:  relation "public\\.messages" does not exist: fix the cause \\(\`partkit maintain\` runs the same function and shows the error\\), then wait for the next scheduled run$`),
        );
        await insertRun('succeeded', '1 row');
        expectFailures(await verifyJson(db), []);
      });
    } else {
      it('external scheduler: a maintenance older than --max-maintenance-age fails maintenance-age', async () => {
        await partkit(db, ['maintain'], { config: configFile });
        expect(find(await verifyJson(db, ['--max-maintenance-age', '2h']), null, 'maintenance-age').detail).toMatch(/^the last maintenance finished \d+s ago \(.*\), within --max-maintenance-age 2h$/);
        await db.query(`UPDATE partkit.maintenance_run SET started_at = started_at - interval '3 hours', finished_at = finished_at - interval '3 hours'`);
        // Without the option the limit follows the (yearly) schedule of the config.
        expect(find(await verifyJson(db), null, 'maintenance-age').detail).toMatch(/^the last maintenance finished 3h(0m)? ago \(.*\), within 732d15m \(one missed run of the schedule "0 3 1 1 \*" plus 15m; --max-maintenance-age sets another limit\)$/);
        const report = await verifyJson(db, ['--max-maintenance-age', '2h']);
        expectFailures(report, ['database/maintenance-age']);
        expect(find(report, null, 'maintenance-age').detail).toMatch(/^the last maintenance finished 3h(0m)? ago \(.*\), more than --max-maintenance-age 2h: run `partkit maintain` now, and check the scheduler that should run it \(schedule it with an external scheduler, e.g. this crontab line: 0 3 1 1 \*  DATABASE_URL=.*partkit maintain.*\)$/);
        expectFailures(await verifyJson(db, ['--max-maintenance-age', '4h']), []);
        await partkit(db, ['maintain'], { config: configFile });
        expectFailures(await verifyJson(db), []);
      });
    }

    it('a table that is not partitioned fails `partitioned` and points to migrate; missing tables point to provision', async () => {
      const plain = await createTestDatabase(target);
      try {
        await plain.query(`CREATE TABLE messages (id uuid PRIMARY KEY, created_at timestamptz NOT NULL)`);
        const report = await verifyJson(plain);
        expect(report.exitCode).toBe(1);
        expect(report.checks.filter((c) => c.table === 'public.messages')).toEqual([
          { table: 'public.messages', check: 'partitioned', ok: false, detail: 'public.messages is a plain table, not partitioned: run `partkit migrate` to move it to a table partitioned by RANGE (created_at) (`partkit migrate prep public.messages`, then fill and swap).' },
        ]);
        expect(find(report, 'public.usage_records', 'partitioned').detail).toMatch(/^public\.usage_records does not exist: run `partkit provision`/);
        expect(find(report, null, 'kit-installed')).toMatchObject({ ok: false, detail: "partkit's objects are not installed in schema partkit: run `partkit provision`" });
      } finally {
        await plain.drop();
      }
    });
  });
}

describeTarget('bare18', 'verify: the default maintenance age follows maintenance.schedule (external scheduler)', () => {
  let db: TestDatabase;
  const dailyConfig = path.join(workDir, 'daily.json');
  writeFileSync(dailyConfig, JSON.stringify({ maintenance: { schedule: '0 3 * * *' } }));
  const ageCheck = async (args: string[] = []) => {
    const result = await runPartkit(['verify', '--json', '--config', dailyConfig, '--database-url', db.url, ...args]);
    return find(JSON.parse(result.stdout) as VerifyJson, null, 'maintenance-age');
  };
  const lastRunHoursAgo = (hours: number) =>
    db.query(`UPDATE partkit.maintenance_run SET started_at = now() - make_interval(hours => $1), finished_at = now() - make_interval(hours => $1)`, [hours]);
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    for (const command of ['provision', 'maintain']) {
      const result = await runPartkit([command, '--config', dailyConfig, '--database-url', db.url]);
      expect(result.exitCode, result.stderr).toBe(0);
      if (command === 'provision') expect(result.stdout).toContain('0 3 * * *  DATABASE_URL=postgres://USER@HOST/DB npx --no-install partkit maintain --config');
    }
  });
  afterAll(() => db?.drop());

  it('a daily schedule with the last run 20 h ago passes; 49 h ago fails', async () => {
    await lastRunHoursAgo(20);
    expect(await ageCheck()).toMatchObject({ ok: true, detail: expect.stringMatching(/^the last maintenance finished 20h ago .*, within 2d15m \(one missed run of the schedule "0 3 \* \* \*" plus 15m/) });
    await lastRunHoursAgo(49);
    expect(await ageCheck()).toMatchObject({ ok: false, detail: expect.stringMatching(/^the last maintenance finished 2d1h ago .*, more than 2d15m .*this crontab line: 0 3 \* \* \*  DATABASE_URL=/) });
  });

  it('an explicit --max-maintenance-age still wins', async () => {
    await lastRunHoursAgo(20);
    expect(await ageCheck(['--max-maintenance-age', '2h'])).toMatchObject({ ok: false, detail: expect.stringMatching(/more than --max-maintenance-age 2h:/) });
    await lastRunHoursAgo(49);
    expect(await ageCheck(['--max-maintenance-age', '3d'])).toMatchObject({ ok: true });
  });
});

describeTarget('bare18', 'verify: options and errors', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
  });
  afterAll(() => db?.drop());

  it('rejects a bad --max-maintenance-age or --max-default-rows with exit 2', async () => {
    for (const args of [['--max-maintenance-age', 'soon'], ['--max-default-rows', '-1']]) {
      const result = await runPartkit(['verify', '--database-url', db.url, ...args]);
      expect(result.exitCode, result.stderr).toBe(2);
    }
  });

  it('an unwritable --junit path is a usage error (exit 2)', async () => {
    const result = await runPartkit(['verify', '--database-url', db.url, '--junit', path.join(workDir, 'no', 'such', 'dir', 'x.xml')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/Cannot write the JUnit report/);
  });
});

describe('verify output helpers', () => {
  it('parses durations', () => {
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('90m')).toBe(5400);
    expect(parseDuration('90 min')).toBe(5400);
    expect(parseDuration('1 day')).toBe(86_400);
    expect(parseDuration('30s')).toBe(30);
    expect(() => parseDuration('0h')).toThrow(/not a duration/);
    expect(() => parseDuration('2 fortnights')).toThrow(/not a duration/);
  });

  it('escapes XML, including characters XML cannot carry', () => {
    expect(escapeXml(`a<b>&"c"'d'`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;');
    expect(escapeXml('line1\nline2', true)).toBe('line1&#10;line2');
    expect(escapeXml('bell\u0007')).toBe('bell\uFFFD');
    const xml = renderJunit('partkit verify', [
      { suite: 'public."Odd <Name>"', name: 'coverage', ok: false, detail: 'month 2027-03 is missing & "quoted" <x>\nnext' },
      { suite: 'database', name: 'kit-installed', ok: true, detail: "it's fine" },
    ]);
    const root = parseXml(xml);
    expect(root.attributes).toMatchObject({ tests: '2', failures: '1' });
    const [odd, database] = root.children;
    expect(odd!.attributes.name).toBe('public."Odd <Name>"');
    expect(odd!.children[0]!.children[0]!.attributes.message).toBe('month 2027-03 is missing & "quoted" <x>\nnext');
    expect(database!.children[0]!.children[0]!).toMatchObject({ name: 'system-out', text: "it's fine" });
  });

  it('colours only when asked (stdout a TTY and NO_COLOR unset)', () => {
    const result = { ok: false, checks: [{ table: null, check: 'kit-installed', ok: false, detail: 'x' }] };
    expect(renderVerify(result, false)).not.toContain('\u001b[');
    expect(renderVerify(result, true)).toContain('\u001b[31m');
    expect(renderVerify(result, false)).toMatch(/✗ FAIL \(database\)\s+kit-installed\s+x/);
  });
});

// ---------------------------------------------------------------------------------------------
// A strict parser for the XML subset a JUnit report uses (no DTD, comments or CDATA): it throws
// on anything that is not well-formed, so the tests prove the report parses.

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

function decodeEntities(raw: string, where: string): string {
  if (/[<]/.test(raw)) throw new Error(`raw "<" in ${where}`);
  return raw.replace(/&([^;]*);|&/g, (match, entity: string | undefined) => {
    if (entity === undefined) throw new Error(`bare "&" in ${where}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (entity in named) return named[entity]!;
    const code = /^#x([0-9a-f]+)$/i.exec(entity) ? Number.parseInt(entity.slice(2), 16) : /^#\d+$/.test(entity) ? Number(entity.slice(1)) : Number.NaN;
    if (Number.isNaN(code)) throw new Error(`unknown entity &${entity}; in ${where}`);
    return String.fromCodePoint(code);
  });
}

function parseXml(xml: string): XmlElement {
  let at = 0;
  const declaration = /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*/.exec(xml);
  if (!declaration) throw new Error('missing XML declaration');
  at = declaration[0].length;
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(xml)) throw new Error('control character in XML');
  const parseElement = (): XmlElement => {
    const open = /^<([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*(\/?)>/.exec(xml.slice(at));
    if (!open) throw new Error(`expected an element at ${at}: ${xml.slice(at, at + 40)}`);
    at += open[0].length;
    const element: XmlElement = { name: open[1]!, attributes: {}, children: [], text: '' };
    for (const attr of open[2]!.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      if (attr[1]! in element.attributes) throw new Error(`duplicate attribute ${attr[1]}`);
      element.attributes[attr[1]!] = decodeEntities(attr[2]!, `attribute ${attr[1]}`);
    }
    if (open[3]) return element;
    for (;;) {
      const next = xml.indexOf('<', at);
      if (next < 0) throw new Error(`unclosed <${element.name}>`);
      element.text += decodeEntities(xml.slice(at, next), `<${element.name}>`);
      at = next;
      if (xml.startsWith('</', at)) {
        const close = /^<\/([A-Za-z_][\w.-]*)\s*>/.exec(xml.slice(at));
        if (!close || close[1] !== element.name) throw new Error(`mismatched close tag for <${element.name}> at ${at}`);
        at += close[0].length;
        element.text = element.children.length > 0 ? element.text.trim() : element.text;
        return element;
      }
      element.children.push(parseElement());
    }
  };
  const root = parseElement();
  if (xml.slice(at).trim() !== '') throw new Error('content after the root element');
  return root;
}

describeTarget('bare18', 'verify a mixed-case table with spaces and quotes', () => {
  const odd = '"My Schema"."Odd ""Name"" Tbl"';
  const oddConfig = path.join(workDir, 'odd.json');
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18', { kit: true });
    await db.query(`CREATE SCHEMA "My Schema"`);
    await db.query(`CREATE TABLE ${odd} (id bigint, "Created At" timestamptz NOT NULL, PRIMARY KEY (id, "Created At")) PARTITION BY RANGE ("Created At")`);
    writeFileSync(oddConfig, JSON.stringify({ tables: [{ name: odd, controlColumn: 'Created At' }] }));
    await partkit(db, ['provision', '--scheduler', 'external'], { config: oddConfig });
    await partkit(db, ['maintain'], { config: oddConfig });
  });
  afterAll(() => db?.drop());

  it('passes every table check under the name as spelled, and names it when a month goes missing', async () => {
    const verify = () => partkit(db, ['verify', '--json', '--scheduler', 'external'], { config: oddConfig, expectedExit: null });
    const passed = await verify();
    expect(passed.exitCode, passed.stdout).toBe(0);
    const checks = passed.json.checks as Check[];
    expect(checks.filter((c) => c.table === odd).map((c) => c.check)).toEqual(TABLE_CHECKS);
    const { year, month } = monthOf(2);
    await db.query(`DROP TABLE "My Schema"."Odd ""Name"" Tbl_y${year}m${String(month).padStart(2, '0')}"`);
    const failed = await verify();
    expect(failed.exitCode).toBe(1);
    const coverage = (failed.json.checks as Check[]).find((c) => c.table === odd && c.check === 'coverage');
    expect(coverage).toMatchObject({ ok: false });
    expect(coverage!.detail).toContain(monthOf(2).key);
  });
});
