/**
 * `partkit migrate`: prep -> fill (twice) -> writes to the original -> swap (catch-up) -> provision
 * (adopts) -> checks -> unswap -> swap again -> drop, on the plpgsql fallback (bare18) and on
 * pg_partman 5 (pg17-partman5). Two tables: Semibot's messages (uuid primary key, an index on
 * (session_id, created_at), ~20k rows over 18 months) and events (bigint identity, a view on it).
 * Then the refusals, each of which must leave the database unchanged.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeTarget, runPartkit, runPrinted, type TargetName, type TestDatabase } from './helpers/targets.js';
import { count, partkit } from './helpers/cli.js';

const configDir = mkdtempSync(path.join(tmpdir(), 'partkit-migrate-'));
const config = path.join(configDir, 'config.json');
writeFileSync(config, JSON.stringify({ tables: [{ name: 'public.messages' }, { name: 'public.events' }] }));

const MESSAGES = 20_000;
const EVENTS = 2_000;

async function relkind(db: TestDatabase, name: string): Promise<string | null> {
  const { rows } = await db.query<{ kind: string | null }>('SELECT (SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)) AS kind', [name]);
  return rows[0]!.kind;
}

/** Rows whose partition is not the month of their created_at (UTC), default partition included. */
async function rowsInWrongMonth(db: TestDatabase, table: string): Promise<number> {
  return count(
    db,
    `SELECT count(*)::int AS n FROM ${table} t JOIN pg_class c ON c.oid = t.tableoid
      WHERE left(regexp_replace(substring(c.relname from '_[yp](\\d[\\d_m]*)$'), '\\D', '', 'g'), 6) IS DISTINCT FROM to_char(t.created_at AT TIME ZONE 'UTC', 'YYYYMM')`,
  );
}

