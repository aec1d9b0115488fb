/**
 * `partkit log`: the kit's maintenance log, the last runs newest first, per table, with the errors
 * a run recorded; `--table` keeps the runs that covered one table (a run of one other table did
 * not), `--limit` how many, `--json` the same content. On both strategies, with a table whose
 * name needs quoting.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configFiles, partkit } from './helpers/cli.js';
import { monthOf } from './helpers/clock.js';
import { createTestDatabase, describeTarget, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

const ODD_SQL = 'public."Odd ""Name"" Logs"';
const MESSAGES = 'public.messages';

interface LogJson {
  readonly runs: readonly {
    readonly id: number;
    readonly ok: boolean | null;
    readonly source: string | null;
    readonly only: string | null;
    readonly finishedAt: string | null;
    readonly tables: readonly { readonly table: string; readonly ok: boolean; readonly errors: readonly string[]; readonly events: readonly { readonly action: string }[] }[];
  }[];
}

const VARIANTS: readonly { target: TargetName; strategy: 'plpgsql' | 'partman' }[] = [
  { target: 'bare14', strategy: 'plpgsql' },
  { target: 'pg17-partman5', strategy: 'partman' },
];

for (const { target, strategy } of VARIANTS) {
  describeTarget(target, `partkit log, ${strategy} strategy on ${target}`, () => {
    let db: TestDatabase;
    let config: string;
    const log = async (args: readonly string[] = []) => (await partkit(db, ['log', '--json', ...args], { config })).json as unknown as LogJson;

    beforeAll(async () => {
      db = await createTestDatabase(target, { kit: true });
      await db.query(`CREATE TABLE ${ODD_SQL} (id bigint, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
      config = configFiles('log').write('partkit', { strategy, tables: [{ name: MESSAGES }, { name: ODD_SQL }] });
      await partkit(db, ['provision', '--scheduler', 'external'], { config });
    });
    afterAll(() => db?.drop());

    it('says so when no run is recorded', async () => {
      const text = await partkit(db, ['log'], { config });
      expect(text.stdout).toBe('no maintenance run is recorded (run `partkit maintain`, or wait for the scheduled job)');
      expect((await log()).runs).toEqual([]);
    });

    it('shows each run per table, with the errors of a failed one, newest first', async () => {
      await partkit(db, ['maintain'], { config });
      // A month that cannot be made: a partition of a few of its days is in the way, and a row of
      // another of its days waits in the default.
      const blocked = monthOf(8);
      await db.query(`CREATE TABLE public.messages_in_the_way PARTITION OF messages FOR VALUES FROM ('${blocked.key}-20 00:00+00') TO ('${blocked.key}-25 00:00+00')`);
      await db.query(`INSERT INTO messages (session_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'blocked', $1)`, [`${blocked.key}-05 12:00+00`]);
      await partkit(db, ['maintain'], { config, expectedExit: 1 });

      const { runs } = await log();
      expect(runs).toHaveLength(2);
      const [failed, first] = runs;
      expect(failed!.id).toBeGreaterThan(first!.id);
      // The run's source is the session's application_name: `partkit <command>`.
      expect(first).toMatchObject({ ok: true, source: 'partkit maintain', only: null });
      expect(first!.tables.map((t) => [t.table, t.ok])).toEqual([[ODD_SQL, true], [MESSAGES, true]]);
      expect(failed).toMatchObject({ ok: false, only: null });
      const messages = failed!.tables.find((t) => t.table === MESSAGES)!;
      expect(messages.ok).toBe(false);
      expect(messages.errors).toHaveLength(1);
      expect(messages.errors[0]).toMatch(/overlap/);
      expect(failed!.tables.find((t) => t.table === ODD_SQL)).toMatchObject({ ok: true, errors: [] });

      const text = (await partkit(db, ['log'], { config })).stdout.split('\n');
      expect(text[0]).toMatch(new RegExp(`^run ${failed!.id}  \\d{4}-\\d{2}-\\d{2}T[0-9:.]+Z  \\d+\\.\\ds  FAILED  by partkit maintain  \\(2 table\\(s\\), 1 failure\\(s\\)\\)$`));
      const messagesLine = text.findIndex((line) => line.startsWith(`  ${MESSAGES} `));
      expect(text[messagesLine]).toMatch(/^ {2}public\.messages +FAILED/);
      expect(text[messagesLine + 1]).toMatch(/^ {4}error: .*overlap/);
      expect(text).toContain(`  ${ODD_SQL}  ok: nothing to do`);
      expect(text.filter((line) => line.startsWith('run '))).toHaveLength(2);
    });

    it('--table keeps the runs that covered the table and only its lines; a run of one table names it', async () => {
      await db.query('DROP TABLE public.messages_in_the_way');
      await partkit(db, ['maintain', '--table', ODD_SQL], { config });
      const all = await log();
      expect(all.runs[0]).toMatchObject({ ok: true, only: ODD_SQL });
      expect(all.runs[0]!.tables.map((t) => t.table)).toEqual([ODD_SQL]);

      const messages = await log(['--table', MESSAGES]);
      expect(messages.runs.map((run) => run.id)).toEqual(all.runs.slice(1).map((run) => run.id));
      for (const run of messages.runs) expect(run.tables.map((t) => t.table)).toEqual([MESSAGES]);

      const odd = await log(['--table', ODD_SQL]);
      expect(odd.runs.map((run) => run.id)).toEqual(all.runs.map((run) => run.id));
      expect((await partkit(db, ['log', '--table', ODD_SQL], { config })).stdout).toMatch(new RegExp(`^run \\d+ .* ok  by partkit maintain  only ${ODD_SQL.replace(/[.*+?^${}()|[\]\\"]/g, '\\$&')}  \\(1 table\\(s\\), 0 failure\\(s\\)\\)$`, 'm'));
    });

    it('--limit keeps the newest runs', async () => {
      const all = await log();
      const limited = await log(['--limit', '1']);
      expect(limited.runs.map((run) => run.id)).toEqual([all.runs[0]!.id]);
    });

    it('refuses a malformed --table and a --limit that is not a positive whole number, with exit 2', async () => {
      const badTable = await runPartkit(['log', '--table', 'public."unclosed', '--database-url', db.url]);
      expect(badTable.exitCode, badTable.stderr).toBe(2);
      expect(badTable.stderr).toMatch(/Invalid table name/);
      for (const limit of ['0', 'many', '2.5']) {
        const bad = await runPartkit(['log', '--limit', limit, '--database-url', db.url]);
        expect(bad.exitCode, `${limit}: ${bad.stderr}`).toBe(2);
        expect(bad.stderr).toMatch(limit === 'many' ? /--limit needs a number/ : /--limit must be a whole number of 1 or more/);
      }
    });
  });
}

describeTarget('bare18', 'partkit log without the kit', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
  });
  afterAll(() => db?.drop());

  it('exits 4 and names provision', async () => {
    const result = await runPartkit(['log', '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(4);
    expect(result.stderr).toMatch(/hint: Run `partkit provision` first/);
  });
});