for (const name of ['bare18', 'pg17-partman5'] as TargetName[]) {
  const strategy = name === 'bare18' ? 'plpgsql' : 'partman';

  describeTarget(name, `migrate an unpartitioned table on ${name} (${strategy})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
      await db.query(`ALTER DATABASE "${db.name}" SET TimeZone = 'UTC'`);
      await db.query(`CREATE TABLE messages (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          session_id uuid NOT NULL,
          role varchar(20) NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
          content text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now())`);
      await db.query('CREATE INDEX messages_session_created_idx ON messages (session_id, created_at)');
      await db.query(`COMMENT ON TABLE messages IS 'chat history'`);
      // 18 months back from now, a few rows per hour.
      await db.query(
        `INSERT INTO messages (session_id, role, content, created_at)
         SELECT md5((g % 300)::text)::uuid, (ARRAY['user', 'assistant'])[1 + g % 2], 'message ' || g,
                now() - (g % 540) * interval '1 day' - (g % 24) * interval '1 hour'
           FROM generate_series(1, ${MESSAGES}) g`,
      );
      await db.query(`CREATE TABLE events (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          kind text NOT NULL CHECK (kind <> ''),
          created_at timestamptz NOT NULL DEFAULT now())`);
      await db.query(`INSERT INTO events (kind, created_at) SELECT 'k' || (g % 7), now() - (g % 540) * interval '1 day' FROM generate_series(1, ${EVENTS}) g`);
      await db.query(`CREATE VIEW recent_events AS SELECT id, kind, created_at FROM events WHERE created_at > now() - interval '7 days'`);
      phase = 'seeded';
    });
    afterAll(() => db?.drop());

    /*
     * Each `it` starts from the phase the one before it leaves, so that the file reads as the
     * migration does. reach() brings the database there from wherever it is, through the same
     * commands and writes (unchecked), so any one `it` also runs alone (`-t`); in a whole-file run
     * it finds the phase reached and does nothing.
     */
    const PHASES = ['seeded', 'prepped', 'filled', 'swapped', 'written after swap', 'swapped twice'] as const;
    type Phase = (typeof PHASES)[number];
    let phase: Phase = 'seeded';
    const cli = (args: string[]) => partkit(db, [...args, '--json'], { config });
    const writeLateRows = async () => {
      await db.query(`INSERT INTO messages (session_id, role, content) SELECT gen_random_uuid(), 'user', 'late ' || g FROM generate_series(1, 50) g`);
      await db.query(`INSERT INTO events (kind) SELECT 'late' FROM generate_series(1, 10)`);
    };
    const writeAfterSwap = async () => {
      await db.query(`INSERT INTO events (kind) VALUES ('after swap')`);
      await db.query(`INSERT INTO messages (session_id, role, content) VALUES (gen_random_uuid(), 'user', 'after swap')`);
    };
    const advance: Record<Exclude<Phase, 'seeded'>, () => Promise<unknown>> = {
      prepped: async () => {
        for (const table of ['messages', 'events']) await cli(['migrate', 'prep', table]);
      },
      filled: async () => {
        await cli(['migrate', 'fill', 'messages', '--batch-size', '3000']);
        await cli(['migrate', 'fill', 'events']);
      },
      swapped: async () => {
        await writeLateRows();
        for (const table of ['messages', 'events']) await cli(['migrate', 'swap', table]);
        await cli(['provision', '--scheduler', 'external']);
      },
      'written after swap': writeAfterSwap,
      'swapped twice': async () => {
        await cli(['migrate', 'unswap', 'events']);
        await db.query(`INSERT INTO events (kind) VALUES ('after unswap')`);
        await cli(['migrate', 'swap', 'events']);
        await cli(['migrate', 'unswap', 'messages']);
        await cli(['migrate', 'swap', 'messages']);
      },
    };
    async function reach(wanted: Phase): Promise<void> {
      while (PHASES.indexOf(phase) < PHASES.indexOf(wanted)) {
        const next = PHASES[PHASES.indexOf(phase) + 1] as Exclude<Phase, 'seeded'>;
        await advance[next]();
        phase = next;
      }
    }

    it('prep creates <table>_partitioned with the indexes, a widened primary key and the months of the data; a second run changes nothing', async () => {
      const dry = await runPartkit(['migrate', 'prep', 'public.messages', '--dry-run', '--config', config, '--database-url', db.url]);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/CREATE TABLE "public"\."messages_partitioned" \(LIKE public\.messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY/);
      expect(await relkind(db, 'messages_partitioned')).toBeNull();

      for (const table of ['messages', 'events']) {
        const { json } = await partkit(db, ['migrate', 'prep', table, '--json'], { config });
        expect(json).toMatchObject({ strategy, primaryKey: { before: ['id'], after: ['id', 'created_at'], widened: true } });
        expect((json.notes as string[]).join('\n')).toMatch(/primary key widened/);
        expect((json.months as string[]).length).toBeGreaterThanOrEqual(18 + 4);
        expect(await relkind(db, `${table}_partitioned`)).toBe('p');
        const again = await partkit(db, ['migrate', 'prep', table, '--json'], { config });
        expect(again.json.changes).toBe(0);
      }
      const { rows: pk } = await db.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'messages_partitioned'::regclass AND contype = 'p'`);
      expect(pk[0]!.def).toBe('PRIMARY KEY (id, created_at)');
      const { rows: idx } = await db.query<{ def: string }>(`SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'messages_partitioned'::regclass`);
      expect(idx.map((r) => r.def).some((def) => /USING btree \(session_id, created_at\)$/.test(def))).toBe(true);
      const { rows: checks } = await db.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'messages_partitioned'::regclass AND contype = 'c'`);
      expect(checks[0]!.n).toBe(1);
      const children = await db.query<{ relname: string }>(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'messages_partitioned'::regclass ORDER BY c.relname LIKE '%default', 1`);
      expect(children.rows.map((r) => r.relname)).toContain('messages_default');
      expect(children.rows[0]!.relname).toMatch(strategy === 'plpgsql' ? /^messages_y\d{4}m\d{2}$/ : /^messages_p\d{8}$/);
      // The original is untouched.
      expect(await count(db, 'SELECT count(*)::int AS n FROM messages')).toBe(MESSAGES);
      expect(await relkind(db, 'messages')).toBe('r');
      phase = 'prepped';
    });

    it('fill copies every row in batches; a second fill copies none', async () => {
      await reach('prepped');
      const first = await partkit(db, ['migrate', 'fill', 'messages', '--batch-size', '3000', '--json'], { config });
      expect(first.json).toMatchObject({ rowsCopied: MESSAGES, state: 'filled' });
      // Contiguous heap-block ranges, sized from --batch-size and adapted to the time a batch takes.
      expect(first.json.batches).toBeGreaterThanOrEqual(2);
      // With --json, progress is JSON lines on stderr.
      expect(first.stderr).toMatch(/\{"event":"fill-batch","batch":1,"copied":\d+,"total":\d+,"replayed":\d+,"batchMs":\d+,"rowsPerSecond":\d+,"fraction":[\d.]+,"etaSeconds":\d+\}/);
      expect(first.stderr).toMatch(/heap blocks 0 to/);
      expect(first.json.guarantee).toMatch(/captured and replayed/);
      expect(first.json.complete).toBe(true);
      const second = await partkit(db, ['migrate', 'fill', 'messages', '--batch-size', '3000', '--json'], { config });
      expect(second.json).toMatchObject({ rowsCopied: 0, rowsRead: 0 });
      const events = await partkit(db, ['migrate', 'fill', 'events', '--json'], { config });
      expect(events.json.rowsCopied).toBe(EVENTS);
      expect(await count(db, 'SELECT count(*)::int AS n FROM messages_partitioned')).toBe(MESSAGES);
      expect(await count(db, 'SELECT count(*)::int AS n FROM messages_default')).toBe(0);
      phase = 'filled';
    });

    it('swap copies the rows written since the fill, renames, and warns about the view; provision then adopts the tables', async () => {
      await reach('filled');
      await writeLateRows();
      const dry = await runPartkit(['migrate', 'swap', 'messages', '--dry-run', '--config', config, '--database-url', db.url]);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/BEGIN;[\s\S]*LOCK TABLE public\.messages, public\.messages_partitioned IN ACCESS EXCLUSIVE MODE;[\s\S]*RENAME TO "messages_retired";[\s\S]*COMMIT;/);
      const dryFill = await runPartkit(['migrate', 'fill', 'messages', '--dry-run', '--config', config, '--database-url', db.url]);
      // The fill is complete: as a real fill would, the dry run copies nothing and only replays the captured keys.
      expect(dryFill.exitCode, dryFill.stderr).toBe(0);
      expect(dryFill.stdout).not.toMatch(/copy batch/);
      expect(dryFill.stdout).toMatch(/replay: insert the current rows/);
      expect(await relkind(db, 'messages_retired')).toBeNull();
      const swapped = await partkit(db, ['migrate', 'swap', 'messages', '--lock-timeout', '2s', '--json'], { config });
      expect(swapped.json).toMatchObject({ state: 'swapped' });
      expect(Number(swapped.json.drained) + Number(swapped.json.caughtUp)).toBe(50);
      expect(swapped.json.lockHeldMs).toBeGreaterThanOrEqual(0);
      const events = await partkit(db, ['migrate', 'swap', 'events', '--json'], { config });
      expect(events.json).toMatchObject({ state: 'swapped', views: ['public.recent_events'] });
      expect(Number(events.json.drained) + Number(events.json.caughtUp)).toBe(10);
      // The view was recreated on the new (partitioned) events inside the swap.
      const { rows: reads } = await db.query(`SELECT DISTINCT t.relname, t.relkind::text AS kind FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class t ON t.oid = d.refobjid
         WHERE r.ev_class = 'recent_events'::regclass AND d.refclassid = 'pg_class'::regclass AND t.oid <> 'recent_events'::regclass`);
      expect(reads).toEqual([{ relname: 'events', kind: 'p' }]);
      expect(await relkind(db, 'messages')).toBe('p');
      expect(await relkind(db, 'messages_retired')).toBe('r');
      expect(await relkind(db, 'messages_partitioned')).toBeNull();
      const { rows: comment } = await db.query(`SELECT obj_description('messages'::regclass, 'pg_class') AS c`);
      expect(comment[0]!.c).toBe('chat history');
      // A second swap changes nothing.
      expect((await partkit(db, ['migrate', 'swap', 'messages', '--json'], { config })).json).toMatchObject({ state: 'already swapped', changes: 0 });

      const provisioned = await partkit(db, ['provision', '--scheduler', 'external', '--json'], { config });
      expect(provisioned.json.strategy).toBe(strategy);
      expect((await partkit(db, ['provision', '--scheduler', 'external', '--json'], { config })).json.changes).toBe(0);
      if (strategy === 'partman') {
        expect(await count(db, `SELECT count(*)::int AS n FROM partman.part_config WHERE parent_table IN ('public.messages', 'public.events')`)).toBe(2);
      }
      expect(await count(db, `SELECT count(*)::int AS n FROM partkit.managed_table WHERE parent_table IN ('messages', 'events') AND strategy = $1`, [strategy])).toBe(2);
      phase = 'swapped';
    });

    it('after the swap: same rows, each in its month, indexes present, the identity sequence continues', async () => {
      await reach('swapped');
      expect(await count(db, 'SELECT count(*)::int AS n FROM messages')).toBe(MESSAGES + 50);
      expect(await count(db, 'SELECT count(*)::int AS n FROM messages_retired')).toBe(MESSAGES + 50);
      expect(await count(db, 'SELECT count(*)::int AS n FROM events')).toBe(EVENTS + 10);
      expect(await rowsInWrongMonth(db, 'messages')).toBe(0);
      expect(await rowsInWrongMonth(db, 'events')).toBe(0);
      expect(await count(db, 'SELECT count(*)::int AS n FROM (SELECT * FROM messages EXCEPT SELECT * FROM messages_retired) d')).toBe(0);
      const { rows: idx } = await db.query<{ def: string }>(`SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'messages'::regclass`);
      expect(idx.map((r) => r.def).some((def) => /USING btree \(session_id, created_at\)$/.test(def))).toBe(true);
      const child = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid WHERE i.inhparent = 'messages'::regclass`,
      );
      expect(child.rows[0]!.n).toBeGreaterThan(2 * 19);
      const max = await count(db, 'SELECT max(id)::int AS n FROM events');
      await writeAfterSwap();
      expect(await count(db, `SELECT max(id)::int AS n FROM events WHERE kind = 'after swap'`)).toBeGreaterThan(max);
      phase = 'written after swap';
    });

    it('unswap puts the original back with the rows written since the swap; swap again', async () => {
      await reach('written after swap');
      const undone = await partkit(db, ['migrate', 'unswap', 'events', '--json'], { config });
      expect(undone.json).toMatchObject({ state: 'unswapped' });
      expect(Number(undone.json.drained) + Number(undone.json.caughtUp)).toBe(1);
      expect(await relkind(db, 'events')).toBe('r');
      expect(await relkind(db, 'events_partitioned')).toBe('p');
      expect(await count(db, `SELECT count(*)::int AS n FROM events WHERE kind = 'after swap'`)).toBe(1);
      expect((await partkit(db, ['migrate', 'unswap', 'events', '--json'], { config })).json).toMatchObject({ state: 'not swapped', changes: 0 });
      // The original's identity continues past the rows made in the partitioned table.
      const { rows } = await db.query<{ id: string }>(`INSERT INTO events (kind) VALUES ('after unswap') RETURNING id`);
      expect(Number(rows[0]!.id)).toBeGreaterThan(EVENTS + 11);
      const again = await partkit(db, ['migrate', 'swap', 'events', '--json'], { config });
      expect(again.json).toMatchObject({ state: 'swapped' });
      expect(Number(again.json.drained) + Number(again.json.caughtUp)).toBe(1);
      expect(await count(db, 'SELECT count(*)::int AS n FROM events')).toBe(EVENTS + 12);
      const { rows: next } = await db.query<{ id: string }>(`INSERT INTO events (kind) VALUES ('after second swap') RETURNING id`);
      expect(Number(next[0]!.id)).toBeGreaterThan(Number(rows[0]!.id));

      await partkit(db, ['migrate', 'unswap', 'messages', '--json'], { config });
      expect(await count(db, `SELECT count(*)::int AS n FROM messages WHERE content = 'after swap'`)).toBe(1);
      await partkit(db, ['migrate', 'swap', 'messages', '--json'], { config });
      expect((await partkit(db, ['provision', '--scheduler', 'external', '--json'], { config })).json.changes).toBe(0);
      phase = 'swapped twice';
    });

    it('drop needs --yes, checks a sample of both sides, then drops the original and the capture', async () => {
      await reach('swapped twice');
      const asked = await partkit(db, ['migrate', 'drop', 'messages', '--json'], { config, expectedExit: 2 });
      expect(asked.json).toMatchObject({ state: 'would drop', changes: 0 });
      expect(await relkind(db, 'messages_retired')).toBe('r');
      const dropped = await partkit(db, ['migrate', 'drop', 'messages', '--yes', '--json'], { config });
      expect(dropped.json).toMatchObject({ state: 'dropped', rows: { differing: 0, backlog: 0 } });
      expect(await relkind(db, 'messages_capture')).toBeNull();
      expect(await relkind(db, 'messages_retired')).toBeNull();
      expect((await partkit(db, ['migrate', 'drop', 'messages', '--yes', '--json'], { config })).json).toMatchObject({ state: 'nothing to drop', changes: 0 });

      // The view was moved by the swap, so nothing depends on the original any more.
      await partkit(db, ['migrate', 'drop', 'events', '--yes', '--json'], { config });
      expect(await count(db, 'SELECT count(*)::int AS n FROM recent_events')).toBeGreaterThan(0);
      expect(await relkind(db, 'events_retired')).toBeNull();
      const { rows } = await db.query<{ id: string }>(`INSERT INTO events (kind) VALUES ('after drop') RETURNING id`);
      expect(Number(rows[0]!.id)).toBeGreaterThan(EVENTS + 12);
      expect((await partkit(db, ['provision', '--scheduler', 'external', '--json'], { config })).json.changes).toBe(0);
    });
  });
}

describeTarget('bare18', 'migrate refuses what it cannot move, and changes nothing', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
  });
  afterAll(() => db?.drop());

  async function refused(table: string, pattern: RegExp, exitCode = 4) {
    const before = await count(db, `SELECT count(*)::int AS n FROM pg_class`);
    const result = await runPartkit(['migrate', 'prep', table, '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(exitCode);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr).toMatch(/nothing was changed/);
    expect(await count(db, `SELECT count(*)::int AS n FROM pg_class`)).toBe(before);
  }

  it('a nullable control column', async () => {
    await db.query('CREATE TABLE loose (id bigint PRIMARY KEY, created_at timestamptz)');
    await refused('loose', /public\.loose\.created_at is nullable[\s\S]*SET NOT NULL/);
  });

  it('a foreign key that points at the table, listed', async () => {
    await db.query('CREATE TABLE sessions (id uuid PRIMARY KEY, created_at timestamptz NOT NULL)');
    await db.query('CREATE TABLE notes (id int PRIMARY KEY, session_id uuid REFERENCES sessions (id))');
    await refused('sessions', /Foreign keys point at public\.sessions[\s\S]*public\.notes\.notes_session_id_fkey: FOREIGN KEY \(session_id\) REFERENCES sessions\(id\)/);
  });

  it('a table that is already partitioned', async () => {
    await db.query('CREATE TABLE done (id bigint, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)');
    await refused('done', /public\.done is already partitioned/);
  });

  it('a name whose _partitioned twin would pass 63 bytes', async () => {
    const long = 'a'.repeat(55);
    await db.query(`CREATE TABLE ${long} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL)`);
    // A name too long is exit 2 wherever it is found (IdentifierTooLongError).
    await refused(long, /would be 67 bytes long/, 2);
  });

  it('provision points an unpartitioned table to migrate prep', async () => {
    await db.query('CREATE TABLE messages (id uuid PRIMARY KEY, created_at timestamptz NOT NULL)');
    const result = await runPartkit(['provision', '--database-url', db.url]);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/`partkit migrate prep public\.messages`/);
  });
});

describeTarget('bare18', 'migrate prints next steps that run as printed in a shell, for an adversarial name', () => {
  let db: TestDatabase;
  const sqlName = `"My 'Odd' Schema"."Odd ""Name"" Log"`;
  const oddConfig = path.join(configDir, 'odd.json');
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    await db.query(`CREATE SCHEMA ${sqlName.split('.')[0]}`);
    await db.query(`CREATE TABLE ${sqlName} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL)`);
    await db.query(`INSERT INTO ${sqlName} SELECT g, now() - g * interval '1 day' FROM generate_series(1, 90) g`);
    writeFileSync(oddConfig, JSON.stringify({ tables: [{ name: sqlName }] }));
  });
  afterAll(() => db?.drop());

  const pasted = (line: string) => runPrinted(line, { DATABASE_URL: db.url, PARTKIT_CONFIG: oddConfig });

  function printed(output: string, pattern: RegExp): string {
    const match = pattern.exec(output);
    expect(match, output).not.toBeNull();
    return match![1]!.trim();
  }

  it('prep -> fill -> swap -> drop, each run from the previous one\'s printed hint', async () => {
    const env = { DATABASE_URL: db.url, PARTKIT_CONFIG: oddConfig };
    const prepped = await runPartkit(['migrate', 'prep', sqlName], { env });
    expect(prepped.exitCode, prepped.stderr).toBe(0);
    const fill = printed(prepped.stdout, /^next: (partkit .*)$/m);

    const filled = await pasted(fill);
    expect(filled.exitCode, `${fill}\n${filled.stderr}`).toBe(0);
    expect(await count(db, `SELECT count(*)::int AS n FROM "My 'Odd' Schema"."Odd ""Name"" Log_partitioned"`)).toBe(90);

    const swap = printed(filled.stdout, /^next: (partkit .*)$/m);
    const swapped = await pasted(swap);
    expect(swapped.exitCode, `${swap}\n${swapped.stderr}`).toBe(0);
    expect(await relkind(db, `"My 'Odd' Schema"."Odd ""Name"" Log"`)).toBe('p');

    // drop without --yes: exit 2 and a hint with the command that does it.
    const drop = printed(swapped.stdout, /later: (partkit .*)$/m);
    const asked = await pasted(drop.replace(/ --yes$/, ''));
    expect(asked.exitCode, asked.stderr).toBe(2);
    const confirmed = await pasted(printed(`${asked.stdout}\n${asked.stderr}`, /Run again with --yes to drop it: (partkit .*)$/m));
    expect(confirmed.exitCode, confirmed.stderr).toBe(0);
    expect(await relkind(db, `"My 'Odd' Schema"."Odd ""Name"" Log_retired"`)).toBeNull();
  });

  it('provision and doctor point an unpartitioned table to a migrate prep that runs as printed', async () => {
    await db.query(`CREATE TABLE "My 'Odd' Schema"."Plain ""Old"" Log" (id bigint PRIMARY KEY, created_at timestamptz NOT NULL)`);
    writeFileSync(oddConfig, JSON.stringify({ tables: [{ name: `"My 'Odd' Schema"."Plain ""Old"" Log"` }] }));
    const provisioned = await runPartkit(['provision', '--scheduler', 'external'], { env: { DATABASE_URL: db.url, PARTKIT_CONFIG: oddConfig } });
    expect(provisioned.exitCode).toBe(4);
    const prep = printed(provisioned.stderr, /`(partkit migrate prep [^`]*)`/);
    const doctor = await runPartkit(['doctor'], { env: { DATABASE_URL: db.url, PARTKIT_CONFIG: oddConfig } });
    expect(printed(doctor.stdout, /`(partkit migrate prep [^`]*)`/)).toBe(prep);
    const prepped = await pasted(prep);
    expect(prepped.exitCode, `${prep}\n${prepped.stderr}`).toBe(0);
    expect(await relkind(db, `"My 'Odd' Schema"."Plain ""Old"" Log_partitioned"`)).toBe('p');
  });
});
